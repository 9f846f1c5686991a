"""A real Chromium on a WebRTC call with the local server: ``js/webrtc.js`` in a page, the offer posted by
the kernel-side helper (``create_call``, the page holds no key), a ``Session`` on the ``?call_id=`` sideband.

The fake mic (``conftest.MIC_SEGMENTS``) asks a question, then another that a third utterance
interrupts: a spoken turn answered on the remote track, a barge-in cut by the server, and no audio
through the kernel (the sideband sends no appends and receives no audio deltas). Chromium runs with
``--allow-loopback-in-peer-connection``: the server offers 127.0.0.1 candidates only.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from labharness import CHROMIUM, chromium_args

pytestmark = pytest.mark.browser
pytest.importorskip("aiortc")

ROOT = Path(__file__).resolve().parents[2]

PAGE = """<!doctype html><html><body><script type="module">
import { startCall } from "./webrtc.js";
window.events = []; window.state = "new"; window.loud = []; window.errors = [];
window.start = async () => {
  try {
    window.handle = await startCall({
      exchange: (sdp) => window.kernelExchange(sdp),
      constraints: { echoCancellation: false, noiseSuppression: false, autoGainControl: false },
      onEvent: (e) => window.events.push(e.type),
      onState: (s) => { window.state = s; },
    });
  } catch (err) { window.errors.push(String(err)); throw err; }
  const audio = window.handle.audio;
  document.body.appendChild(audio);
  const wait = () => new Promise((r) => setTimeout(r, 50));
  while (!audio.srcObject) await wait();
  const ctx = new AudioContext();
  const analyser = ctx.createAnalyser();
  analyser.fftSize = 1024;
  ctx.createMediaStreamSource(audio.srcObject).connect(analyser);
  const buf = new Float32Array(analyser.fftSize);
  setInterval(() => {
    analyser.getFloatTimeDomainData(buf);
    let sum = 0;
    for (const x of buf) sum += x * x;
    if (Math.sqrt(sum / buf.length) > 0.01) window.loud.push(performance.now());
  }, 20);
};
</script></body></html>"""


@pytest.fixture(scope="module")
def webrtc_browser(browser_ready: None, mic_script: Any) -> Any:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                     args=[*chromium_args(mic_script.path), "--allow-loopback-in-peer-connection"])
        try:
            yield browser
        finally:
            browser.close()


def _wait(what: str, check: Any, timeout: float, seen: Any = None) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}" + (f"; {seen()}" if seen else ""))


def test_chromium_call_answered_on_the_remote_track_with_barge_in(webrtc_browser: Any, rt_server: Any) -> None:
    import realtime_nb as rt
    from realtime_nb.client.calls import create_call

    base = rt_server.url.replace("ws://", "http://").removesuffix("/v1") + "/webrtc-test"
    page = webrtc_browser.new_page()
    page.route(base + "/index.html", lambda route: route.fulfill(body=PAGE, content_type="text/html"))
    page.route(base + "/webrtc.js", lambda route: route.fulfill(
        body=(ROOT / "js" / "webrtc.js").read_text(), content_type="text/javascript"))
    answers: list[Any] = []

    def exchange(offer: str) -> str:
        assert "a=candidate" in offer and "127.0.0.1" in offer, offer   # Chromium offered loopback
        answer = create_call(offer, url=rt_server.url)                  # the kernel's key, not the page's
        answers.append(answer)
        return answer.sdp

    page.expose_function("kernelExchange", exchange)
    page.goto(base + "/index.html")
    page.evaluate("window.start()")
    assert answers, page.evaluate("window.errors")
    s = rt.connect(url=rt_server.url, call_id=answers[0].call_id)
    try:
        _wait("the peer connection", lambda: page.evaluate("window.state") == "connected", 15)
        _wait("the first event on the data channel", lambda: page.evaluate("window.events"), 10)
        assert page.evaluate("window.events")[0] == "session.created"

        # a spoken turn answered on the remote track
        _wait("a spoken turn answered", lambda: "output_audio_buffer.stopped" in page.evaluate("window.events"), 45)
        loud = page.evaluate("window.loud")
        assert len(loud) * 20 > 500, f"the remote track played {len(loud) * 20} ms of voice"
        # the barge-in: the third utterance cuts the reply to the second, the server truncates
        _wait("a barge-in", lambda: "output_audio_buffer.cleared" in page.evaluate("window.events"), 45,
              lambda: f"data channel events: {page.evaluate('window.events')}")
        events = page.evaluate("window.events")
        assert "conversation.item.truncated" in events[events.index("output_audio_buffer.cleared"):]
        # the sideband saw the call's events; no audio bytes passed through the kernel
        seen = s.events
        received = set(seen[seen["direction"] == "received"]["type"])
        assert {"input_audio_buffer.speech_started", "response.done", "output_audio_buffer.started"} <= received
        assert "response.output_audio.delta" not in received
        assert "input_audio_buffer.append" not in set(seen[seen["direction"] == "sent"]["type"])
        assert not [e for e in events if e == "error"]
    finally:
        s.close()
        page.evaluate("window.handle && window.handle.close()")
        page.close()
