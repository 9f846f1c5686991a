"""Real-browser harness: a fake-mic WAV, JupyterLab in a throwaway home, and notebook driving in Chromium.

The pieces, used by ``conftest.py``'s session fixtures:

- ``write_fake_mic(path, segments)`` speaks ``("speech", text)`` / ``("silence", ms)`` segments with the
  project's TTS and writes the 48 kHz 16-bit mono WAV Chromium's fake microphone plays (on a loop, from
  the moment the page opens the device). Returns where each utterance starts and ends.
- ``Lab`` starts ``jupyter lab`` on a free port with a token, every ``JUPYTER_*`` / IPython / home
  directory in a temporary folder (the environment's own ``sys.prefix`` config and data paths stay
  visible, so installed server and lab extensions load), and stops it by its PID.
- ``Notebook7`` is the same for Jupyter Notebook 7 (``python -m notebook``, notebooks at ``/notebooks/``).
- ``NotebookPage`` opens a notebook written with ``Lab.write_notebook`` and runs cells through the
  ``window.jupyterapp`` that ``--LabApp.expose_app_in_browser`` exposes; it reads outputs from the cell
  models rather than the DOM (JupyterLab virtualizes long notebooks) and saves screenshots.

Everything talks to 127.0.0.1 only.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from realtime_nb import audio as au
from realtime_nb.server import whisper_packages as packages

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "browser"
CHROMIUM = os.environ.get("REALTIME_NB_CHROMIUM", "/usr/bin/chromium")
MIC_RATE = 48000

# Verified to work headless as root (docs/architecture.md), plus the fake microphone and autoplay.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-dev-shm-usage",
    "--autoplay-policy=no-user-gesture-required",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
]


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def chromium_args(mic_wav: str | os.PathLike[str]) -> list[str]:
    return [*CHROMIUM_ARGS, f"--use-file-for-fake-audio-capture={os.fspath(mic_wav)}"]


# -- the fake microphone -----------------------------------------------------------------------------

@dataclass(frozen=True)
class MicScript:
    """A fake-mic WAV and where its utterances are, in ms from the start of each loop."""

    path: Path
    utterances: list[tuple[float, float]]
    duration_ms: float


def write_fake_mic(path: str | os.PathLike[str], segments: Sequence[tuple[str, Any]], *,
                   voice: str = "alloy") -> MicScript:
    """Speak ``segments`` (see ``speechgen.make_utterance``) into a 48 kHz mono WAV for Chromium."""
    from speechgen import make_utterance

    pcm24, truth = make_utterance(segments, voice=voice)
    pcm48 = np.clip(np.rint(au.resample(pcm24, au.SAMPLE_RATE, MIC_RATE)), -32768, 32767).astype(np.int16)
    au.write_wav(path, pcm48, MIC_RATE)
    return MicScript(Path(path), truth, len(pcm24) * 1000 / au.SAMPLE_RATE)


# -- JupyterLab ---------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# User settings that keep toasts and update checks out of the screenshots (and off the network).
_LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false", "checkForUpdates": False, "doNotDisturbMode": True},
}


@dataclass
class Lab:
    """A JupyterLab server for tests. ``start()`` blocks until ``/api/status`` answers."""

    home: Path
    env_extra: dict[str, str] = field(default_factory=dict)
    port: int = 0
    token: str = field(default_factory=lambda: secrets.token_hex(16))
    proc: subprocess.Popen[bytes] | None = None

    @property
    def root(self) -> Path:
        return self.home / "notebooks"

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.home / "lab.log"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("JUPYTER", "OPENAI_", "REALTIME_NB_")) and k != "IPYTHONDIR"}
        dirs = {"JUPYTER_CONFIG_DIR": "config", "JUPYTER_DATA_DIR": "data", "JUPYTER_RUNTIME_DIR": "runtime",
                "IPYTHONDIR": "ipython", "JUPYTERLAB_SETTINGS_DIR": "lab-settings",
                "JUPYTERLAB_WORKSPACES_DIR": "lab-workspaces", "HOME": "home", "XDG_CACHE_HOME": "cache"}
        for var, sub in dirs.items():
            env[var] = str(self.home / sub)
        env["JUPYTER_PLATFORM_DIRS"] = "1"
        env["PYTHONUNBUFFERED"] = "1"
        # the joined Whisper base is shared, not joined again (145 MB) in every lab's own cache
        env[packages.CACHE_ENV] = str(packages.cache_dir())
        env.update(self.env_extra)
        return env

    def _prepare(self) -> dict[str, str]:
        env = self.env()
        for var in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR",
                    "JUPYTERLAB_WORKSPACES_DIR", "HOME", "XDG_CACHE_HOME"):
            Path(env[var]).mkdir(parents=True, exist_ok=True)
        for name, value in _LAB_SETTINGS.items():
            path = Path(env["JUPYTERLAB_SETTINGS_DIR"]) / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(value))
        self.root.mkdir(parents=True, exist_ok=True)
        return env

    def config_paths(self) -> list[str]:
        """``jupyter --paths`` as the server sees them (to check installed extensions stay visible)."""
        out = subprocess.run([sys.executable, "-m", "jupyter", "--paths", "--json"], env=self._prepare(),
                             capture_output=True, text=True, check=True, timeout=60).stdout
        return list(json.loads(out)["config"])

    def server_args(self) -> list[str]:
        """The flags every server here gets: loopback only, this port and token, the temp root."""
        return ["--no-browser", "--allow-root",
                "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={self.port}", "--ServerApp.port_retries=0",
                f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={self.root}"]

    def command(self) -> list[str]:
        return [sys.executable, "-m", "jupyterlab", *self.server_args(),
                "--LabApp.expose_app_in_browser=True",
                "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]

    def notebook_path(self, name: str) -> str:
        """Where the browser opens notebook ``name`` (relative to the root)."""
        return f"/lab/tree/{name}?reset"

    def start(self, timeout: float = 90.0) -> Lab:
        env = self._prepare()
        self.port = self.port or free_port()
        cmd = self.command()
        with open(self.log_path, "wb") as log:  # the child keeps its own copy of the descriptor
            self.proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=self.root,
                                         stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{cmd[2]} exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                self.api("GET", "/api/status", timeout=2)
                return self
            except (OSError, urllib.error.URLError):
                time.sleep(0.25)
        self.stop()
        raise RuntimeError(f"{cmd[2]} did not answer /api/status within {timeout:.0f} s:\n{self.log_tail()}")

    def api(self, method: str, path: str, body: Any = None, timeout: float = 10) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(f"{self.origin}{path}", data=data, method=method,
                                     headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw = resp.read()
        return json.loads(raw) if raw else None

    def log_tail(self, n: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        """Shut down cleanly through the API (it stops the kernels), then by PID if need be."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        try:
            self.api("POST", "/api/shutdown", timeout=5)
            proc.wait(15)
        except (OSError, urllib.error.URLError, subprocess.TimeoutExpired):
            pass
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(5)

    def write_notebook(self, name: str, cells: Sequence[str]) -> str:
        """Write a Python notebook of code cells into the lab root; returns its path relative to it."""
        import nbformat

        nb = nbformat.v4.new_notebook()
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nb.cells = [nbformat.v4.new_code_cell(src) for src in cells]
        nbformat.write(nb, self.root / name)
        return name

    def url(self, path: str) -> str:
        sep = "&" if "?" in path else "?"
        return f"{self.origin}{path}{sep}token={self.token}"


