"""Session fixtures for the real-browser tests: fake mic, local server, JupyterLab, Chromium.

Chromium is Debian's ``/usr/bin/chromium`` (never a Playwright download). Without it, or without the
``playwright`` / ``jupyterlab`` packages, these tests are skipped with the reason — except under
``CI=true``, where a missing piece fails them: CI must run them.

Deselect them locally with ``-m "not browser"``; screenshots, console logs and the JupyterLab log land in
``test-artifacts/browser/``.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import threading
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from labharness import ARTIFACTS, CHROMIUM, Lab, MicScript, NotebookPage, chromium_args, copy_log, in_ci, write_fake_mic

# The looping fake-mic recording (~15 s): a question answered in full, then a question interrupted by a
# third utterance that starts while the reply to the second is playing (barge-in), then a long pause.
MIC_SEGMENTS = [
    ("silence", 300), ("speech", "Hello, can you hear me?"),
    ("silence", 4500), ("speech", "Tell me a story about the sea."),
    ("silence", 1100), ("speech", "Wait, stop please."),
    ("silence", 4500),
]


def _missing() -> str | None:
    if not os.path.exists(CHROMIUM):
        return f"{CHROMIUM} not found (apt-get install -y chromium; .ci/run does it)"
    for module in ("playwright", "jupyterlab", "nbformat"):
        if importlib.util.find_spec(module) is None:
            return f"python package {module!r} not installed (pip install -e '.[dev]')"
    return None


@pytest.fixture(scope="session")
def browser_ready() -> None:
    """Skip (locally) or fail (CI) when the browser stack is missing."""
    reason = _missing()
    if reason:
        if in_ci():
            pytest.fail(f"browser tests cannot run in CI: {reason}", pytrace=False)
        pytest.skip(reason)


@pytest.fixture(scope="session")
def mic_script(browser_ready: None, tmp_path_factory: pytest.TempPathFactory) -> MicScript:
    return write_fake_mic(tmp_path_factory.mktemp("mic") / "speech48k.wav", MIC_SEGMENTS)


class ServerSpy:
    """What the local server received and streamed, per connection (engine), from inside the server.

    Wraps ``Engine.receive`` / ``Engine.on_output_audio`` for engines of one ``LocalServer`` only.
    """

    def __init__(self, server: Any) -> None:
        self.server = server
        self.lock = threading.Lock()
        self.received: dict[int, list[dict[str, Any]]] = defaultdict(list)   # non-append client events
        self.appended_bytes: Counter[int] = Counter()
        self.appends: Counter[int] = Counter()
        self.replies: dict[int, list[dict[str, Any]]] = defaultdict(list)    # direct replies (errors...)
        self.audio_out: Counter[str] = Counter()                              # samples streamed per item

    def install(self) -> Any:
        from realtime_nb.server.engine import Engine

        spy, receive, on_audio = self, Engine.receive, Engine.on_output_audio

        def spying_receive(engine: Any, event: dict[str, Any]) -> list[dict[str, Any]]:
            out = receive(engine, event)
            if engine in spy.server.engines:
                key = id(engine)
                with spy.lock:
                    if event.get("type") == "input_audio_buffer.append":
                        spy.appends[key] += 1
                        spy.appended_bytes[key] += len(event.get("audio", "")) * 3 // 4
                    else:
                        spy.received[key].append({k: v for k, v in event.items() if k != "audio"})
                    spy.replies[key].extend({k: v for k, v in e.items() if k != "delta"} for e in out)
            return out

        def spying_audio(engine: Any, item_id: str, pcm: Any, *, in_band: bool) -> None:
            on_audio(engine, item_id, pcm, in_band=in_band)
            if engine in spy.server.engines:
                with spy.lock:
                    spy.audio_out[item_id] += len(pcm)

        return mock.patch.multiple(Engine, receive=spying_receive, on_output_audio=spying_audio)

    def of_type(self, type_: str) -> list[dict[str, Any]]:
        with self.lock:
            return [e for events in self.received.values() for e in events if e.get("type") == type_]

    def errors(self) -> list[dict[str, Any]]:
        with self.lock:
            return [e for events in self.replies.values() for e in events if e.get("type") == "error"]


@pytest.fixture(scope="session")
def rt_server(browser_ready: None) -> Iterator[Any]:
    """A local Realtime server streaming at real-time pace (so barge-in can interrupt), with ``.spy``."""
    from realtime_nb.server import LocalServer

    server = LocalServer(port=0, pace="realtime")
    server.spy = ServerSpy(server)  # type: ignore[attr-defined]
    with server.spy.install(), server:  # type: ignore[attr-defined]
        yield server


@pytest.fixture(scope="session")
def lab(browser_ready: None, rt_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """JupyterLab on a free port; its kernels see ``REALTIME_NB_URL`` = the local server."""
    lab = Lab(tmp_path_factory.mktemp("lab"), env_extra={"REALTIME_NB_URL": rt_server.url})
    config = lab.config_paths()
    # The package's server extension is enabled by a file under sys.prefix/etc/jupyter: keep it visible.
    assert os.path.join(sys.prefix, "etc", "jupyter") in config, config
    lab.start()
    try:
        yield lab
    finally:
        lab.stop()
        copy_log(lab)


@pytest.fixture(scope="module")
def browser(browser_ready: None, mic_script: MicScript) -> Iterator[Any]:
    """Chromium with the fake mic. Module-scoped on purpose: Playwright's sync API keeps an asyncio loop
    marked as running in the main thread while it is open, which breaks ``asyncio.run`` in later tests."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                     args=chromium_args(mic_script.path))
        try:
            yield browser
        finally:
            browser.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture
def open_notebook(request: pytest.FixtureRequest, lab: Lab, browser: Any) -> Iterator[Any]:
    """``open_notebook(name, cells)``: write the notebook, open it in a fresh page, return a NotebookPage.

    The page's context has the microphone permission for the lab's origin. On failure a screenshot is
    saved; the console log always is.
    """
    pages: list[NotebookPage] = []
    contexts: list[Any] = []

    def opener(name: str, cells: list[str], *, timeout: float = 60.0) -> NotebookPage:
        lab.write_notebook(name, cells)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.grant_permissions(["microphone"], origin=lab.origin)
        contexts.append(context)
        nb = NotebookPage(context.new_page(), lab, name)
        pages.append(nb)
        return nb.open(timeout)

    yield opener
    test = request.node.name
    failed = getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed
    for i, nb in enumerate(pages):
        suffix = f"-{i}" if i else ""
        if failed:
            try:
                nb.screenshot(f"FAILED-{test}{suffix}")
            except Exception as exc:  # the page may be gone; the failure itself matters more
                print(f"could not take the failure screenshot: {exc}")
        nb.save_console(f"{test}{suffix}")
        try:  # shut the kernel down so the next notebook starts from a quiet server
            nb.page.evaluate("() => window.jupyterapp.shell.currentWidget.sessionContext.shutdown()")
        except Exception:
            pass
    for context in contexts:
        context.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
