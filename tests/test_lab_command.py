"""`realtime-nb lab` copies the example notebooks and serves them with JupyterLab."""

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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_lab_serves_the_quickstart(tmp_path):
    port, token = _free_port(), "labtest"
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp_path / "cfg"), "JUPYTER_RUNTIME_DIR": str(tmp_path / "rt"),
           "JUPYTER_DATA_DIR": str(tmp_path / "data")}
    env.pop("OPENAI_API_KEY", None)
    proc = subprocess.Popen([sys.executable, "-m", "realtime_nb.cli", "lab", "--dir", str(tmp_path / "nbs"),
                             "--no-browser", "--", f"--ServerApp.port={port}", f"--ServerApp.token={token}",
                             "--ServerApp.ip=127.0.0.1", "--allow-root"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        assert "notebooks talk to the embedded local server" in proc.stdout.readline()
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/contents?token={token}", timeout=2) as r:
                    listing = json.load(r)
                break
            except OSError:
                assert time.monotonic() < deadline and proc.poll() is None, "JupyterLab did not start"
                time.sleep(0.5)
        names = {entry["name"] for entry in listing["content"]}
        assert "01_quickstart.ipynb" in names and len(names) >= 6
        assert sorted(p.name for p in (tmp_path / "nbs").glob("*.ipynb"))[0] == "01_quickstart.ipynb"
        # a notebook the user changed is never overwritten
        (tmp_path / "nbs" / "01_quickstart.ipynb").write_text("{}")
        from realtime_nb.notebook.lab import copy_notebooks

        copy_notebooks(tmp_path / "nbs")
        assert Path(tmp_path / "nbs" / "01_quickstart.ipynb").read_text() == "{}"
    finally:
        proc.terminate()
        proc.wait(20)
    # nothing is left listening: the command became JupyterLab, so the SIGTERM reached it
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token={token}", timeout=2)
