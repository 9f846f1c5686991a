"""The realtime widget end to end: Chromium's fake mic → widget → kernel Session → local server → back.

One notebook, hands-free server VAD, the looping fake-mic recording of ``conftest.MIC_SEGMENTS``:

- the kernel receives the mic audio (``input_audio_buffer.append`` sent, and counted by the server),
- VAD events arrive (``speech_started`` / ``speech_stopped`` in ``s.events``),
- a response is played in the browser (the player's per-item ``samplesPlayed`` > 0),
- the third utterance starts while the reply to the second is playing: the widget stops playback and
  the session sends ``conversation.item.truncate`` whose ``audio_end_ms`` is what was played, never more
  than what the kernel and the browser had received of that item,
- and no ``error`` event appears anywhere (kernel log, server replies, widget).

It runs twice: over the widget's fast path (``transport="link"``: a loopback WebSocket from the page to
the kernel's loop thread, the default) and with it turned off (``REALTIME_NB_LINK=0``: every message a
Jupyter comm message), and checks which one the widget used.

The browser side is read through the widget's debug hooks (``window.__realtime_nb_debug[key].owner``) and
its ``data-testid`` DOM; the kernel side through a later cell that prints a JSON summary.
"""

from __future__ import annotations

import json
import time

import pytest

pytestmark = pytest.mark.browser

SAMPLES_PER_MS = 24  # 24 kHz PCM16 on the wire

SETUP = '''
import base64, collections, json
import realtime_nb as rt

s = rt.connect()
heard = collections.Counter()  # assistant audio samples the kernel received, per item
s.on("response.output_audio.delta", lambda e: heard.update({e["item_id"]: len(base64.b64decode(e["delta"])) // 2}))
s
'''

SUMMARY = '''
ev = s.events
items = s.items
print(json.dumps({
    "sent": ev[ev.direction == "sent"].type.value_counts().to_dict(),
    "received": ev[ev.direction == "received"].type.value_counts().to_dict(),
    "errors": ev[ev.type == "error"][["type", "error_code"]].to_dict("records"),
    "heard": dict(heard),
    "items": items[["item_id", "role", "audio_ms", "truncated_at_ms", "text"]].to_dict("records"),
}, default=str))
'''

ROOT = "[data-testid=rtnb-root]"

# The owning view's debug counters (one widget on the page).
_DEBUG_JS = """() => {
  const all = window.__realtime_nb_debug || {};
  for (const entry of Object.values(all)) if (entry.owner) return JSON.parse(JSON.stringify(entry.owner));
  return null;
}"""


def _debug(nb):
    return nb.page.evaluate(_DEBUG_JS) or {}


def _status(nb) -> str:
    return nb.page.locator(ROOT).first.get_attribute("data-status") or ""


