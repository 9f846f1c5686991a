"""The widget's kernel side against a real Session and the local server, with a fake comm.

The fake comm records what the kernel sends to the browser; ``FakeBrowser`` plays the JS side: it
injects messages through the widget's real comm handler (``_handle_msg``, from any thread, with
memoryview buffers as ipykernel delivers them) and answers the kernel's requests (probe, interrupt)
for the views it pretends to be.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any, Literal

import numpy as np
import pytest

import realtime_nb as rt
from realtime_nb.client._eventlog import EventRow
from realtime_nb.notebook import _bridge as wb
from realtime_nb.notebook.widget import RealtimeWidget

SECRET = "sk-test-DO-NOT-LEAK-0123456789"


class FakeComm:
    """Stands in for the widget's comm: records every send (state updates and custom messages)."""

    kernel = object()
    comm_id = "fake-comm"

    def __init__(self) -> None:
        self.sent: list[tuple[dict[str, Any], list[bytes]]] = []
        self.lock = threading.Lock()
        self.on_custom: Any = None

    def send(self, data: Any = None, metadata: Any = None, buffers: Any = None) -> None:
        with self.lock:
            self.sent.append((data, [bytes(b) for b in buffers or []]))
        if self.on_custom is not None and data.get("method") == "custom":
            self.on_custom(data["content"], buffers or [])

    def custom(self, mtype: str | None = None) -> list[tuple[dict[str, Any], list[bytes]]]:
        with self.lock:
            sent = list(self.sent)
        return [(d["content"], b) for d, b in sent
                if d.get("method") == "custom" and (mtype is None or d["content"].get("type") == mtype)]

    def on_msg(self, callback: Any) -> None:
        pass

    def close(self, *args: Any, **kwargs: Any) -> None:
        pass


class FakeBrowser:
    """The JS side of one or more views: sends like comm.js, answers requests like widget.js."""

    def __init__(self, widget: RealtimeWidget) -> None:
        self.w = widget
        self.comm = FakeComm()
        widget.comm = self.comm
        self.comm.on_custom = self._on_kernel_message
        self.alive: set[str] = set()
        self.played: dict[str, int] = {}      # what each "player" reports at an interrupt
        self.interrupts: list[dict[str, Any]] = []
        self.next_id = 100

    def deliver(self, content: dict[str, Any], buffers: list[bytes] = ()) -> None:  # type: ignore[assignment]
        # as ipykernel hands them over: memoryviews into a buffer it will reuse
        views = [memoryview(bytearray(b)) for b in buffers]
        self.w._handle_msg({"content": {"data": {"method": "custom", "content": content}}, "buffers": views})

    def ready(self, view: str, timeout: float = 5.0) -> dict[str, Any]:
        self.alive.add(view)
        self.next_id += 1
        rid = self.next_id
        self.deliver({"type": "ready", "view": view, "id": rid})
        return self.wait_reply(view, rid, timeout)

    def claim(self, view: str, force: bool = False) -> dict[str, Any]:
        self.next_id += 1
        rid = self.next_id
        self.deliver({"type": "claim", "view": view, "id": rid, "force": force})
        return self.wait_reply(view, rid, 5.0)

    def wait_reply(self, view: str, rid: int, timeout: float) -> dict[str, Any]:
        found = wait_for(lambda: [c for c, _ in self.comm.custom("reply") if c["view"] == view and c["id"] == rid],
                         timeout)
        assert found[0]["ok"], found
        return found[0]["result"]  # type: ignore[no-any-return]

    def _on_kernel_message(self, content: dict[str, Any], buffers: Any) -> None:
        view = content.get("view")
        if content["type"] in ("probe", "interrupt") and view in self.alive:
            result: dict[str, Any] | None = None
            if content["type"] == "interrupt":
                item = next(iter(self.played), None)
                result = {"item_id": item, "played_samples": self.played.get(item, 0) if item else 0}
                self.interrupts.append(result)
            reply = {"type": "reply", "view": view, "id": content["id"], "ok": True, "result": result}
            threading.Thread(target=self.deliver, args=(reply,)).start()  # like a real round trip

    def audio_out(self, view: str | None = None) -> list[tuple[dict[str, Any], bytes]]:
        return [(c, b[0]) for c, b in self.comm.custom("audio") if view is None or c["view"] == view]


