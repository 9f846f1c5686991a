"""`realtime-nb serve` runs the server in the foreground; the SDK talks to it; Ctrl-C stops it."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys

import pytest
from openai import AsyncOpenAI


def test_serve_command_speaks_to_the_sdk():
    proc = subprocess.Popen([sys.executable, "-m", "realtime_nb.cli", "serve", "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        line = proc.stdout.readline()
        m = re.search(r"(ws://127\.0\.0\.1:\d+/v1)", line)
        assert m, f"no URL in {line!r}"

        async def talk() -> str:
            client = AsyncOpenAI(api_key="sk-local", websocket_base_url=m.group(1))
            async with client.realtime.connect(model="gpt-realtime") as conn:
                await conn.session.update(session={"type": "realtime", "output_modalities": ["text"]})
                await conn.conversation.item.create(item={"type": "message", "role": "user",
                                                          "content": [{"type": "input_text", "text": "ping"}]})
                await conn.response.create()
                async for event in conn:
                    if event.type == "response.done":
                        return event.response.output[0].content[0].text
            return ""

        assert asyncio.run(asyncio.wait_for(talk(), 30)) == "You said: ping"
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(10) == 0


def test_serve_reports_a_busy_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        out = subprocess.run([sys.executable, "-m", "realtime_nb.cli", "serve", "--port", str(port)],
                             capture_output=True, text=True, timeout=30)
    assert out.returncode == 1 and f"cannot listen on 127.0.0.1:{port}" in out.stderr


# -- binding beyond loopback (only the argument check runs: nothing here listens on a non-loopback address)
@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "10.0.0.5", "", "myhost.example"])
def test_serve_refuses_a_non_loopback_bind_without_a_key(host, capsys):
    from realtime_nb.cli import main

    assert main(["serve", "--host", host, "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert "refusing to listen" in err and "--api-key" in err and "--insecure" in err


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"])
def test_loopback_binds_need_no_key(host):
    from realtime_nb.cli import is_loopback

    assert is_loopback(host)


@pytest.mark.parametrize("extra", [["--api-key", "sk-k"], ["--insecure"]])
def test_a_non_loopback_bind_with_a_key_or_insecure_goes_ahead_with_a_loud_warning(extra, capsys, monkeypatch):
    from realtime_nb import cli

    made = []

    class NoServer:  # stands in for LocalServer: the check passes, nothing binds
        def __init__(self, host, port, **kw):
            made.append((host, kw))
            raise ValueError("stopped before binding (test)")

    monkeypatch.setattr("realtime_nb.server.LocalServer", NoServer)
    assert cli.main(["serve", "--host", "0.0.0.0", "--port", "0", *extra]) == 2
    err = capsys.readouterr().err
    assert "WARNING" in err and "reachable from other machines" in err
    assert made and made[0][0] == "0.0.0.0"
    assert ("WITHOUT an API key" in err) == (extra == ["--insecure"])


def test_serve_passes_beta_dialect(monkeypatch):
    from realtime_nb import cli

    made = []

    class NoServer:
        def __init__(self, host, port, **kw):
            made.append(kw)
            raise ValueError("stopped before binding (test)")

    monkeypatch.setattr("realtime_nb.server.LocalServer", NoServer)
    cli.main(["serve", "--port", "0", "--beta-dialect"])
    cli.main(["serve", "--port", "0"])
    assert [kw["beta_dialect"] for kw in made] == [True, False]


def test_api_keys_are_compared_in_constant_time(monkeypatch):
    import hmac

    from rtclient import RawClient

    from realtime_nb.server import LocalServer

    calls = []
    real = hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr("realtime_nb.server.secrets.hmac.compare_digest", spy)  # keys are checked there
    with LocalServer(api_key="sk-right") as srv, RawClient(srv.url, headers={"Authorization": "Bearer sk-wrong"}) as c:
        assert c.recv()["error"]["code"] == "invalid_api_key"
    assert calls == [(b"sk-wrong", b"sk-right")]