@dataclass
class Notebook7(Lab):
    """Jupyter Notebook 7 (the ``notebook`` package) instead of JupyterLab: same home, flags and API.

    Notebook 7 is built on JupyterLab's components and, with ``--JupyterNotebookApp.expose_app_in_browser``,
    exposes the same ``window.jupyterapp`` (its shell's ``currentWidget`` is the open notebook), so
    ``NotebookPage`` drives it unchanged; notebooks open at ``/notebooks/NAME``.
    """

    @property
    def log_path(self) -> Path:
        return self.home / "notebook.log"

    def command(self) -> list[str]:
        return [sys.executable, "-m", "notebook", *self.server_args(),
                "--JupyterNotebookApp.expose_app_in_browser=True"]

    def notebook_path(self, name: str) -> str:
        return f"/notebooks/{name}"


# -- driving a notebook in the page --------------------------------------------------------------------

# Reads cell ``i`` of the current notebook from its model: execution state and outputs as JSON.
_CELL_JS = """([path, i]) => {
  const w = window.jupyterapp.shell.currentWidget;
  if (!w || !w.context || w.context.path !== path) return null;
  const cell = w.content.model.cells.get(i);
  if (!cell) return null;
  return {count: cell.executionCount, state: cell.executionState || null,
          outputs: cell.outputs ? cell.outputs.toJSON() : []};
}"""

_OPENED_JS = """(path) => {
  const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  if (!w || !w.context || w.context.path !== path || !w.sessionContext) return false;
  const k = w.sessionContext.session && w.sessionContext.session.kernel;
  return !!(w.context.isReady && k && k.connectionStatus === 'connected' && k.status === 'idle');
}"""

_RUN_CELL_JS = """([path, i]) => {
  const w = window.jupyterapp.shell.currentWidget;
  if (!w || w.context.path !== path) throw new Error('notebook ' + path + ' is not the current widget');
  w.content.deselectAll();
  w.content.activeCellIndex = i;
  window.jupyterapp.commands.execute('notebook:run-cell');
}"""


