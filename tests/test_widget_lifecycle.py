"""The widget follows its session: the views are told when it closes, is lost, reconnects by itself or
gives up; a closed session's errors are short; the quickstart shows the widget once; marimo shows a
session as its widget. Kernel side, with the fake comm of ``test_widget``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import test_widget
from test_widget import FakeBrowser, settle, w_stats, wait_for

import realtime_nb as rt
from realtime_nb.notebook.widget import RealtimeWidget

session = test_widget.session   # the same fixtures: a Session on the local server, a widget with a fake comm
slow_session = test_widget.slow_session
browser = test_widget.browser


# -- the session's end -----------------------------------------------------------------------------

def _closed_msgs(browser: FakeBrowser) -> list[dict[str, Any]]:
    return [c for c, _ in browser.comm.custom("session_closed")]


def test_views_are_told_at_once_when_the_session_closes(server):
    s = rt.connect(url=server.url)
    w = RealtimeWidget(s)
    browser = FakeBrowser(w)
    try:
        browser.ready("v")
        s.close()
        msg = wait_for(lambda: _closed_msgs(browser), 5)[0]
        # the user's own close(): no Reconnect button (s.reconnect() in a cell brings it back)
        assert msg["kind"] == "closed" and msg["reason"] == "Session closed" and msg["can_resume"] is False
        assert "view" not in msg                       # to every view
        wait_for(lambda: w.status == "closed", 5)
        # mic audio after the close goes nowhere, and nothing fails in the kernel
        browser.deliver({"type": "audio", "view": "v", "seq": 1}, [np.ones(960, np.int16).tobytes()])
        settle()
        assert w_stats(browser)["mic_chunks"] == 0
        assert w.last_error == ""
        # a view that renders after the close learns it in its ready reply, and is told only once
        assert browser.ready("late")["closed"]["reason"] == "Session closed"
        settle()
        assert len(_closed_msgs(browser)) == 1
        # s.reconnect() in a cell: the views start again, without a "reconnecting" pill meanwhile
        s.reconnect(timeout=10)
        wait_for(lambda: browser.comm.custom("session_open"), 5)
        wait_for(lambda: w.status == "listening", 5)
        assert not browser.comm.custom("reconnecting") and browser.ready("later")["closed"] is None
    finally:
        w.close()
        s.close()


def test_a_lost_connection_says_so(browser_free_server):
    s = rt.connect(url=browser_free_server.url, reconnect=False)
    w = RealtimeWidget(s)
    browser = FakeBrowser(w)
    try:
        browser.ready("v")
        browser_free_server.stop()                     # the server goes away under the session
        msg = wait_for(lambda: _closed_msgs(browser), 10)[0]
        assert msg["kind"] in ("lost", "expired") and msg["reason"].startswith("Connection lost: "), msg
        assert w.status == "closed"
    finally:
        w.close()
        s.close()


@pytest.fixture
def browser_free_server():
    """A server of the test's own, to stop under a session."""
    from realtime_nb.server import LocalServer

    srv = LocalServer(port=0).start()
    yield srv
    srv.stop()


def test_say_after_close_raises_a_short_error(session, browser):
    import traceback

    browser.ready("v")
    for _ in range(5):   # the widget's mic keeps sending while the session closes
        browser.deliver({"type": "audio", "view": "v", "seq": 1}, [np.zeros(960, np.int16).tobytes()])
    session.close()
    lengths = []
    for _ in range(4):
        with pytest.raises(rt.ConnectionClosed) as info:
            session.say("Are you there?")
        lengths.append(len(traceback.format_exception(info.value)))
    # the same short traceback each time: it does not grow with every call that met the closed session
    assert lengths[0] == lengths[-1] < 15, lengths
    assert "realtime_nb/notebook" not in "".join(traceback.format_exception(info.value))


def test_ping_is_answered_and_a_reconnect_that_fails_says_why(browser_free_server):
    s = rt.connect(url=browser_free_server.url, reconnect=False)
    w = RealtimeWidget(s)
    browser = FakeBrowser(w)
    try:
        browser.ready("v")
        browser.next_id += 1
        browser.deliver({"type": "ping", "view": "v", "id": browser.next_id})
        assert browser.wait_reply("v", browser.next_id, 5) == {"closed": False}
        browser_free_server.stop()                     # gone, and not back
        wait_for(lambda: _closed_msgs(browser), 10)
        browser.next_id += 1
        rid = browser.next_id
        browser.deliver({"type": "reconnect", "view": "v", "id": rid})
        reply = wait_for(lambda: [c for c, _ in browser.comm.custom("reply") if c["id"] == rid], 30)[0]
        assert reply["ok"] is False and "could not reconnect" in reply["error"], reply
        assert s.closed and not browser.comm.custom("session_open") and w.status == "closed"
    finally:
        w.close()
        s.close()


