"""The widget follows its session and its kernel, and asks before opening the mic (real Chromium).

- Nothing opens the microphone before the user clicks "Start talking": no getUserMedia track at all.
- ``s.close()`` from a cell: every mic track ends (the browser's recording indicator goes off), no mic
  chunk reaches the kernel or the server afterwards, the widget says "Session closed", and a later
  ``s.say()`` raises a short ``ConnectionClosed``.
- The kernel is killed (SIGKILL; Jupyter restarts it): the widget shows it, every track ends, and the
  page logs no uncaught error (it used to throw ``Cannot send`` ~40 times a second).

Every getUserMedia track the page gets is recorded by an init script (``window.__rtnbTracks``), so the
tests read the tracks' ``readyState`` from the browser itself, not from the widget's own counters.
"""

from __future__ import annotations

import os
import signal
import time

import pytest

pytestmark = pytest.mark.browser

ROOT = "[data-testid=rtnb-root]"

TRACK_SPY = """
(() => {
  window.__rtnbTracks = [];
  const md = navigator.mediaDevices;
  if (!md || !md.getUserMedia) return;
  const original = md.getUserMedia.bind(md);
  md.getUserMedia = async (constraints) => {
    const stream = await original(constraints);
    for (const t of stream.getTracks()) window.__rtnbTracks.push(t);
    return stream;
  };
})();
"""

SETUP = '''
import os
import realtime_nb as rt

s = rt.connect()
print("pid", os.getpid())
s
'''

_DEBUG_JS = """() => {
  const all = window.__realtime_nb_debug || {};
  for (const entry of Object.values(all)) if (entry.owner) return JSON.parse(JSON.stringify(entry.owner));
  const any = Object.values(all)[0];
  const view = any && Object.values(any.views)[0];
  return view ? JSON.parse(JSON.stringify(view)) : null;
}"""

_TRACKS_JS = "() => (window.__rtnbTracks || []).map((t) => t.readyState)"


def _debug(nb):
    return nb.page.evaluate(_DEBUG_JS) or {}


def _tracks(nb) -> list[str]:
    return nb.page.evaluate(_TRACKS_JS)  # type: ignore[no-any-return]


def _open(open_notebook, name: str, cells: list[str]):
    nb = open_notebook(name, cells)
    nb.page.add_init_script(TRACK_SPY)
    nb.open()  # again, with the spy in place before any widget code runs
    return nb


def _uncaught(nb) -> list[str]:
    return nb.page_errors + [line for line in nb.console if "Uncaught" in line or "Cannot send" in line]


def test_mic_only_after_start_talking_and_close_stops_every_track(open_notebook, rt_server):
    spy = rt_server.spy
    nb = _open(open_notebook, "lifecycle_close.ipynb", [SETUP, "s.close()", 's.say("Are you still there?")'])
    nb.run_cell_and_wait(0, timeout=60)
    nb.page.locator(f"{ROOT}[data-ready=true][data-owner=true]").wait_for(timeout=30_000)
    start = nb.page.locator(f"{ROOT} [data-testid=rtnb-start]")
    start.wait_for(timeout=10_000)
    nb.page.wait_for_timeout(1500)   # the widget has had time to open the mic, were it to do so unasked
    assert _tracks(nb) == [], "a mic track exists before Start talking"
    assert _debug(nb).get("micChunksSent", 0) == 0
    assert nb.page.locator(ROOT).first.get_attribute("data-status") == "ready"
    nb.screenshot("lifecycle-before-start", element=ROOT)

    start.click()
    nb.wait_until(lambda: _tracks(nb) and all(s == "live" for s in _tracks(nb)), 10, "the mic opens on the click")
    nb.wait_until(lambda: _debug(nb).get("micChunksSent", 0) > 10, 20, "mic chunks flow")
    nb.screenshot("lifecycle-talking", element=ROOT)

    nb.run_cell(1)                    # s.close()
    t0 = time.monotonic()
    nb.wait_until(lambda: all(s == "ended" for s in _tracks(nb)), 5, "every mic track ends after s.close()",
                  poll_ms=50)
    ended_after = time.monotonic() - t0
    nb.wait_cell(1, timeout=30)
    end = nb.page.locator(f"{ROOT} [data-testid=rtnb-end]")
    end.wait_for(timeout=5_000)
    assert "Session closed" in end.inner_text()
    assert nb.page.locator(ROOT).first.get_attribute("data-status") == "closed"
    for testid in ("rtnb-start", "rtnb-mic-button", "rtnb-mute", "rtnb-ptt"):
        assert not nb.page.locator(f"{ROOT} [data-testid={testid}]").is_visible(), testid
    assert nb.page.locator(f"{ROOT} [data-testid=rtnb-reconnect]").is_hidden()  # closed by the user: no button
    nb.screenshot("lifecycle-closed", element=ROOT)

    # nothing more leaves the page or reaches the server
    sent, appends = _debug(nb).get("micChunksSent", 0), sum(spy.appends.values())
    nb.page.wait_for_timeout(1500)
    assert _debug(nb).get("micChunksSent", 0) == sent
    assert sum(spy.appends.values()) == appends

    # a later say() is a short, clear error
    with pytest.raises(Exception) as info:
        nb.run_cell_and_wait(2, timeout=30)
    text = str(info.value)
    assert "ConnectionClosed" in text and len(text.splitlines()) < 25, text
    assert "realtime_nb/notebook" not in text
    assert _uncaught(nb) == [], _uncaught(nb)
    print(f"tracks ended {ended_after * 1000:.0f} ms after the close cell started")


def test_a_killed_kernel_ends_the_widget_quietly(open_notebook):
    nb = _open(open_notebook, "lifecycle_kill.ipynb", [SETUP])
    out = nb.run_cell_and_wait(0, timeout=60)
    pid = int(out.split("pid", 1)[1].split()[0])
    nb.page.locator(f"{ROOT}[data-ready=true][data-owner=true]").wait_for(timeout=30_000)
    nb.page.locator(f"{ROOT} [data-testid=rtnb-start]").click()
    nb.wait_until(lambda: _debug(nb).get("micChunksSent", 0) > 10, 20, "mic chunks flow")
    assert _tracks(nb) and all(s == "live" for s in _tracks(nb))

    os.kill(pid, signal.SIGKILL)
    t0 = time.monotonic()
    nb.wait_until(lambda: all(s == "ended" for s in _tracks(nb)), 5, "every mic track ends when the kernel dies",
                  poll_ms=50)
    ended_after = time.monotonic() - t0
    end = nb.page.locator(f"{ROOT} [data-testid=rtnb-end]")
    end.wait_for(timeout=5_000)
    assert nb.page.locator(ROOT).first.get_attribute("data-status") == "error"
    assert "Connection lost" in end.inner_text() or "Kernel restarted" in end.inner_text(), end.inner_text()
    nb.screenshot("lifecycle-kernel-killed", element=ROOT)
    # Jupyter restarts the kernel: the widget then says to run the cell again
    nb.wait_until(lambda: "Kernel restarted" in end.inner_text(), 20, "the widget says the kernel restarted")
    sent = _debug(nb).get("micChunksSent", 0)
    nb.page.wait_for_timeout(2000)    # a dead widget neither sends nor throws
    assert _debug(nb).get("micChunksSent", 0) == sent
    nb.screenshot("lifecycle-kernel-restarted", element=ROOT)
    assert _uncaught(nb) == [], _uncaught(nb)
    print(f"tracks ended {ended_after * 1000:.0f} ms after SIGKILL")
