"""`realtime-nb serve` runs the server in the foreground; the SDK talks to it; Ctrl-C stops it."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys

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
