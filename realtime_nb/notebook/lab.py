"""``realtime-nb lab``: JupyterLab on the quickstart notebook, talking to the embedded server."""

from __future__ import annotations

import os
import shutil
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


def run_lab(dest: str, *, browser: bool = True, extra: list[str] | None = None) -> int:
    try:
        import jupyterlab  # noqa: F401
    except ImportError:
        print("realtime-nb lab needs JupyterLab: pip install jupyterlab", file=sys.stderr)
        return 1
    target = copy_notebooks(dest)
    first = next(iter(sorted(target.glob("*quickstart*.ipynb"))), None)
    cmd = [sys.executable, "-m", "jupyter", "lab", "--ServerApp.root_dir=" + str(target)]
    if first is not None:
        cmd.append(first.name)
    if not browser:
        cmd.append("--no-browser")
    cmd.extend(extra or [])
    where = "OpenAI (OPENAI_API_KEY is set)" if os.environ.get("OPENAI_API_KEY") else "the embedded local server"
    print(f"Opening JupyterLab in {target}; notebooks talk to {where}.", flush=True)
    if os.name == "posix":
        # Become JupyterLab: a SIGTERM (a supervisor, `kill`, a test's teardown) then reaches it and it
        # shuts its kernels down, instead of leaving an orphaned server behind a dead parent.
        os.chdir(target)
        os.execv(sys.executable, cmd)
    return subprocess.call(cmd, cwd=target)
