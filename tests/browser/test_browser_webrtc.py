"""The widget on the webrtc transport, for real: JupyterLab + Chromium with the fake mic, ``transport="webrtc"``.

Start talking builds the peer connection in the page; its offer goes to the kernel over the comm, the
kernel posts it to the local server's ``/v1/realtime/calls`` with its own key and moves the ``Session``
onto the call's sideband. The fake mic (``conftest.MIC_SEGMENTS``) asks a question — answered on the
remote track —, then another that a third utterance interrupts: the server cuts its voice
(``output_audio_buffer.cleared``) and truncates, and the transcript shows the cut. **No audio passes
through the kernel**: it sends no ``input_audio_buffer.append`` and receives no audio delta (counted in
``s.events``, by the widget's bridge and by the server), while ``s.items`` holds the turns. Stopping the
mic hangs up; the session is then back on its own connection with the conversation, and a typed turn
works there. Chromium runs with ``--allow-loopback-in-peer-connection`` (the server offers 127.0.0.1 only).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from labharness import CHROMIUM, chromium_args

pytestmark = pytest.mark.browser
pytest.importorskip("aiortc")

SETUP = '''
import json
import realtime_nb as rt

s = rt.connect()
w = s.widget
w.transport = "webrtc"
w.mic_constraints = {"echoCancellation": False, "noiseSuppression": False, "autoGainControl": False}
w
'''

SUMMARY = '''
ev = s.events
items = s.items
print(json.dumps({
    "url": s.url,
    "sent": ev[ev.direction == "sent"].type.value_counts().to_dict(),
    "received": ev[ev.direction == "received"].type.value_counts().to_dict(),
    "errors": ev[ev.type == "error"][["type", "error_code"]].to_dict("records"),
    "items": items[["item_id", "role", "text", "truncated_at_ms"]].to_dict("records"),
    "stats": {k: v for k, v in w.stats().items() if k in ("mic_chunks", "audio_messages", "received", "call_id",
                                                          "calls", "truncates")},
}, default=str))
'''

TYPED = '''
import time
t = time.monotonic()
while "call_id=" in s.url and time.monotonic() - t < 15:  # the hang-up takes the session home
    time.sleep(0.05)
r = s.say("Are you still there?")
print(json.dumps({"url": s.url, "transcript": r.transcript, "text": r.text, "items": len(s.items)}))
'''

ROOT = "[data-testid=rtnb-root]"
_DEBUG_JS = """() => {
  const all = window.__realtime_nb_debug || {};
  for (const entry of Object.values(all)) if (entry.owner) return JSON.parse(JSON.stringify(entry.owner));
  return null;
}"""


@pytest.fixture(scope="module")
def browser(browser_ready: None, mic_script: Any) -> Iterator[Any]:
    """Chromium with the fake mic that may use loopback ICE candidates (overrides conftest's ``browser``)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                     args=[*chromium_args(mic_script.path), "--allow-loopback-in-peer-connection"])
        try:
            yield browser
        finally:
            browser.close()


def _debug(nb: Any) -> dict[str, Any]:
    return nb.page.evaluate(_DEBUG_JS) or {}


def test_webrtc_transport_talks_without_audio_through_the_kernel(open_notebook: Any, rt_server: Any) -> None:
    spy = rt_server.spy
    appends0 = sum(spy.appends.values())
    t0 = time.monotonic()
    nb = open_notebook("widget_webrtc.ipynb", [SETUP, SUMMARY, TYPED])
    nb.run_cell_and_wait(0, timeout=60)
    root = nb.page.locator(ROOT).first
    nb.page.locator(f"{ROOT}[data-ready=true][data-owner=true]").wait_for(timeout=30_000)
    assert root.get_attribute("data-transport") == "webrtc"
    assert nb.page.locator(f"{ROOT} [data-testid=rtnb-transport]").inner_text() == "WebRTC"
    nb.page.locator(f"{ROOT} [data-testid=rtnb-start]").click()

    nb.wait_until(lambda: (_debug(nb).get("rtc") or {}).get("state") == "connected", 20,
                  "the widget's peer connection connects")
    assert _debug(nb).get("rtc", {}).get("callId", "").startswith("rtc_")
    nb.wait_until(lambda: root.get_attribute("data-status") == "user_speaking", 20, "the pill shows the user speaking")
    # a spoken turn answered on the remote track
    nb.wait_until(lambda: (_debug(nb).get("rtc") or {}).get("voiceMs", 0) > 500, 40,
                  "the reply plays from the remote track")
    nb.wait_until(lambda: "speaking" in [state for _, state in _debug(nb).get("statusHistory", [])], 10,
                  f"the pill shows the assistant speaking {_debug(nb).get('statusHistory')}")
    nb.screenshot("webrtc-assistant-speaking", element=ROOT)
    # the barge-in: the server cuts its voice and truncates; the transcript marks the cut
    nb.wait_until(lambda: nb.page.locator(f"{ROOT} [data-truncated]").count() > 0, 45,
                  "the transcript marks where the reply was cut")
    assistant = nb.page.locator(f"{ROOT} [data-testid=rtnb-entry][data-kind=assistant]")
    nb.wait_until(lambda: assistant.count() >= 3 and root.get_attribute("data-status") == "listening", 30,
                  "the reply after the barge-in plays and the widget listens again")
    nb.screenshot("webrtc-after-barge-in", element=ROOT)

    summary = json.loads(nb.run_cell_and_wait(1, timeout=30))
    dbg = _debug(nb)
    # the session is the call's sideband, and saw the call
    assert "call_id=" in summary["url"], summary["url"]
    received, sent = summary["received"], summary["sent"]
    for kind in ("input_audio_buffer.speech_started", "output_audio_buffer.started", "output_audio_buffer.cleared",
                 "conversation.item.truncated", "response.done"):
        assert received.get(kind, 0) > 0, (kind, received)
    # no audio bytes through the kernel: none sent, none received, none relayed, none appended at the server
    assert sent.get("input_audio_buffer.append", 0) == 0, sent
    assert received.get("response.output_audio.delta", 0) == 0, received
    stats = summary["stats"]
    assert stats["mic_chunks"] == 0 and stats["audio_messages"] == 0 and stats["received"] == {}, stats
    assert sum(spy.appends.values()) == appends0
    assert dbg["micChunksSent"] == 0 and dbg["samplesReceived"] == {}, dbg
    # barge-in was the server's: the widget truncated nothing itself
    assert stats["truncates"] == [], stats
    # s.items holds the turns: the spoken questions, the replies (one of them cut)
    roles = [r["role"] for r in summary["items"]]
    assert roles.count("user") >= 3 and roles.count("assistant") >= 3, summary["items"]
    assert any(r["role"] == "assistant" and r["text"] for r in summary["items"]), summary["items"]
    assert any(r["truncated_at_ms"] == r["truncated_at_ms"] and r["truncated_at_ms"] is not None
               for r in summary["items"] if r["role"] == "assistant"), summary["items"]
    assert summary["errors"] == [], summary["errors"]

    # Stop mic = hang up: the peer connection closes, the session goes back to its own connection
    nb.page.locator(f"{ROOT} [data-testid=rtnb-mic-button]").click()
    nb.wait_until(lambda: nb.page.evaluate("() => document.querySelectorAll('[data-testid=rtnb-rtc-audio]').length")
                  == 0, 10, "the call's audio element is gone")
    typed = json.loads(nb.run_cell_and_wait(2, timeout=60))
    assert "model=" in typed["url"] and "call_id=" not in typed["url"], typed
    assert typed["text"] or typed["transcript"], typed
    assert typed["items"] >= len(summary["items"]) + 2, typed
    assert nb.page_errors == [], nb.page_errors
    print(f"webrtc widget checked in {time.monotonic() - t0:.1f} s; items: {summary['items']}")


FALLBACK = '''
import realtime_nb as rt
from realtime_nb.notebook import _webrtc

async def refuse(*args, **kwargs):  # the calls endpoint refuses (a server without WebRTC, a bad offer …)
    raise rt.RealtimeError("calls failed (HTTP 501): no WebRTC here", code="webrtc_unavailable")

_webrtc.acreate_call = refuse
s = rt.connect()
w = s.widget
w.transport = "webrtc"
w
'''


def test_a_refused_call_falls_back_to_the_relay_with_a_notice(open_notebook: Any, rt_server: Any) -> None:
    spy = rt_server.spy
    appends0 = sum(spy.appends.values())
    nb = open_notebook("widget_webrtc_fallback.ipynb", [FALLBACK])
    nb.run_cell_and_wait(0, timeout=60)
    root = nb.page.locator(ROOT).first
    nb.page.locator(f"{ROOT}[data-ready=true][data-owner=true]").wait_for(timeout=30_000)
    assert root.get_attribute("data-transport") == "webrtc"
    nb.page.locator(f"{ROOT} [data-testid=rtnb-start]").click()
    nb.wait_until(lambda: root.get_attribute("data-transport") == "relay", 20, "the widget falls back to the relay")
    assert "no WebRTC here" in _debug(nb)["rtcFallback"]
    notice = nb.page.locator(f"{ROOT} [data-testid=rtnb-notice]")
    assert "WebRTC did not connect" in notice.inner_text() and notice.is_visible()
    assert nb.page.locator(f"{ROOT} [data-testid=rtnb-transport]").inner_text() == "relay"
    # the relay carries the mic now: chunks reach the kernel and the server
    nb.wait_until(lambda: _debug(nb).get("micChunksSent", 0) > 5, 20, "the widget sends mic chunks to the kernel")
    nb.wait_until(lambda: sum(spy.appends.values()) > appends0 + 5, 20, "the server receives the appends")
    assert nb.page.evaluate("() => document.querySelectorAll('[data-testid=rtnb-rtc-audio]').length") == 0
    nb.screenshot("webrtc-fallback", element=ROOT)
    assert nb.page_errors == [], nb.page_errors