def output_text(outputs: list[dict[str, Any]]) -> str:
    """Plain text of a cell's outputs (streams, results, displays, and error tracebacks)."""
    parts: list[str] = []
    for out in outputs:
        kind = out.get("output_type")
        if kind == "stream":
            text = out.get("text", "")
            parts.append(text if isinstance(text, str) else "".join(text))
        elif kind in ("execute_result", "display_data"):
            text = out.get("data", {}).get("text/plain", "")
            parts.append((text if isinstance(text, str) else "".join(text)) + "\n")
        elif kind == "error":
            parts.append(f"{out.get('ename')}: {out.get('evalue')}\n")
    return "".join(parts)


class CellError(AssertionError):
    """A notebook cell raised; the message carries the kernel's traceback."""


class NotebookPage:
    """One notebook open in a Playwright page."""

    def __init__(self, page: Any, lab: Lab, name: str, artifacts: Path = ARTIFACTS) -> None:
        self.page, self.lab, self.name, self.artifacts = page, lab, name, artifacts
        self.console: list[str] = []
        page.on("console", lambda m: self.console.append(f"[{m.type}] {m.text}"))
        self.page_errors: list[str] = []
        page.on("pageerror", self._on_page_error)

    def _on_page_error(self, error: Any) -> None:
        text = f"{error}\n{getattr(error, 'stack', '') or ''}".strip()
        self.page_errors.append(text)
        self.console.append(f"[pageerror] {text}")

    def open(self, timeout: float = 60.0) -> NotebookPage:
        """Load the notebook (``/lab/tree/NAME?reset`` in JupyterLab, ``/notebooks/NAME`` in Notebook 7)
        and wait until its kernel is connected and idle."""
        self.page.goto(self.lab.url(self.lab.notebook_path(self.name)), wait_until="domcontentloaded")
        self.page.wait_for_function(_OPENED_JS, arg=self.name, timeout=timeout * 1000, polling=200)
        return self

    def run_all(self) -> None:
        """Start ``notebook:run-all-cells`` (returns at once; wait on cells with ``wait_cell``)."""
        self.page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")

    def run_cell(self, index: int) -> None:
        self.page.evaluate(_RUN_CELL_JS, [self.name, index])

    def cell(self, index: int) -> dict[str, Any] | None:
        return self.page.evaluate(_CELL_JS, [self.name, index])  # type: ignore[no-any-return]

    def wait_cell(self, index: int, timeout: float = 60.0) -> str:
        """Wait until cell ``index`` has finished; returns its output text, raises ``CellError`` if it failed."""
        deadline = time.monotonic() + timeout
        while True:
            cell = self.cell(index)
            if cell and cell["count"] is not None and cell["state"] != "running":
                break
            if time.monotonic() > deadline:
                self.screenshot(f"timeout-{Path(self.name).stem}-cell{index}")
                raise TimeoutError(f"cell {index} of {self.name} did not finish within {timeout:.0f} s: {cell}")
            self.page.wait_for_timeout(150)
        errors = [o for o in cell["outputs"] if o.get("output_type") == "error"]
        if errors:
            tb = "\n".join(errors[0].get("traceback", []))
            raise CellError(f"cell {index} of {self.name} raised {errors[0].get('ename')}:\n{_strip_ansi(tb)}")
        return output_text(cell["outputs"])

    def run_cell_and_wait(self, index: int, timeout: float = 60.0) -> str:
        self.run_cell(index)
        return self.wait_cell(index, timeout)

    def wait_until(self, predicate: Callable[[], Any], timeout: float, what: str, poll_ms: int = 200) -> Any:
        """Poll ``predicate`` (Python side) until truthy; a screenshot and ``TimeoutError`` otherwise."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                self.screenshot(f"timeout-{Path(self.name).stem}")
                raise TimeoutError(f"{what}: not true within {timeout:.0f} s")
            self.page.wait_for_timeout(poll_ms)

    def screenshot(self, name: str, *, show: str | None = None, element: str | None = None) -> Path:
        """Save ``test-artifacts/browser/NAME.png``: the page (scrolled to ``show`` first), or only ``element``."""
        self.artifacts.mkdir(parents=True, exist_ok=True)
        path = self.artifacts / f"{name}.png"
        if element:
            self.page.locator(element).first.screenshot(path=str(path))
            return path
        if show:
            self.page.locator(show).first.scroll_into_view_if_needed()
        self.page.screenshot(path=str(path))
        return path

    def save_console(self, name: str) -> Path:
        self.artifacts.mkdir(parents=True, exist_ok=True)
        path = self.artifacts / f"{name}.console.log"
        path.write_text("\n".join(self.console) + "\n")
        return path


def _strip_ansi(text: str) -> str:
    import re

    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def copy_log(lab: Lab, artifacts: Path = ARTIFACTS) -> None:
    artifacts.mkdir(parents=True, exist_ok=True)
    if lab.log_path.exists():
        shutil.copyfile(lab.log_path, artifacts / "jupyterlab.log")