def wait_for(cond: Any, timeout: float = 10.0, interval: float = 0.01) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


def settle() -> None:
    """Let the loop thread run what was handed to it (and the 40 ms UI flush)."""
    time.sleep(0.12)
    wb.run_on_loop(lambda: None)


@pytest.fixture
def session(server):
    with rt.connect(url=server.url, api_key=SECRET) as s:
        yield s


@pytest.fixture
def slow_session(slow_server):
    with rt.connect(url=slow_server.url) as s:
        yield s


@pytest.fixture
def browser(session):
    w = RealtimeWidget(session)
    yield FakeBrowser(w)
    w.close()


# -- state and construction ----------------------------------------------------------------------

def test_no_secrets_or_audio_in_synced_state(session, browser):
    w = browser.w
    browser.ready("v1")
    session.say("Hello there")
    settle()
    state = w.get_state()
    dumped = json.dumps({k: v for k, v in state.items() if k not in ("_esm", "_css")}, default=str)
    assert SECRET not in dumped and "Bearer" not in dumped
    assert SECRET not in json.dumps([c for c, _ in browser.comm.custom()], default=str)
    assert len(dumped) < 4000  # UI settings only: no audio, no transcript in traits
    assert state["status"] in ("listening", "speaking", "thinking")
    assert session.widget is session.widget


def test_unknown_settings_are_rejected(session):
    with pytest.raises(TypeError, match="unknown settings"):
        RealtimeWidget(session, prebuffer=100)


def test_session_repr_outside_a_kernel_is_text(session):
    assert session._repr_mimebundle_() is None
    assert "realtime_nb.Session" in repr(session)


# -- ready handshake and ownership ---------------------------------------------------------------

def test_nothing_streams_before_ready(session, browser):
    r = session.say("Say something before anyone listens")
    assert len(r.audio) > 0
    settle()
    assert browser.comm.custom() == []            # no audio, no transcript before a view is ready
    reply = browser.ready("v1")
    assert reply["owner"] is True and reply["owner_view"] == "v1"
    snap = reply["snapshot"]
    kinds = [e["kind"] for e in snap["entries"]]
    assert kinds == ["user", "assistant"] and snap["order"] == [e["id"] for e in snap["entries"]]
    assert snap["entries"][1]["text"] == r.transcript
    assert any(row[2] == "response.done" for row in snap["events"])
    session.say("And now?")
    wait_for(lambda: browser.audio_out("v1"))
    assert {c["view"] for c, _ in browser.audio_out()} == {"v1"}


def test_one_audio_owner_with_two_views(session, browser):
    assert browser.ready("a")["owner"] is True
    second = browser.ready("b")                    # "a" answers the probe: it keeps audio
    assert second["owner"] is False and second["owner_view"] == "a"
    session.say("Who plays this?")
    wait_for(lambda: browser.comm.custom("audio_end"))
    assert {c["view"] for c, _ in browser.audio_out()} == {"a"}
    # updates (transcript, event log) go to every view
    wait_for(lambda: any("entries" in c and "view" not in c for c, _ in browser.comm.custom("update")))
    # a forced claim moves audio and tells everyone
    assert browser.claim("b", force=True)["owner"] is True
    assert browser.comm.custom("owner")[-1][0] == {"type": "owner", "owner": "b"}
    # the owner leaves: audio is free for whoever claims next
    browser.deliver({"type": "release", "view": "b"})
    wait_for(lambda: browser.comm.custom("owner")[-1][0]["owner"] is None)
    assert browser.claim("a")["owner"] is True


def test_a_dead_owner_is_replaced_after_its_probe_times_out(session, browser, monkeypatch):
    monkeypatch.setattr(wb, "PROBE_TIMEOUT_S", 0.3)
    browser.ready("old")
    browser.alive.discard("old")                   # the page was reloaded: nobody answers for "old"
    assert browser.ready("new")["owner"] is True
    assert w_stats(browser)["owner"] == "new"