@pytest.mark.parametrize("transport", ["link", "comm"])
def test_hands_free_conversation_with_barge_in(open_notebook, rt_server, transport):
    spy = rt_server.spy  # shared by both runs: count only what this one adds
    appends0 = sum(spy.appends.values())
    truncates0 = len(spy.of_type("conversation.item.truncate"))
    t0 = time.monotonic()
    env = "import os\nos.environ['REALTIME_NB_LINK'] = '0'\n" if transport == "comm" else ""
    nb = open_notebook(f"e2e_widget_{transport}.ipynb", [env + SETUP, SUMMARY])
    nb.run_cell_and_wait(0, timeout=60)
    nb.page.locator(f"{ROOT}[data-ready=true][data-owner=true]").wait_for(timeout=30_000)
    assert nb.page.locator(ROOT).first.get_attribute("data-link") == transport
    nb.page.locator(f"{ROOT} [data-testid=rtnb-start]").click()   # the mic opens on this click only
    # over the link, its socket runs in a worker that hands the kernel's audio straight to the player
    path = "worker" if transport == "link" else "page"
    nb.wait_until(lambda: _debug(nb).get("micPath") == path and _debug(nb).get("audioPath") == path, 10,
                  f"the widget's audio paths are {path}")
    nb.screenshot("e2e-initial", show=ROOT)
    nb.screenshot("e2e-initial-widget", element=ROOT)

    # Mic audio flows to the kernel and on to the server.
    nb.wait_until(lambda: _debug(nb).get("micChunksSent", 0) > 5, 20, "the widget sends mic chunks")
    nb.wait_until(lambda: sum(spy.appends.values()) > appends0 + 5, 20,
                  "the server receives input_audio_buffer.append")

    # The user speaks (server VAD), then the first reply plays.
    nb.wait_until(lambda: _status(nb) == "user_speaking", 20, "the status pill shows the user speaking")
    nb.screenshot("e2e-user-speaking", element=ROOT)
    nb.wait_until(lambda: sum(_debug(nb).get("samplesPlayed", {}).values()) > 0, 30, "the player plays a reply")
    nb.wait_until(lambda: _status(nb) == "speaking", 10, "the status pill shows the assistant speaking",
                  poll_ms=50)
    nb.screenshot("e2e-assistant-speaking", element=ROOT)

    # Barge-in: the third utterance interrupts the reply to the second.
    nb.wait_until(lambda: _debug(nb).get("truncates", 0) >= 1, 45, "a barge-in truncates the reply being played")
    nb.wait_until(lambda: len(spy.of_type("conversation.item.truncate")) > truncates0, 10,
                  "the server receives the truncate")
    nb.wait_until(lambda: nb.page.locator(f"{ROOT} [data-truncated]").count() > 0, 10,
                  "the transcript marks where the reply was cut")
    nb.screenshot("e2e-after-barge-in", element=ROOT)
    # the pill during the barge-in: from the user's speech_started to its speech_stopped it says "You are
    # speaking", also when the cancelled reply's response.done comes in between (it used to say "Listening")
    history = _debug(nb).get("statusHistory", [])
    starts = [i for i, (e, _) in enumerate(history) if e == "speech_started"]
    assert starts, history
    i = starts[-1]
    assert history[i][1] == "user_speaking", history[i - 3:i + 6]
    during = []
    for event, state in history[i:]:
        if event == "speech_stopped":
            break
        during.append(state)
    assert set(during) == {"user_speaking"}, history[i:i + 12]
    nb.screenshot("e2e-after-barge-in-page", show=ROOT)

    # The reply to the interrupting utterance then plays out; the widget goes back to listening.
    assistant = nb.page.locator(f"{ROOT} [data-testid=rtnb-entry][data-kind=assistant]")
    nb.wait_until(lambda: assistant.count() >= 3 and _status(nb) == "listening", 20,
                  "the reply after the barge-in plays and the widget listens again")
    nb.screenshot("e2e-after-response", element=ROOT)
    first_reply = assistant.first.locator("[data-testid=rtnb-entry-text]").inner_text()
    assert first_reply.strip(), "the first reply's transcript is empty"

    nb.page.locator(f"{ROOT} [data-testid=rtnb-settings-toggle]").click()
    nb.page.locator(f"{ROOT} [data-testid=rtnb-log] summary").click()
    nb.screenshot("e2e-settings-and-log", element=ROOT)
    # the event log shows what the session sent (↑), not only what it received: the barge-in's truncate
    sent_rows = nb.page.locator(f"{ROOT} [data-testid=rtnb-log-list] li.rtnb-dir-sent")
    sent_types = sent_rows.evaluate_all("els => els.map((e) => e.dataset.type)")
    assert "conversation.item.truncate" in sent_types, sent_types

    summary = json.loads(nb.run_cell_and_wait(1, timeout=30))
    dbg = _debug(nb)
    elapsed = time.monotonic() - t0

    # 1. The kernel received mic audio and forwarded it.
    assert summary["sent"].get("input_audio_buffer.append", 0) > 0, summary["sent"]
    assert sum(spy.appends.values()) > appends0
    # 2. Server VAD events arrived.
    for kind in ("input_audio_buffer.speech_started", "input_audio_buffer.speech_stopped", "response.done"):
        assert summary["received"].get(kind, 0) > 0, (kind, summary["received"])
    # 3. A reply was played in the browser.
    played = dbg["samplesPlayed"]
    assert sum(played.values()) > 0, dbg
    # 4. Every truncate stays within what was received, and matches what the player reported as played.
    truncates = spy.of_type("conversation.item.truncate")[truncates0:]
    assert truncates
    for t in truncates:
        item, end_ms = t["item_id"], t["audio_end_ms"]
        assert end_ms <= summary["heard"].get(item, 0) / SAMPLES_PER_MS, (t, summary["heard"])
        assert end_ms <= dbg["samplesReceived"].get(item, 0) / SAMPLES_PER_MS, (t, dbg["samplesReceived"])
        assert end_ms <= rt_server.spy.audio_out[item] / SAMPLES_PER_MS
    last = dbg["lastInterrupt"]
    assert last and last["item_id"], dbg

    def truncates_of(item: str) -> list[dict]:
        return [t for t in spy.of_type("conversation.item.truncate")[truncates0:] if t["item_id"] == item]

    # The fake mic loops, so the conversation goes on while this test reads: the last interrupt may be
    # newer than the truncates read above (wait for its own), or may have come after its reply was heard
    # to the end (then the bridge rightly truncates nothing).
    if last["played_samples"] < dbg["samplesReceived"].get(last["item_id"], 0):
        nb.wait_until(lambda: truncates_of(last["item_id"]), 10, "the last interrupt's truncate reaches the server")
        mine = truncates_of(last["item_id"])
        assert abs(mine[-1]["audio_end_ms"] - last["played_samples"] / SAMPLES_PER_MS) <= 1, (mine, last)
    truncated_rows = [r for r in summary["items"] if r["truncated_at_ms"] == r["truncated_at_ms"]]  # not NaN
    assert truncated_rows, summary["items"]
    # 5. No errors anywhere.
    assert summary["errors"] == [] and summary["received"].get("error", 0) == 0, summary["errors"]
    assert spy.errors() == []
    assert dbg["errors"] == []
    assert nb.page_errors == [], nb.page_errors
    print(f"e2e conversation checked in {elapsed:.1f} s; truncates: {truncates}")