def test_the_reconnect_button_brings_the_conversation_back(browser_free_server):
    """A drop with ``reconnect=False``: the end offers Reconnect; the server comes back on its port; the
    button's request reconnects the very session (``Session.areconnect``), the conversation goes on and
    the view plays the new connection's audio."""
    from realtime_nb.server import LocalServer

    port = browser_free_server.port
    s = rt.connect(url=browser_free_server.url, reconnect=False)
    w = RealtimeWidget(s)
    browser = FakeBrowser(w)
    again = None
    try:
        browser.ready("v")
        s.say("Remember the word lighthouse.")
        browser_free_server.stop()
        msg = wait_for(lambda: _closed_msgs(browser), 10)[0]
        assert msg["kind"] == "lost" and msg["can_resume"] is True   # the button is shown
        wait_for(lambda: w.status == "closed", 5)
        again = LocalServer(port=port).start()
        browser.next_id += 1
        rid = browser.next_id
        browser.deliver({"type": "reconnect", "view": "v", "id": rid})
        assert browser.wait_reply("v", rid, 30) == {"ok": True}
        assert browser.comm.custom("session_open") and not s.closed
        wait_for(lambda: w.status == "listening", 5)
        heard = len(browser.audio_out("v"))
        r = s.say("Back again?")
        assert r.transcript
        items = s.items
        assert len(items) == 4 and list(items["connection"]) == [1, 1, 2, 2]   # the same conversation
        wait_for(lambda: len(browser.audio_out("v")) > heard, 5)  # the new connection's audio reaches the view
        s.close()                                    # and a later close is still seen
        wait_for(lambda: len(_closed_msgs(browser)) == 2, 5)
    finally:
        w.close()
        s.close()
        if again is not None:
            again.stop()


def test_the_quickstart_shows_the_widget_once():
    """Two displays of one widget are two views (the second without audio): the quickstart shows it once."""
    nb = json.loads((Path(__file__).resolve().parent.parent / "notebooks" / "01_quickstart.ipynb").read_text())
    shows = [i for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code"
             and "".join(c["source"]).strip().splitlines()[-1].strip() in ("s", "s.widget", "display(s)",
                                                                            "display(s.widget)")]
    assert len(shows) == 1, shows


MARIMO_APP = '''
import marimo

app = marimo.App()


@app.cell
def _():
    import realtime_nb as rt

    s = rt.connect()
    s
    return (s,)


if __name__ == "__main__":
    app.run()
'''


def test_marimo_shows_a_session_as_its_widget(server, tmp_path):
    """marimo displays a cell's last expression through ``_display_`` (not IPython's mimebundle): a
    session there is its widget. Run headless with ``marimo export html``, which executes the cells."""
    pytest.importorskip("marimo")
    import os
    import subprocess
    import sys

    app = tmp_path / "talk.py"
    app.write_text(MARIMO_APP)
    marimo = Path(sys.executable).with_name("marimo")
    cmd = [str(marimo)] if marimo.exists() else [sys.executable, "-m", "marimo"]
    env = {**os.environ, "REALTIME_NB_URL": server.url, "HOME": str(tmp_path)}
    env.pop("OPENAI_API_KEY", None)
    done = subprocess.run([*cmd, "export", "html", str(app), "-o", str(tmp_path / "out.html")], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    html = (tmp_path / "out.html").read_text()
    assert "marimo-anywidget" in html
    assert "TypeError" not in html and "Traceback" not in html




def test_the_sessions_own_reconnect_is_shown_and_followed(browser_free_server):
    """The session reconnects by itself after a drop (issue 14): the views hear "reconnecting" then
    "reconnected", nothing ends, and a later close of the new connection is still seen at once."""
    from realtime_nb.server import LocalServer

    port = browser_free_server.port
    s = rt.connect(url=browser_free_server.url, reconnect_delays=(0.05, 0.2, 0.5, 1.0, 2.0))
    w = RealtimeWidget(s)
    browser = FakeBrowser(w)
    again = None
    try:
        browser.ready("v")
        browser_free_server.stop()
        again = LocalServer(port=port).start()
        wait_for(lambda: browser.comm.custom("reconnected"), 15)
        assert browser.comm.custom("reconnecting")
        assert not _closed_msgs(browser) and not s.closed
        assert s.say("Still there?").transcript
        s.close()
        msg = wait_for(lambda: _closed_msgs(browser), 5)[0]
        assert msg["kind"] == "closed"
    finally:
        w.close()
        s.close()
        if again is not None:
            again.stop()


def test_a_reconnect_that_gives_up_ends_the_widget(browser_free_server):
    s = rt.connect(url=browser_free_server.url, reconnect_delays=(0.05, 0.05))
    w = RealtimeWidget(s)
    browser = FakeBrowser(w)
    try:
        browser.ready("v")
        browser_free_server.stop()
        msg = wait_for(lambda: _closed_msgs(browser), 15)[0]
        assert msg["kind"] == "lost" and msg["reason"].startswith("Connection lost"), msg
        assert browser.comm.custom("reconnecting")
    finally:
        w.close()
        s.close()
