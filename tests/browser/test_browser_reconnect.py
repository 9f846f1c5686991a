"""The widget's Reconnect button in a real browser (JupyterLab + Chromium), against a real local server.

The session talks to its own ``LocalServer`` (this test process, a free port). The server is stopped: the
session tries to reconnect by itself, gives up, and the widget shows the end — "Connection lost" with a
Reconnect button (the session can go on: the user did not close it). The server starts again on the same
port; a click on Reconnect connects the session again: the widget is live (no end state, the pill not
closed), the conversation shown before is still there, and a typed turn gets its answer, spoken — from
the new server, which got the conversation replayed.
"""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.browser

ROOT = "[data-testid=rtnb-root]"


def _setup(url: str) -> str:
    return f'''
import json
import realtime_nb as rt

s = rt.connect(url={url!r})
s
'''


# samples of an item the view's player played (the view's own counters, js/debug.js)
_PLAYED_JS = "(item) => document.querySelector('[data-testid=rtnb-root]').__rtnb.samplesPlayed[item] || 0"
STATE = 'print(json.dumps({"closed": s.closed, "connections": [int(c) for c in s.items["connection"]]}))'


def _entries(nb, kind: str) -> list[tuple[str | None, str]]:
    rows = nb.page.locator(f"{ROOT} [data-testid=rtnb-entry][data-kind={kind}]")
    return [(rows.nth(i).get_attribute("data-item-id"),
             rows.nth(i).locator("[data-testid=rtnb-entry-text]").inner_text()) for i in range(rows.count())]


def _type(nb, text: str) -> None:
    box = nb.page.locator(f"{ROOT} [data-testid=rtnb-text-input]")
    box.fill(text)
    box.press("Enter")


def _said(nb, text: str) -> bool:
    return any(f"You said: {text}" in t for _, t in _entries(nb, "assistant"))


def _state(nb, index: int) -> dict:
    out = nb.run_cell_and_wait(index, timeout=30)
    return json.loads(next(line for line in out.splitlines() if line.startswith("{")))  # type: ignore[no-any-return]


def test_reconnect_after_the_server_went_away(open_notebook):
    from realtime_nb.server import LocalServer

    server = LocalServer(port=0).start()
    running = [server]
    try:
        port = server.port
        nb = open_notebook("reconnect.ipynb", [_setup(server.url), STATE])
        nb.run_cell_and_wait(0, timeout=60)
        root = nb.page.locator(ROOT).first
        nb.page.locator(f"{ROOT}[data-ready=true][data-owner=true]").wait_for(timeout=30_000)

        _type(nb, "Hello before the outage")
        nb.wait_until(lambda: _said(nb, "Hello before the outage"), 20, "the first turn is answered")
        before = _entries(nb, "user") + _entries(nb, "assistant")
        assert len(before) == 2 and all(item for item, _ in before), before

        running.remove(server)
        server.stop()  # the session retries by itself (~8 s of attempts), then gives up
        end = nb.page.locator(f"{ROOT} [data-testid=rtnb-end]")
        end.wait_for(timeout=60_000)
        assert "Connection lost" in end.inner_text(), end.inner_text()
        assert root.get_attribute("data-ended") == "lost"
        reconnect = nb.page.locator(f"{ROOT} [data-testid=rtnb-reconnect]")
        assert reconnect.is_visible() and reconnect.is_enabled()
        assert nb.page.locator(f"{ROOT} [data-testid=rtnb-text-input]").is_disabled()
        nb.screenshot("reconnect-ended", element=ROOT)

        running.append(LocalServer(port=port).start())
        reconnect.click()
        nb.wait_until(lambda: root.get_attribute("data-ended") is None, 30, "the widget is live again")
        end.wait_for(state="hidden", timeout=5_000)
        nb.wait_until(lambda: root.get_attribute("data-status") not in ("closed", "error", "reconnecting"), 10,
                      "the pill leaves the end state")
        assert nb.page.locator(f"{ROOT} [data-testid=rtnb-text-input]").is_enabled()
        assert nb.page.locator(f"{ROOT} [data-testid=rtnb-start]").is_visible()  # the mic closed until asked
        kept = _entries(nb, "user") + _entries(nb, "assistant")
        assert all(entry in kept for entry in before), (before, kept)  # the conversation is still shown

        _type(nb, "Hello after the outage")
        nb.wait_until(lambda: _said(nb, "Hello after the outage"), 20, "a typed turn is answered after Reconnect")
        assert all(entry in _entries(nb, "user") + _entries(nb, "assistant") for entry in before)
        item = next(i for i, t in _entries(nb, "assistant") if "Hello after the outage" in t)
        nb.wait_until(lambda: nb.page.evaluate(_PLAYED_JS, item) > 0, 20, "the new reply is played")
        assert root.get_attribute("data-status") not in ("closed", "error")
        nb.screenshot("reconnect-live-again", element=ROOT)

        state = _state(nb, 1)
        assert state["closed"] is False
        # the first turn's two items from connection 1 (replayed onto connection 2), the new turn's from 2
        assert state["connections"][:2] == [1, 1] and state["connections"][-2:] == [2, 2], state
        assert nb.page_errors == [], nb.page_errors
    finally:
        for srv in running:
            srv.stop()
