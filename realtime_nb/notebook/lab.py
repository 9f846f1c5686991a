"""``realtime-nb lab``: JupyterLab on the quickstart notebook, talking to the embedded server."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
from pathlib import Path


def notebooks_source() -> Path:
    """The example notebooks: ``notebooks/`` of a source checkout, else the copy inside the wheel."""
    package = Path(__file__).resolve().parent.parent  # realtime_nb/
    for candidate in (package.parent / "notebooks", package / "_notebooks"):
        if candidate.is_dir() and any(candidate.glob("*.ipynb")):
            return candidate
    raise FileNotFoundError("the example notebooks are not installed with this copy of realtime-nb")


def copy_notebooks(dest: str | os.PathLike[str]) -> Path:
    """Copy the example notebooks into ``dest`` without overwriting ones the user changed."""
    target = Path(dest)
    target.mkdir(parents=True, exist_ok=True)
    for nb in sorted(notebooks_source().glob("*.ipynb")):
        if not (target / nb.name).exists():
            shutil.copy2(nb, target / nb.name)
    return target


def _option(extra: list[str], *names: str) -> str | None:
    """The value of a JupyterLab option among ``extra`` (``--name=value`` or ``--name value``)."""
    for i, arg in enumerate(extra):
        for name in names:
            if arg.startswith(name + "="):
                return arg.split("=", 1)[1]
            if arg == name and i + 1 < len(extra):
                return extra[i + 1]
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def lab_command(dest: str | os.PathLike[str], *, browser: bool = True,
                extra: list[str] | None = None) -> tuple[list[str], Path, str]:
    """The JupyterLab command line, the notebooks' folder (absolute) and the quickstart's URL with its
    token. The port and the token are chosen here unless ``extra`` sets them, so the URL is known
    before JupyterLab starts."""
    extra = list(extra or [])
    # absolute before anything changes directory: JupyterLab resolves a relative root_dir against its
    # own working directory, which is that very folder
    target = copy_notebooks(dest).resolve()
    first = next(iter(sorted(target.glob("*quickstart*.ipynb"))), None)
    cmd = [sys.executable, "-m", "jupyter", "lab", "--ServerApp.root_dir=" + str(target)]
    token = _option(extra, "--ServerApp.token", "--IdentityProvider.token", "--token")
    if token is None:
        token = secrets.token_hex(24)
        cmd.append(f"--IdentityProvider.token={token}")
    port = _option(extra, "--ServerApp.port", "--port")
    if port is None:
        port = str(_free_port())
        cmd.append(f"--ServerApp.port={port}")
    host = _option(extra, "--ServerApp.ip", "--ip") or "localhost"
    if host in ("0.0.0.0", "::", ""):
        host = "localhost"
    if first is not None:
        cmd.append(first.name)
    if not browser:
        cmd.append("--no-browser")
    cmd.extend(extra)
    path = f"/lab/tree/{first.name}" if first is not None else "/lab"
    return cmd, target, f"http://{host}:{port}{path}?token={token}"


def run_lab(dest: str, *, browser: bool = True, extra: list[str] | None = None) -> int:
    """Copy the example notebooks into ``dest`` and become JupyterLab on the quickstart."""
    try:
        import jupyterlab  # noqa: F401
    except ImportError:
        print("realtime-nb lab needs JupyterLab: pip install jupyterlab", file=sys.stderr)
        return 1
    cmd, target, url = lab_command(dest, browser=browser, extra=extra)
    where = "OpenAI (OPENAI_API_KEY is set)" if os.environ.get("OPENAI_API_KEY") else "the embedded local server"
    print(f"Opening JupyterLab in {target}; notebooks talk to {where}.", flush=True)
    # JupyterLab's own banner scrolls away in its log; without a browser this is the line to click
    print(f"Open the quickstart: {url}" + ("" if browser else " (no browser was started)"), flush=True)
    if os.name == "posix":
        # Become JupyterLab: a SIGTERM (a supervisor, `kill`, a test's teardown) then reaches it and it
        # shuts its kernels down, instead of leaving an orphaned server behind a dead parent.
        os.chdir(target)
        os.execv(sys.executable, cmd)
    return subprocess.call(cmd, cwd=target)