def w_stats(browser: FakeBrowser) -> dict[str, Any]:
    return browser.w.stats()


def test_messages_from_views_that_are_not_ready_are_ignored(session, browser):
    browser.deliver({"type": "audio", "view": "ghost", "seq": 1}, [np.zeros(960, "<i2").tobytes()])
    browser.deliver({"type": "ptt", "view": "ghost", "down": True})
    settle()
    assert w_stats(browser)["mic_chunks"] == 0


# -- audio out -----------------------------------------------------------------------------------

def test_audio_is_coalesced_to_40_ms_and_complete(session, browser):
    browser.ready("v")
    r = session.say("Please tell me a rather long story about the sea and the wind")
    wait_for(lambda: browser.comm.custom("audio_end"))
    msgs = browser.audio_out("v")
    assert msgs
    item = msgs[0][0]["item_id"]
    sizes = [len(b) // 2 for c, b in msgs if c["item_id"] == item]
    assert all(n >= wb.MIN_CHUNK for n in sizes[:-1])        # >= 40 ms, only the tail may be shorter
    assert [c["samples"] for c, _ in msgs] == [len(b) // 2 for _, b in msgs]
    audio = np.frombuffer(b"".join(b for c, b in msgs if c["item_id"] == item), "<i2")
    assert np.array_equal(audio, r.audio)                     # exactly what the session received
    end = browser.comm.custom("audio_end")[0][0]
    assert end == {"type": "audio_end", "view": "v", "item_id": item}
    assert len(msgs) <= len(r.audio) // wb.MIN_CHUNK + 1


@pytest.mark.parametrize("fmt", ["audio/pcmu", "audio/pcma"])
def test_g711_output_reaches_the_view_as_24k_pcm(server, fmt):
    with rt.connect(url=server.url, audio={"output": {"format": {"type": fmt}}}) as s:
        w = RealtimeWidget(s)
        browser = FakeBrowser(w)
        try:
            assert s.config["audio"]["output"]["format"]["type"] == fmt
            browser.ready("v")
            r = s.say("Tell me about the lighthouse")
            wait_for(lambda: browser.comm.custom("audio_end"))
            msgs = browser.audio_out("v")
            assert msgs, "no audio reached the view"
            audio = np.frombuffer(b"".join(b for _, b in msgs), "<i2")
            assert len(audio) == sum(c["samples"] for c, _ in msgs) == len(r.audio) > 24000 // 2
            assert np.array_equal(audio, r.audio)       # the reply, decoded from G.711 once, at 24 kHz
        finally:
            w.close()


def test_a_response_with_its_own_g711_format_reaches_the_view(session, browser):
    browser.ready("v")
    r = session.say("Tell me about the lighthouse", audio={"output": {"format": {"type": "audio/pcmu"}}})
    wait_for(lambda: browser.comm.custom("audio_end"))
    audio = np.frombuffer(b"".join(b for _, b in browser.audio_out("v")), "<i2")
    assert len(audio) == len(r.audio) > 24000 // 2 and np.array_equal(audio, r.audio)


def test_a_burst_of_audio_is_sent_in_few_messages(session, browser):
    """The local server's fast pace delivers seconds of audio at once: the message rate stays low."""
    browser.ready("v")
    t0 = time.monotonic()
    r = session.say("Please tell me a rather long story about the sea, the wind and the old lighthouse")
    wait_for(lambda: browser.comm.custom("audio_end"))
    elapsed = time.monotonic() - t0
    msgs = browser.audio_out("v")
    assert sum(c["samples"] for c, _ in msgs) == len(r.audio)
    assert len(msgs) <= elapsed / wb.AUDIO_INTERVAL_S + 2      # at most one per 20 ms, plus the tail


# -- audio in: copies, threads, order ------------------------------------------------------------

def _ptt_turn(browser: FakeBrowser, view: str, chunks: list[np.ndarray], *, threads: int = 1) -> None:
    browser.deliver({"type": "ptt", "view": view, "down": True})
    if threads == 1:
        for i, c in enumerate(chunks):
            browser.deliver({"type": "audio", "view": view, "seq": i + 1}, [c.tobytes()])
    else:
        # comm handlers may run on the main thread or a subshell thread: deliver from foreign threads,
        # one after another (a comm's messages are handled in order), never from the loop thread
        for i, c in enumerate(chunks):
            t = threading.Thread(target=browser.deliver,
                                 args=({"type": "audio", "view": view, "seq": i + 1}, [c.tobytes()]))
            t.start()
            t.join()
    browser.deliver({"type": "ptt", "view": view, "down": False})


def test_mic_audio_is_copied_and_appended_in_order_from_other_threads(session, browser):
    browser.w.mode = "push_to_talk"
    wait_for(lambda: session.config["audio"]["input"]["turn_detection"] is None)
    browser.ready("v")
    rng = np.random.default_rng(1)
    chunks = [rng.integers(-3000, 3000, 960, dtype=np.int16) for _ in range(25)]   # 1 s in 40 ms chunks
    _ptt_turn(browser, "v", chunks, threads=4)
    wait_for(lambda: any(r.status == "completed" for r in session._client.responses), 15)
    user = session.items[session.items.role == "user"].iloc[-1]
    assert np.array_equal(session.item_audio(user.item_id), np.concatenate(chunks))
    stats = w_stats(browser)
    assert stats["mic_chunks"] == 25 and stats["mic_samples"] == 25 * 960
    types = list(session.events.type)
    assert types.index("input_audio_buffer.clear") < types.index("input_audio_buffer.append")
    assert types.index("input_audio_buffer.commit") < types.index("response.create")
    assert "error" not in types


def test_comm_handler_copies_before_handing_off(session, browser):
    """The buffer the kernel hands to the handler is reused right after: the session must not see it."""
    browser.w.mode = "push_to_talk"
    wait_for(lambda: session.config["audio"]["input"]["turn_detection"] is None)
    browser.ready("v")
    browser.deliver({"type": "ptt", "view": "v", "down": True})
    original = np.arange(4800, dtype=np.int16)
    shared = bytearray(original.tobytes())
    view = memoryview(shared)
    browser.w._handle_msg({"content": {"data": {"method": "custom", "content": {"type": "audio", "view": "v"}}},
                           "buffers": [view]})
    shared[:] = b"\xff" * len(shared)              # the kernel reuses its buffer
    browser.deliver({"type": "ptt", "view": "v", "down": False})
    wait_for(lambda: len(session.items) >= 1, 10)
    user = session.items[session.items.role == "user"].iloc[-1]
    assert np.array_equal(session.item_audio(user.item_id), original)


def test_short_push_to_talk_is_cleared_not_committed(session, browser):
    browser.w.mode = "push_to_talk"
    wait_for(lambda: session.config["audio"]["input"]["turn_detection"] is None)
    browser.ready("v")
    _ptt_turn(browser, "v", [np.zeros(480, np.int16)])     # 20 ms
    wait_for(lambda: browser.comm.custom("notice"))
    settle()
    types = list(session.events.type)
    assert "input_audio_buffer.commit" not in types and "error" not in types
    assert browser.w.status == "listening"


def test_mic_audio_only_from_the_owner_and_only_while_held_in_ptt(session, browser):
    browser.w.mode = "push_to_talk"
    wait_for(lambda: session.config["audio"]["input"]["turn_detection"] is None)
    browser.ready("a")
    browser.ready("b")
    chunk = np.ones(960, np.int16).tobytes()
    browser.deliver({"type": "audio", "view": "b", "seq": 1}, [chunk])    # not the owner
    browser.deliver({"type": "audio", "view": "a", "seq": 1}, [chunk])    # not held
    settle()
    assert w_stats(browser)["mic_chunks"] == 0


# -- barge-in and truncation ---------------------------------------------------------------------

def _wait_audio(session: rt.Session, browser: FakeBrowser, samples: int) -> str:
    def enough() -> str | None:
        rec = w_stats(browser)["received"]
        return next((i for i, n in rec.items() if n >= samples), None)
    return wait_for(enough, 20)  # type: ignore[no-any-return]


def test_ptt_press_truncates_at_what_was_played(slow_session):
    w = RealtimeWidget(slow_session, mode="push_to_talk")
    browser = FakeBrowser(w)
    try:
        wait_for(lambda: slow_session.config["audio"]["input"]["turn_detection"] is None)
        browser.ready("v")
        slow_session.say("Tell me a long story about a lighthouse keeper and his cat", wait=False)
        item = _wait_audio(slow_session, browser, 24000)            # 1 s received
        browser.played = {item: 12000}                              # the listener heard 0.5 s
        browser.deliver({"type": "ptt", "view": "v", "down": True})
        wait_for(lambda: w_stats(browser)["truncates"], 10)
        record = w_stats(browser)["truncates"][0]
        assert record["item_id"] == item and record["audio_end_ms"] == 500
        wait_for(lambda: "conversation.item.truncated" in set(slow_session.events.type), 10)
        assert "error" not in set(slow_session.events.type)
        assert slow_session.items.set_index("item_id").loc[item, "truncated_at_ms"] == 500
        # the cut item's later audio is no longer forwarded, and the transcript shows the cut
        sent = sum(c["samples"] for c, _ in browser.audio_out() if c["item_id"] == item)
        time.sleep(0.3)
        assert sum(c["samples"] for c, _ in browser.audio_out() if c["item_id"] == item) == sent
        assert browser.comm.custom("truncated")[0][0]["audio_end_ms"] == 500
        entries = [e for c, _ in browser.comm.custom("update") for e in c.get("entries", []) if e["id"] == item]
        assert entries[-1]["truncated_ms"] == 500
        # the tooltip's "of Y s" is the audio received before the cut, not the truncated length
        assert entries[-1]["received_ms"] == record["received_samples"] * 1000 / 24000 >= 1000
        browser.deliver({"type": "ptt", "view": "v", "down": False})
    finally:
        w.close()


def test_truncate_never_goes_past_the_audio_received(slow_session):
    w = RealtimeWidget(slow_session, mode="push_to_talk")
    browser = FakeBrowser(w)
    try:
        wait_for(lambda: slow_session.config["audio"]["input"]["turn_detection"] is None)
        browser.ready("v")
        slow_session.say("Tell me another long story about the mountains", wait=False)
        item = _wait_audio(slow_session, browser, 4800)
        browser.played = {item: 10**9}                               # a player reporting nonsense
        browser.deliver({"type": "ptt", "view": "v", "down": True})
        record = wait_for(lambda: w_stats(browser)["truncates"], 10)[0]
        assert record["audio_end_ms"] <= record["received_samples"] * 1000 // 24000
        assert record["audio_end_ms"] == record["received_samples"] * 1000 // 24000
        wait_for(lambda: "conversation.item.truncated" in set(slow_session.events.type), 10)
        assert "error" not in set(slow_session.events.type)
        browser.deliver({"type": "ptt", "view": "v", "down": False})
    finally:
        w.close()


def test_speech_started_interrupts_the_owner_and_truncates(slow_session, speech_wav):
    w = RealtimeWidget(slow_session)
    browser = FakeBrowser(w)
    try:
        assert w.mode == "hands_free"
        browser.ready("v")
        slow_session.say("Tell me a long story about a river", wait=False)
        item = _wait_audio(slow_session, browser, 24000)
        browser.played = {item: 9600}
        pcm, _ = speech_wav
        for i in range(0, len(pcm), 960):                           # the user talks over it
            browser.deliver({"type": "audio", "view": "v", "seq": i}, [pcm[i:i + 960].tobytes()])
        record = wait_for(lambda: w_stats(browser)["truncates"], 20)[0]
        assert record["item_id"] == item and record["audio_end_ms"] == 400
        assert browser.interrupts and w_stats(browser)["interrupts"] >= 1
        wait_for(lambda: "conversation.item.truncated" in set(slow_session.events.type), 10)
        assert "error" not in set(slow_session.events.type)
        with browser.comm.lock:
            sent = [d for d, _ in browser.comm.sent]
        assert any(d.get("method") == "custom" and d["content"].get("type") == "interrupt" for d in sent)
        # the page's pill follows the events themselves: no status trait message, only the interrupt
        assert not [d for d in sent if d.get("method") == "update" and "status" in d.get("state", {})]
    finally:
        w.close()


def test_interrupt_with_nothing_played_does_not_truncate(session, browser):
    browser.ready("v")
    session.say("Short one")
    wait_for(lambda: browser.comm.custom("audio_end"))
    item = browser.audio_out()[0][0]["item_id"]
    received = w_stats(browser)["received"][item]
    browser.played = {item: received}                          # heard it all: nothing to cut
    assert wb.run_on_loop(lambda: None) is None
    result = _run_truncate(browser, item, received)
    assert result is None and w_stats(browser)["truncates"] == []


def _run_truncate(browser: FakeBrowser, item: str, played: int) -> Any:
    from realtime_nb.client import _loop

    async def go() -> Any:
        return await browser.w._bridge.truncate(item, played)
    return _loop.run_sync(go(), 10)


# -- settings ↔ session config -------------------------------------------------------------------

def test_mode_and_vad_map_to_turn_detection(session, browser):
    w = browser.w
    w.mode = "push_to_talk"
    wait_for(lambda: session.config["audio"]["input"]["turn_detection"] is None)
    w.vad = "semantic_vad"
    w.mode = "manual"
    td = wait_for(lambda: session.config["audio"]["input"]["turn_detection"])
    assert td["type"] == "semantic_vad" and td["create_response"] is False
    w.mode = "hands_free"
    wait_for(lambda: (session.config["audio"]["input"]["turn_detection"] or {}).get("create_response") is True)
    w.barge_in = False
    wait_for(lambda: session.config["audio"]["input"]["turn_detection"]["interrupt_response"] is False)
    # and the other way: a change made from a cell shows in the widget
    session.update(turn_detection=None)
    wait_for(lambda: w.mode == "push_to_talk")
    settle()
    assert session.config["audio"]["input"]["turn_detection"] is None   # no echo back


def test_voice_changes_until_the_model_has_spoken(session, browser):
    w = browser.w
    browser.ready("v")
    assert w.voice == session.config["audio"]["output"]["voice"] and not w.voice_locked
    w.voice = "marin"
    wait_for(lambda: session.config["audio"]["output"]["voice"] == "marin")
    session.say("Speak!")
    wait_for(lambda: w.voice_locked)
    assert w.status in ("listening", "speaking")


def test_status_follows_the_conversation_and_errors_are_shown(session, browser):
    w = browser.w
    browser.ready("v")
    seen: list[str] = []
    w.observe(lambda ch: seen.append(ch["new"]), "status")
    session.say("Hi")
    wait_for(lambda: w.status == "listening")
    assert "thinking" in seen and "speaking" in seen
    with pytest.raises(rt.RealtimeError):
        session.send({"type": "scooby.dooby.doo"})
    wait_for(lambda: w.last_error)
    assert "invalid" in w.last_error or "scooby" in w.last_error


def test_transcript_updates_and_event_rows(session, browser):
    browser.ready("v")
    r = session.say("What a nice day")
    wait_for(lambda: browser.comm.custom("update"))
    settle()
    entries: dict[str, dict[str, Any]] = {}
    rows: list[list[Any]] = []
    for c, _ in browser.comm.custom("update"):
        for e in c.get("entries", []):
            entries[e["id"]] = e
        rows += c.get("events", [])
    assistant = [e for e in entries.values() if e["kind"] == "assistant"]
    assert assistant[-1]["text"] == r.transcript and assistant[-1]["status"] == "completed"
    assert any(e["kind"] == "user" and e["text"] == "What a nice day" for e in entries.values())
    deltas = [row for row in rows if row[2] == "response.output_audio.delta"]
    assert deltas and sum(row[6] for row in deltas) >= len(deltas)   # merged rows carry counts


def test_out_of_band_results_are_marked(session, browser):
    browser.ready("v")
    session.say("I want to buy the product")
    label = session.classify("Support or sales?", labels=["support", "sales"], metadata={"topic": "routing"})
    settle()
    entries = [e for c, _ in browser.comm.custom("update") for e in c.get("entries", [])]
    oob = [e for e in entries if e["oob"]]
    assert oob and oob[-1]["text"] == label and oob[-1]["metadata"]["topic"] == "routing"
    assert all(not e["oob"] for e in entries if e["id"] in set(session.items.item_id))


def test_compact_rows_merges_streams():
    rows = [EventRow(0.1, "received", "response.output_audio.delta", None, "r", "i", 10, None),
            EventRow(0.2, "received", "response.output_audio.delta", None, "r", "i", 10, None),
            EventRow(0.3, "received", "response.done", None, "r", None, 10, None),
            EventRow(0.4, "sent", "input_audio_buffer.append", "e1", None, None, 10, None),
            EventRow(0.5, "sent", "input_audio_buffer.append", "e2", None, None, 10, None)]
    assert wb.compact_rows(rows) == [
        [0.2, "received", "response.output_audio.delta", "i", "r", None, 2],
        [0.3, "received", "response.done", None, "r", None, 1],
        [0.5, "sent", "input_audio_buffer.append", None, None, None, 2],
    ]
    # the mic's appends (sent) interleaved with a reply's deltas stay two rows, and a sent truncate shows
    mixed = [EventRow(0.1 * k, "sent" if k % 2 else "received",
                      "input_audio_buffer.append" if k % 2 else "response.output_audio.delta",
                      None, None if k % 2 else "r", None if k % 2 else "i", 10, None) for k in range(1, 11)]
    mixed.append(EventRow(1.1, "sent", "conversation.item.truncate", "e9", None, "i", 10, None))
    mixed.append(EventRow(1.2, "sent", "input_audio_buffer.append", "e10", None, None, 10, None))
    assert [(r[1], r[2], r[6]) for r in wb.compact_rows(mixed)] == [
        ("sent", "input_audio_buffer.append", 5), ("received", "response.output_audio.delta", 5),
        ("sent", "conversation.item.truncate", 1), ("sent", "input_audio_buffer.append", 1)]


def test_turn_detection_mapping():
    assert wb.turn_detection_for("push_to_talk", "server_vad") is None
    assert wb.turn_detection_for("hands_free", "semantic_vad") == {
        "type": "semantic_vad", "create_response": True, "interrupt_response": True}
    assert wb.turn_detection_for("hands_free", "server_vad", barge_in=False)["interrupt_response"] is False
    assert wb.turn_detection_for("manual", "server_vad")["interrupt_response"] is False
    assert wb.mode_from_config({"audio": {"input": {"turn_detection": None}}}) == ("push_to_talk", None)
    assert wb.mode_from_config({"audio": {"input": {"turn_detection": {
        "type": "server_vad", "create_response": False}}}}) == ("manual", "server_vad")


def test_tool_calls_and_outputs_are_entries(session, browser):
    browser.ready("v")

    @session.tool
    def generate_horoscope(sign: Literal["Aries", "Aquarius"]) -> dict:
        """Today's horoscope for a sign."""
        return {"horoscope": f"{sign}: a good day"}

    session.say("What is my horoscope? I am an aquarius.")
    settle()
    entries: dict[str, dict[str, Any]] = {}
    for c, _ in browser.comm.custom("update"):
        for e in c.get("entries", []):
            entries[e["id"]] = e
    call = next(e for e in entries.values() if e["kind"] == "tool_call")
    output = next(e for e in entries.values() if e["kind"] == "tool_output")
    assert call["name"] == "generate_horoscope" and json.loads(call["arguments"]) == {"sign": "Aquarius"}
    assert output["call_id"] == call["call_id"] and "a good day" in output["output"]
    order = [c["order"] for c, _ in browser.comm.custom("update") if "order" in c][-1]
    assert order.index(call["id"]) < order.index(output["id"])


def _status_syncs(browser: FakeBrowser) -> list[str]:
    with browser.comm.lock:
        return [d["state"]["status"] for d, _ in browser.comm.sent
                if d.get("method") == "update" and "status" in d.get("state", {})]


def test_the_status_trait_follows_each_turn_but_only_closed_goes_to_the_page(server):
    s = rt.connect(url=server.url)
    w = RealtimeWidget(s)
    browser = FakeBrowser(w)
    browser.ready("v")
    seen: list[str] = []
    w.observe(lambda change: seen.append(change["new"]), names="status")
    s.say("Hello there")
    wait_for(lambda: w.status == "listening" and "speaking" in seen, 10)
    assert "thinking" in seen and _status_syncs(browser) == []      # the pill is the page's own (status.js)
    assert w.get_state("status") == {"status": "listening"}           # what a new view gets with the state
    s.close()
    wait_for(lambda: w.status == "closed", 5)
    assert _status_syncs(browser) == ["closed"]                     # the page ends its views on it
    w.close()


def test_closing_the_session_shows_closed(server):
    s = rt.connect(url=server.url)
    w = RealtimeWidget(s)
    browser = FakeBrowser(w)
    browser.ready("v")
    s.close()
    wait_for(lambda: w.status == "closed", 5)
    browser.deliver({"type": "audio", "view": "v"}, [np.zeros(960, np.int16).tobytes()])   # ignored, no crash
    settle()
    assert w.last_error == ""
    w.close()


def test_a_view_that_starts_mid_item_truncates_in_item_time(slow_session):
    w = RealtimeWidget(slow_session, mode="push_to_talk")
    browser = FakeBrowser(w)
    try:
        wait_for(lambda: slow_session.config["audio"]["input"]["turn_detection"] is None)
        slow_session.say("Tell me a long story about the old harbour", wait=False)
        item = _wait_audio(slow_session, browser, 12000)            # 0.5 s before any view is there
        browser.ready("late")
        wait_for(lambda: browser.audio_out("late"))
        first = browser.audio_out("late")[0][0]
        assert first["item_id"] == item
        wait_for(lambda: w_stats(browser)["received"][item] >= 36000, 20)
        browser.played = {item: 4800}                               # it played 0.2 s of what it got
        browser.deliver({"type": "ptt", "view": "late", "down": True})
        record = wait_for(lambda: w_stats(browser)["truncates"], 10)[0]
        sent_before = record["played_samples"] - 4800
        assert sent_before >= 12000                                  # the audio the late view never got
        assert record["audio_end_ms"] == record["played_samples"] * 1000 // 24000
        wait_for(lambda: "conversation.item.truncated" in set(slow_session.events.type), 10)
        assert "error" not in set(slow_session.events.type)
        browser.deliver({"type": "ptt", "view": "late", "down": False})
    finally:
        w.close()


def test_session_displays_as_its_widget_in_a_kernel(session, monkeypatch):
    import realtime_nb.notebook as notebook_module

    monkeypatch.setattr(notebook_module, "in_kernel", lambda: True)
    bundle = session._repr_mimebundle_()
    data = bundle[0] if isinstance(bundle, tuple) else bundle
    assert data["application/vnd.jupyter.widget-view+json"]["model_id"] == session.widget.model_id
    assert data["text/plain"] == repr(session)
    session.widget.close()


def test_mic_alone_updates_the_event_log_a_few_times_a_second(session, browser):
    """The mic's appends only bump a counter in the event log: they flush every 250 ms, not every 40."""
    browser.ready("v")
    settle()
    before = len(browser.comm.custom("update"))
    silence = np.zeros(960, dtype=np.int16).tobytes()
    for i in range(25):                                              # 1 s of mic audio, 40 ms at a time
        browser.deliver({"type": "audio", "view": "v", "seq": i}, [silence])
        time.sleep(0.04)
    wait_for(lambda: w_stats(browser)["mic_chunks"] == 25)
    time.sleep(wb.STREAM_FLUSH_S + 0.1)
    updates = [c for c, _ in browser.comm.custom("update")[before:]]
    assert 2 <= len(updates) <= 8, len(updates)
    rows = [r for u in updates for r in u.get("events", []) if r[2] == "input_audio_buffer.append"]
    assert sum(r[6] for r in rows) == 25                             # every append is counted
