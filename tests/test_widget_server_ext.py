"""The Jupyter server extension that sets TCP_NODELAY on kernel websockets (realtime_nb.notebook._jupyter_server_ext).

A real ``jupyter server`` on a free port, with its config, data and runtime directories in a temp
folder: the extension loads, a kernel websocket connects, and the server reports the socket option
it read back from that connection.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from realtime_nb.notebook import _jupyter_server_ext as ext

pytest.importorskip("jupyter_server")

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "jupyter-config" / "jupyter_server_config.d" / "realtime_nb.json"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER")}
    env.update(JUPYTER_CONFIG_DIR=str(tmp / "config"), JUPYTER_DATA_DIR=str(tmp / "data"),
               JUPYTER_RUNTIME_DIR=str(tmp / "runtime"), JUPYTER_PLATFORM_DIRS="1",
               NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost")
    for key in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        env.pop(key, None)
    return env


def test_extension_points_and_config_file():
    assert ext._jupyter_server_extension_points() == [{"module": "realtime_nb.notebook._jupyter_server_ext"}]
    config = json.loads(CONFIG.read_text())
    assert config == {"ServerApp": {"jpserver_extensions": {"realtime_nb.notebook._jupyter_server_ext": True}}}
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert '"etc/jupyter/jupyter_server_config.d/realtime_nb.json"' in pyproject  # shipped as shared data


def test_patch_is_idempotent():
    from jupyter_server.services.kernels.websocket import KernelWebsocketHandler

    ext.patch_kernel_websocket()
    wrapped = KernelWebsocketHandler.open
    assert ext.patch_kernel_websocket() is False
    assert KernelWebsocketHandler.open is wrapped


def test_enabled_on_install():
    """With the package installed (``pip install -e .`` too), the shared-data config enables it."""
    installed = Path(sys.prefix) / "etc" / "jupyter" / "jupyter_server_config.d" / "realtime_nb.json"
    if not installed.exists():
        pytest.skip(f"realtime-nb's jupyter config is not installed in {sys.prefix} (run pip install .)")
    out = subprocess.run([sys.executable, "-m", "jupyter", "server", "extension", "list"], capture_output=True,
                         text=True, timeout=120, env=_env(Path("/nonexistent-realtime-nb")))
    text = out.stdout + out.stderr
    line = next((ln for ln in text.splitlines() if "realtime_nb.notebook._jupyter_server_ext" in ln), "")
    assert "enabled" in line, text
    assert "realtime_nb.notebook._jupyter_server_ext" in text.split("Validating")[-1] or " OK" in text, text


@pytest.mark.slow
def test_loads_in_a_real_server_and_sets_nodelay_on_kernel_websockets(tmp_path):
    pytest.importorskip("ipykernel")
    from websockets.sync.client import connect

    port = _free_port()
    token = "realtime-nb-test"
    (tmp_path / "root").mkdir()
    log_path = tmp_path / "server.log"
    cmd = [sys.executable, "-m", "jupyter_server", "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1",
           f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={tmp_path / 'root'}",
           "--ServerApp.log_level=DEBUG",
           "--ServerApp.jpserver_extensions={'realtime_nb.notebook._jupyter_server_ext': True}",
           "--allow-root"]
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=_env(tmp_path), cwd=tmp_path)
    base = f"http://127.0.0.1:{port}"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    kernel_id = None
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                opener.open(f"{base}/api/status?token={token}", timeout=2).read()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"jupyter server did not start:\n{log_path.read_text()[-3000:]}")
                time.sleep(0.2)
        text = log_path.read_text()
        assert "realtime_nb.notebook._jupyter_server_ext | extension was successfully loaded" in text, text[-3000:]
        assert "realtime-nb: TCP_NODELAY on kernel websockets enabled" in text

        req = urllib.request.Request(f"{base}/api/kernels?token={token}", data=b"{}", method="POST",
                                     headers={"Content-Type": "application/json"})
        kernel_id = json.loads(opener.open(req, timeout=30).read())["id"]
        with connect(f"ws://127.0.0.1:{port}/api/kernels/{kernel_id}/channels?token={token}",
                     open_timeout=30, proxy=None) as ws:
            ws.send(json.dumps({"header": {"msg_id": "1", "msg_type": "kernel_info_request", "username": "t",
                                           "session": "s", "version": "5.3", "date": ""},
                                "parent_header": {}, "metadata": {}, "content": {}, "channel": "shell"}))
            deadline = time.monotonic() + 30
            while "kernel_info_reply" not in ws.recv(timeout=30):
                assert time.monotonic() < deadline
        wanted = f"realtime-nb: TCP_NODELAY=1 on kernel websocket {kernel_id}"
        deadline = time.monotonic() + 10
        while wanted not in log_path.read_text():
            assert time.monotonic() < deadline, log_path.read_text()[-3000:]
            time.sleep(0.1)
    finally:
        if kernel_id is not None:
            try:
                opener.open(urllib.request.Request(f"{base}/api/kernels/{kernel_id}?token={token}",
                                                   method="DELETE"), timeout=10)
            except OSError:
                pass
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
