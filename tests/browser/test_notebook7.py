"""The realtime widget in Jupyter Notebook 7 (the ``notebook`` package), not only in JupyterLab.

Notebook 7 serves its own single-document front end (``/notebooks/NAME``) built from JupyterLab's
components; the widget must render there, become ready and own the audio, stream the fake mic to the
kernel and play a reply. The server is ``labharness.Notebook7`` (same throwaway home, token and
loopback-only flags as the JupyterLab fixture), driven through the ``window.jupyterapp`` that
``--JupyterNotebookApp.expose_app_in_browser`` exposes.
"""

from __future__ import annotations

import importlib.util
import shutil
import time
from collections.abc import Iterator
from typing import Any

import pytest
from labharness import ARTIFACTS, Notebook7, NotebookPage, in_ci

pytestmark = pytest.mark.browser

ROOT = "[data-testid=rtnb-root]"

SETUP = '''
import realtime_nb as rt

s = rt.connect()
s
'''

_DEBUG_JS = """() => {
  const all = window.__realtime_nb_debug || {};
  for (const entry of Object.values(all)) if (entry.owner) return JSON.parse(JSON.stringify(entry.owner));
  return null;
}"""


@pytest.fixture(scope="module")
def nb7(browser_ready: None, rt_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Notebook7]:
    if importlib.util.find_spec("notebook") is None:
        reason = "python package 'notebook' (Notebook 7) not installed (pip install -e '.[dev]')"
        if in_ci():
            pytest.fail(f"browser tests cannot run in CI: {reason}", pytrace=False)
        pytest.skip(reason)
    server = Notebook7(tmp_path_factory.mktemp("nb7"), env_extra={"REALTIME_NB_URL": rt_server.url})
    server.start()
    try:
        yield server
    finally:
        server.stop()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        if server.log_path.exists():
            shutil.copyfile(server.log_path, ARTIFACTS / "notebook7.log")


def _ours(errors: list[str]) -> list[str]:
    """Page errors other than Notebook 7's own startup error: with no widget at all, 7.6.5 (against the
    JupyterLab 4.6 extensions installed here) throws "Cannot read properties of undefined (reading
    'schema')" from its core bundle while loading settings. Everything else counts."""
    def notebook_core_only(e: str) -> bool:
        frames = [line for line in e.splitlines()[1:] if line.strip().startswith("at ")]
        return "reading 'schema'" in e and all("/static/notebook/" in f or "Promise.all" in f for f in frames)
    return [e for e in errors if not notebook_core_only(e)]


def test_widget_in_notebook7(nb7: Notebook7, browser: Any) -> None:
    t0 = time.monotonic()
    nb7.write_notebook("NB.ipynb", [SETUP])
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.grant_permissions(["microphone"], origin=nb7.origin)
    nb = NotebookPage(context.new_page(), nb7, "NB.ipynb")
    try:
        nb.open(60)
        nb.run_all()
        nb.wait_cell(0, timeout=60)
        nb.page.locator(ROOT).first.wait_for(timeout=30_000)
        nb.page.locator(f"{ROOT}[data-ready=true][data-owner=true]").wait_for(timeout=30_000)
        nb.page.locator(f"{ROOT} [data-testid=rtnb-start]").click()

        def debug() -> dict[str, Any]:
            return nb.page.evaluate(_DEBUG_JS) or {}

        nb.wait_until(lambda: debug().get("micChunksSent", 0) > 5, 20, "the widget sends mic chunks")
        nb.wait_until(lambda: sum(debug().get("samplesPlayed", {}).values()) > 0, 30, "the player plays a reply")
        nb.wait_until(lambda: nb.page.locator(f"{ROOT} [data-testid=rtnb-entry][data-kind=assistant]").count(), 10,
                      "the reply is in the transcript")
        nb.screenshot("nb7-widget", show=ROOT)
        nb.screenshot("nb7-widget-only", element=ROOT)
        dbg = debug()
        assert dbg["errors"] == [], dbg
        assert _ours(nb.page_errors) == [], nb.page_errors
        print(f"Notebook 7: widget ready, {dbg['micChunksSent']} mic chunks sent, "
              f"{sum(dbg['samplesPlayed'].values())} samples played in {time.monotonic() - t0:.1f} s")
    except BaseException:
        nb.screenshot("nb7-FAILED")
        raise
    finally:
        nb.save_console("nb7")
        try:
            nb.page.evaluate("() => window.jupyterapp.shell.currentWidget.sessionContext.shutdown()")
        except Exception:
            pass
        context.close()
