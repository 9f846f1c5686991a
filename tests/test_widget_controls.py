"""The widget's voice-chat controls, kernel side: a typed turn, Stop reply, "show my words", per-turn
latency and the session's end time, an event-log row's JSON, the player's underruns in ``w.stats()``.
With the fake comm of ``test_widget``."""

from __future__ import annotations

import time

import numpy as np
import test_widget
from test_widget import FakeBrowser, _wait_audio, settle, w_stats, wait_for

from realtime_nb.notebook.widget import RealtimeWidget

session = test_widget.session   # the same fixtures: a Session on the local server, a widget with a fake comm
slow_session = test_widget.slow_session
browser = test_widget.browser


# -- the controls of a voice chat ------------------------------------------------------------------

def test_a_typed_turn_is_a_user_message_and_a_reply(session, browser):
    browser.ready("v")
    browser.deliver({"type": "text", "view": "v", "text": "  Hello from the text box  "})
    wait_for(lambda: any(r.status == "completed" for r in session._client.responses), 10)
    items = session.items
    assert list(items.role) == ["user", "assistant"]
    assert items.iloc[0].text == "Hello from the text box"
    assert "Hello from the text box" in session.last_response.transcript
    browser.deliver({"type": "text", "view": "v", "text": "   "})   # nothing to say: nothing sent
    settle()
    assert len(session.items) == 2


def test_stop_reply_cancels_and_truncates_at_what_was_heard(slow_session):
    w = RealtimeWidget(slow_session)
    browser = FakeBrowser(w)
    try:
        browser.ready("v")
        browser.ready("other")                                      # a view without audio may press it too
        slow_session.say("Tell me a long story about a lighthouse keeper and his cat", wait=False)
        item = _wait_audio(slow_session, browser, 24000)
        browser.played = {item: 6000}                               # 250 ms heard
        browser.deliver({"type": "stop", "view": "other"})
        wait_for(lambda: w_stats(browser)["truncates"], 10)
        assert w_stats(browser)["truncates"][0]["audio_end_ms"] == 250
        wait_for(lambda: slow_session.last_response.status == "cancelled", 10)
        wait_for(lambda: slow_session.items.set_index("item_id").loc[item, "truncated_at_ms"] == 250, 10)
        assert "error" not in set(slow_session.events.type)
    finally:
        w.close()


def test_show_my_words_turns_input_transcription_on_and_off(session, browser):
    w = browser.w
    browser.ready("v")
    w.transcribe = True
    wait_for(lambda: (session.config["audio"]["input"].get("transcription") or {}).get("model"), 10)
    w.transcribe = False
    wait_for(lambda: session.config["audio"]["input"].get("transcription") is None, 10)
    session.update(audio={"input": {"transcription": {"model": "whisper-1"}}})  # from a cell: the toggle follows
    wait_for(lambda: w.transcribe is True, 5)


def test_each_spoken_turn_reports_its_latency_and_the_session_its_end(session, browser, speech_wav):
    w = browser.w
    browser.ready("v")
    assert w.expires_at > time.time() + 60                      # the remaining time the widget shows
    pcm, _truth = speech_wav
    tail = np.zeros(24000, np.int16)                            # silence after it: VAD ends the turn
    audio = np.concatenate([pcm, tail])
    for i in range(0, len(audio), 960):
        browser.deliver({"type": "audio", "view": "v", "seq": i}, [audio[i:i + 960].tobytes()])
    wait_for(lambda: any(r.status == "completed" for r in session._client.responses), 20)

    def latencies() -> list[int]:
        return [e["latency_ms"] for c, _ in browser.comm.custom("update") for e in c.get("entries", [])
                if e.get("kind") == "assistant" and "latency_ms" in e]
    found = wait_for(latencies, 10)
    assert 0 <= found[-1] < 10_000, found
    # a typed turn answers no speech: no latency for it
    r = session.say("And a typed one")
    settle()
    assert not [e for c, _ in browser.comm.custom("update") for e in c.get("entries", [])
                if e.get("response_id") == r.id and "latency_ms" in e]


def test_an_event_log_row_opens_its_json_with_audio_elided(session, browser):
    from realtime_nb.notebook._updates import elide_audio

    browser.ready("v")
    session.say("Show me the payload")
    settle()
    rows = [r for c, _ in browser.comm.custom("update") for r in c.get("events", [])]
    done = [r for r in rows if r[1] == "received" and r[2] == "response.done"]
    assert done and isinstance(done[-1][7], int), rows[-3:]
    browser.next_id += 1
    rid = browser.next_id
    browser.deliver({"type": "event", "view": "v", "id": rid, "index": done[-1][7]})
    payload = browser.wait_reply("v", rid, 5)
    assert payload["type"] == "response.done" and payload["response"]["id"] == session.last_response.id
    # base64 audio never goes to the browser: its size does
    assert elide_audio({"type": "x", "item": {"content": [{"audio": "QUJD" * 100, "transcript": "hi"}]}}) == \
        {"type": "x", "item": {"content": [{"audio": "<300 bytes of audio>", "transcript": "hi"}]}}

    def payload_of(row):
        browser.next_id += 1
        browser.deliver({"type": "event", "view": "v", "id": browser.next_id, "index": row[7]})
        return browser.wait_reply("v", browser.next_id, 5)

    # a sent row opens too: a readable copy of what the session sent
    sent = [r for r in rows if r[1] == "sent"]
    create = payload_of(next(r for r in sent if r[2] == "conversation.item.create"))
    assert create["item"]["content"] == [{"type": "input_text", "text": "Show me the payload"}]
    # never audio appends nor base64 audio, never anything shaped like a key
    session.update(instructions="My key is sk-proj-0123456789abcdef, keep it")
    session.add_audio_message(np.zeros(4800, np.int16))
    session.append_audio(np.zeros(2400, np.int16))
    session.clear_audio()
    settle()
    rows = [r for c, _ in browser.comm.custom("update") for r in c.get("events", [])]
    sent = [r for r in rows if r[1] == "sent"]
    update = payload_of(next(r for r in sent if r[2] == "session.update"))
    assert update["session"]["instructions"] == "My key is sk-***, keep it"
    spoken = payload_of([r for r in sent if r[2] == "conversation.item.create"][-1])
    assert spoken["item"]["content"][0]["audio"] == "<9600 bytes of audio>"
    assert payload_of(next(r for r in sent if r[2] == "input_audio_buffer.append")) is None


def test_stats_report_the_owner_players_underruns(session, browser):
    browser.ready("v")
    browser.ready("w")
    browser.next_id += 1
    browser.deliver({"type": "ping", "view": "v", "id": browser.next_id, "underruns": 3, "prebuffer_ms": 150})
    browser.next_id += 1
    browser.deliver({"type": "ping", "view": "w", "id": browser.next_id, "underruns": 9})   # not the owner
    settle()
    stats = browser.w.stats()
    assert stats["underruns"] == 3 and stats["prebuffer_ms"] == 150
