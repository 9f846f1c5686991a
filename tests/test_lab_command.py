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


def _lab_cli() -> list[str]:
    """``realtime-nb`` as the README runs it (the console script), else ``python -m realtime_nb.cli``."""
    script = Path(sys.executable).with_name("realtime-nb")
    return [str(script)] if script.exists() else [sys.executable, "-m", "realtime_nb.cli"]


@pytest.mark.parametrize("dir_args", [[], ["--dir", "nbs"]], ids=["default-dir", "relative-dir"])
def test_lab_from_any_directory_prints_a_working_url(tmp_path, dir_args):
    """`realtime-nb lab` from wherever the user stands: the default (relative) folder, or a relative
    --dir; with no browser, the quickstart's URL with its token is printed and works."""
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp_path / "cfg"), "JUPYTER_RUNTIME_DIR": str(tmp_path / "rt"),
           "JUPYTER_DATA_DIR": str(tmp_path / "data"), "HOME": str(tmp_path / "home")}
    env.pop("OPENAI_API_KEY", None)
    cwd = tmp_path / "somewhere"
    cwd.mkdir()
    proc = subprocess.Popen([*_lab_cli(), "lab", *dir_args, "--no-browser", "--", "--ServerApp.ip=127.0.0.1",
                             "--allow-root"], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=env)
    try:
        lines = [proc.stdout.readline()]
        while not lines[-1].startswith("Open the quickstart: ") and len(lines) < 20 and lines[-1]:
            lines.append(proc.stdout.readline())
        folder = cwd / (dir_args[1] if dir_args else "realtime-nb-notebooks")
        assert f"Opening JupyterLab in {folder};" in lines[0], lines
        assert lines[-1].startswith("Open the quickstart: http://127.0.0.1:"), lines
        url = lines[-1].split(": ", 1)[1].split()[0]
        assert "/lab/tree/01_quickstart.ipynb?token=" in url
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(url, timeout=2) as r:
                    assert r.status == 200
                break
            except OSError:
                assert proc.poll() is None, "".join(lines) + proc.stdout.read()
                assert time.monotonic() < deadline, "JupyterLab did not start"
                time.sleep(0.5)
        base, token = url.split("/lab/", 1)[0], url.rsplit("token=", 1)[1]
        with urllib.request.urlopen(f"{base}/api/contents?token={token}", timeout=5) as r:
            names = {entry["name"] for entry in json.load(r)["content"]}
        assert "01_quickstart.ipynb" in names
        assert (folder / "01_quickstart.ipynb").exists()
    finally:
        proc.terminate()
        proc.wait(20)
