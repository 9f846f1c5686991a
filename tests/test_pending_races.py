"""Matching replies when the server acts by itself (server VAD), without sockets.

Two layers, both fed recorded event sequences in the GA order of docs/protocol.md §4(b)/(c):

- ``Pending`` alone: which pending request a ``response.created`` / ``input_audio_buffer.committed``
  answers;
- ``Client`` with a socket stand-in that only records what is sent: what ``say()`` / ``commit()`` give
  back when the server's VAD turn lands in the middle of them.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from realtime_nb.client import _audio_in, _ops
from realtime_nb.client._connection import Client
from realtime_nb.client._pending import TAG_KEY, Op, Pending, tag_request, untag
from realtime_nb.client._target import Target
from realtime_nb.errors import RealtimeError

Event = dict[str, Any]


# -- recorded sequences ------------------------------------------------------------------------------

def vad_turn(item_id: str, prev: str | None = None) -> list[Event]:
    """The server ends a spoken turn by itself (§4c): speech_stopped, then its commit of that item."""
    user = {"id": item_id, "type": "message", "status": "completed", "role": "user",
            "content": [{"type": "input_audio", "transcript": None}]}
    return [
        {"type": "input_audio_buffer.speech_started", "audio_start_ms": 500, "item_id": item_id},
        {"type": "input_audio_buffer.speech_stopped", "audio_end_ms": 2500, "item_id": item_id},
        {"type": "input_audio_buffer.committed", "item_id": item_id, "previous_item_id": prev},
        {"type": "conversation.item.added", "item": user, "previous_item_id": prev},
        {"type": "conversation.item.done", "item": user, "previous_item_id": prev},
    ]


def manual_commit(item_id: str, prev: str | None = None) -> list[Event]:
    """The reply to an ``input_audio_buffer.commit`` (§4d)."""
    user = {"id": item_id, "type": "message", "status": "completed", "role": "user",
            "content": [{"type": "input_audio", "transcript": None}]}
    return [
        {"type": "input_audio_buffer.committed", "item_id": item_id, "previous_item_id": prev},
        {"type": "conversation.item.added", "item": user, "previous_item_id": prev},
        {"type": "conversation.item.done", "item": user, "previous_item_id": prev},
    ]


def user_text(item_id: str, text: str, prev: str | None = None) -> list[Event]:
    item = {"id": item_id, "type": "message", "status": "completed", "role": "user",
            "content": [{"type": "input_text", "text": text}]}
    return [{"type": "conversation.item.added", "item": item, "previous_item_id": prev},
            {"type": "conversation.item.done", "item": item, "previous_item_id": prev}]


def text_response(rid: str, text: str, metadata: Any = None, prev: str | None = None,
                  conversation_id: str | None = "conv_1") -> list[Event]:
    """A whole text response (§4b), with the metadata the server echoes."""
    aid = f"item_{rid}"
    loc = {"response_id": rid, "item_id": aid, "output_index": 0, "content_index": 0}
    obj = {"object": "realtime.response", "id": rid, "status": "in_progress", "status_details": None,
           "output": [], "conversation_id": conversation_id, "output_modalities": ["text"],
           "max_output_tokens": "inf", "usage": None, "metadata": metadata}
    item = {"id": aid, "type": "message", "status": "in_progress", "role": "assistant", "content": []}
    final = {**item, "status": "completed", "content": [{"type": "output_text", "text": text}]}
    in_band = conversation_id is not None
    return [
        {"type": "response.created", "response": obj},
        {"type": "response.output_item.added", "response_id": rid, "output_index": 0, "item": item},
        *([{"type": "conversation.item.added", "item": item, "previous_item_id": prev}] if in_band else []),
        {"type": "response.content_part.added", **loc, "part": {"type": "text", "text": ""}},
        {"type": "response.output_text.delta", **loc, "delta": text},
        {"type": "response.output_text.done", **loc, "text": text},
        {"type": "response.content_part.done", **loc, "part": {"type": "text", "text": text}},
        *([{"type": "conversation.item.done", "item": final, "previous_item_id": prev}] if in_band else []),
        {"type": "response.output_item.done", "response_id": rid, "output_index": 0, "item": final},
        {"type": "response.done", "response": {**obj, "status": "completed", "output": [final],
                                               "usage": {"total_tokens": 3}}},
    ]


def busy_error(event_id: str, rid: str) -> Event:
    return {"type": "error", "error": {
        "type": "invalid_request_error", "code": "conversation_already_has_active_response",
        "message": f"Conversation already has an active response in progress: {rid}. Wait until the "
                   "response is finished before creating a new one.", "param": None, "event_id": event_id}}


# -- Pending alone ---------------------------------------------------------------------------------

class Router:
    """Feeds events to a ``Pending`` the way ``Client`` routes them."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.pending = Pending()
        self.matched: list[tuple[str, Op | None]] = []   # response id -> the request it answered

    def close(self) -> None:
        self.loop.close()

    def op(self, event_id: str, reply: str, *, key: str | None = None, band: str = "auto", tag: bool = True,
           metadata: Any = None, after: tuple[Op, ...] = ()) -> Op:
        op = Op(event_id, self.loop.create_future(), reply, key, metadata=metadata)
        op.after = after
        if reply == "response.created" and tag:
            op.tag = event_id
        self.pending.add(op, band)
        return op

    def feed(self, events: list[Event]) -> None:
        for event in json.loads(json.dumps(events)):   # as decoded from the wire
            etype = event["type"]
            if etype in ("input_audio_buffer.speech_stopped", "input_audio_buffer.timeout_triggered"):
                self.pending.on_auto_commit_announced(event)
            elif etype in ("input_audio_buffer.committed", "session.updated", "input_audio_buffer.cleared"):
                self.pending.on_fifo_reply(event)
            elif etype == "conversation.item.added":
                self.pending.on_item_reply(event, event["item"]["id"], 0)
            elif etype == "response.created":
                tag = untag(event)
                obj = event["response"]
                op = self.pending.take_create(obj["conversation_id"] is None, obj["metadata"], tag)
                self.matched.append((obj["id"], op))


@pytest.fixture
def router():
    r = Router()
    yield r
    r.close()


def test_vad_response_before_the_say_items_takes_no_request(router):
    """The say's item is not added yet when the VAD's response.created arrives: not the say's reply,
    even before the server has shown that it echoes tags."""
    item = router.op("e1", "conversation.item.added", key="item_say")
    say = router.op("e2", "response.created", after=(item,))
    router.feed(vad_turn("item_u1") + text_response("resp_vad", "I heard 2.0 seconds of audio.", prev="item_u1")
                + user_text("item_say", "hi", prev="item_resp_vad")
                + text_response("resp_say", "You said: hi", {TAG_KEY: "e2"}, prev="item_say"))
    assert router.matched == [("resp_vad", None), ("resp_say", say)]
    assert say.future.result() is None   # resolved with its Response (None here)


def test_untagged_response_after_an_echo_is_the_servers(router):
    """The microphone keeps streaming: the VAD's response is created after the say's item was added.
    Once the server has echoed a tag, an untagged response.created is the server's own."""
    first = router.op("e1", "response.created")
    router.feed(text_response("resp_1", "Hello!", {TAG_KEY: "e1"}))
    item = router.op("e2", "conversation.item.added", key="item_say")
    say = router.op("e3", "response.created", after=(item,))
    router.feed(user_text("item_say", "hi") + vad_turn("item_u1", prev="item_say")
                + text_response("resp_vad", "I heard 2.0 seconds of audio.")
                + text_response("resp_say", "You said: hi", {TAG_KEY: "e3"}))
    assert router.matched == [("resp_1", first), ("resp_vad", None), ("resp_say", say)]


def test_without_echoed_tags_responses_match_in_order(router):
    """A server that does not echo metadata: first-in first-out, as before (only ready requests)."""
    item = router.op("e1", "conversation.item.added", key="item_a")
    a = router.op("e2", "response.created", after=(item,))
    b = router.op("e3", "response.created")
    router.feed(user_text("item_a", "a") + text_response("resp_a", "A") + text_response("resp_b", "B"))
    assert router.matched == [("resp_a", a), ("resp_b", b)]
    assert not router.pending.echoes["auto"]


def test_without_echoed_tags_a_vad_response_before_the_items_is_still_skipped(router):
    item = router.op("e1", "conversation.item.added", key="item_say")
    say = router.op("e2", "response.created", after=(item,))
    router.feed(vad_turn("item_u1") + text_response("resp_vad", "I heard it.")
                + user_text("item_say", "hi") + text_response("resp_say", "You said: hi"))
    assert router.matched == [("resp_vad", None), ("resp_say", say)]


def test_echo_is_learned_per_conversation(router):
    """Tags echoed out of band say nothing about in-band responses."""
    oob = router.op("e1", "response.created", band="none", metadata={"topic": "x"})
    router.feed(text_response("resp_oob", "x", {"topic": "x", TAG_KEY: "e1"}, conversation_id=None))
    assert router.pending.echoes == {"auto": False, "none": True}
    inband = router.op("e2", "response.created")
    router.feed(text_response("resp_in", "y"))   # this server echoes nothing in band: matched in order
    assert router.matched == [("resp_oob", oob), ("resp_in", inband)]


def test_requests_we_could_not_tag_still_match_in_order(router):
    router.feed(text_response("resp_1", "x", {TAG_KEY: "e0"}))   # echoes (e0 is long gone)
    full = router.op("e1", "response.created", tag=False)
    router.feed(text_response("resp_2", "y", {f"k{i}": "v" for i in range(16)}))
    assert router.matched == [("resp_1", None), ("resp_2", full)]


def test_vad_commit_does_not_complete_a_manual_commit(router):
    """commit() is pending when the VAD ends a turn: the VAD's item (announced by speech_stopped) is
    not the commit's; the next committed is."""
    commit = router.op("e1", "input_audio_buffer.committed")
    router.feed(vad_turn("item_u1") + text_response("resp_vad", "I heard it.", prev="item_u1"))
    assert not commit.future.done()
    router.feed(manual_commit("item_u2", prev="item_resp_vad"))
    assert commit.future.result()["item_id"] == "item_u2"


def test_idle_timeout_commit_does_not_complete_a_manual_commit(router):
    commit = router.op("e1", "input_audio_buffer.committed")
    router.feed([{"type": "input_audio_buffer.timeout_triggered", "audio_start_ms": 0, "audio_end_ms": 6000,
                  "item_id": "item_t"}, *manual_commit("item_t")[:2]])
    assert not commit.future.done()
    router.feed(manual_commit("item_u2", prev="item_t"))
    assert commit.future.result()["item_id"] == "item_u2"


def test_manual_commit_during_speech_keeps_the_speech_item_id(router):
    """Committed mid-speech, the item takes the id speech_started announced; no speech_stopped came for
    it, so it is the commit's."""
    commit = router.op("e1", "input_audio_buffer.committed")
    router.feed(vad_turn("item_u1")[:1] + manual_commit("item_u1"))
    assert commit.future.result()["item_id"] == "item_u1"


def test_tag_request_merges_and_untag_restores():
    event, tag = tag_request({"type": "response.create"}, "rtnb_7")
    assert tag == "rtnb_7" and event == {"type": "response.create", "response": {"metadata": {TAG_KEY: "rtnb_7"}}}
    params = {"conversation": "none", "metadata": {"topic": "pizza"}}
    event, tag = tag_request({"type": "response.create", "response": params}, "rtnb_8")
    assert event["response"] == {"conversation": "none", "metadata": {"topic": "pizza", TAG_KEY: "rtnb_8"}}
    assert params == {"conversation": "none", "metadata": {"topic": "pizza"}}   # the caller's dict is kept
    full = {"type": "response.create", "response": {"metadata": {f"k{i}": "v" for i in range(16)}}}
    assert tag_request(full, "rtnb_9") == (full, None)                            # no room: not tagged

    echoed = {"type": "response.done", "response": {"id": "r", "metadata": {"topic": "pizza", TAG_KEY: "rtnb_8"}}}
    assert untag(echoed) == "rtnb_8" and echoed["response"]["metadata"] == {"topic": "pizza"}
    only = {"type": "response.created", "response": {"id": "r", "metadata": {TAG_KEY: "rtnb_7"}}}
    assert untag(only) == "rtnb_7" and only["response"]["metadata"] is None
    assert untag({"type": "response.created", "response": {"id": "r", "metadata": None}}) is None


# -- Client with a recording socket ----------------------------------------------------------------

class RecordingSocket:
    """Stands in for the websocket: ``write_now`` finds no transport, so frames go through ``send``."""

    def __init__(self) -> None:
        self.sent: list[Event] = []

    async def send(self, frame: str) -> None:
        self.sent.append(json.loads(frame))

    def last(self, etype: str) -> Event:
        return next(e for e in reversed(self.sent) if e["type"] == etype)


def run_client(script: Any) -> Any:
    async def main() -> Any:
        client = Client(Target("ws://127.0.0.1:9/v1", "url", "test"), "gpt-realtime",
                        "ws://127.0.0.1:9/v1/realtime?model=gpt-realtime")
        ws = RecordingSocket()
        client._ws = ws  # type: ignore[assignment]

        def feed(events: list[Event]) -> None:
            for event in events:
                client.receive(json.dumps(event))

        feed([{"type": "session.created", "session": {"type": "realtime"}}])
        return await script(client, ws, feed)

    return asyncio.run(main())


async def until(fut: Any) -> Any:
    for _ in range(100):
        if fut.done():
            return fut.result()
        await asyncio.sleep(0)
    raise AssertionError("not done")


def test_say_gets_its_own_response_when_the_vad_one_finishes_first():
    """The VAD's response is created and done before the server reads the say's response.create
    (docs/protocol.md §4c then §4b): the say returns the answer to its text, and the VAD's response is the
    server's own, with the user's (absent) metadata."""
    async def script(client: Client, ws: RecordingSocket, feed: Any) -> Any:
        task = asyncio.ensure_future(_ops.say(client, "hi", {}, wait=True, follow_tools=True))
        await asyncio.sleep(0)
        say_item = ws.last("conversation.item.create")["item"]["id"]
        create = ws.last("response.create")
        assert create["response"]["metadata"] == {TAG_KEY: create["event_id"]}
        feed(vad_turn("item_u1") + text_response("resp_vad", "I heard 2.0 seconds of audio.", prev="item_u1")
             + user_text(say_item, "hi", prev="item_resp_vad")
             + text_response("resp_say", "You said: hi", {TAG_KEY: create["event_id"]}, prev=say_item))
        return client, await until(task)

    client, resp = run_client(script)
    assert resp.id == "resp_say" and resp.text == "You said: hi" and not resp.automatic
    assert resp.metadata is None and resp.request == {}   # the tag is ours: hidden, and not in the request
    vad = client.get_response("resp_vad")
    assert vad.automatic and vad.text == "I heard 2.0 seconds of audio." and vad.metadata is None
    assert [r.id for r in client.responses] == ["resp_vad", "resp_say"]
    assert client.state.responses["resp_say"].metadata is None


def test_say_is_sent_again_after_the_vad_response_in_its_way():
    """The VAD's response is still running when the say's response.create arrives: the server refuses
    it; the say is sent again when that response is done and returns the answer to its text."""
    async def script(client: Client, ws: RecordingSocket, feed: Any) -> Any:
        task = asyncio.ensure_future(_ops.say(client, "hi", {"output_modalities": ["text"]}, wait=True,
                                              follow_tools=True))
        await asyncio.sleep(0)
        say_item = ws.last("conversation.item.create")["item"]["id"]
        first = ws.last("response.create")
        vad = text_response("resp_vad", "I heard 2.0 seconds of audio.", prev="item_u1")
        feed(vad_turn("item_u1") + vad[:3] + user_text(say_item, "hi", prev="item_u1")
             + [busy_error(first["event_id"], "resp_vad")])
        await asyncio.sleep(0)
        assert not task.done() and ws.last("response.create") is first   # waits for the VAD response
        feed(vad[3:])
        for _ in range(20):
            await asyncio.sleep(0)
        again = ws.last("response.create")
        assert again is not first and again["event_id"] != first["event_id"]
        assert again["response"] == {"output_modalities": ["text"], "metadata": {TAG_KEY: again["event_id"]}}
        feed(text_response("resp_say", "You said: hi", {TAG_KEY: again["event_id"]}, prev=say_item))
        return client, await until(task)

    client, resp = run_client(script)
    assert resp.id == "resp_say" and resp.text == "You said: hi"
    assert client.get_response("resp_vad").automatic
    assert "create_retry" in [r.type for r in client.log.rows()]


def test_a_busy_error_for_our_own_response_still_raises():
    """Only a response the server started by itself is waited for; two of ours collide as before."""
    async def script(client: Client, ws: RecordingSocket, feed: Any) -> Any:
        first = await _ops.respond(client, {}, wait=False)
        one = ws.last("response.create")
        feed(text_response("resp_1", "one", {TAG_KEY: one["event_id"]})[:2])
        task = asyncio.ensure_future(_ops.respond(client, {}, wait=True))
        await asyncio.sleep(0)
        feed([busy_error(ws.last("response.create")["event_id"], "resp_1")])
        with pytest.raises(RealtimeError) as info:
            await until(task)
        return first, info.value

    first, err = run_client(script)
    assert err.code == "conversation_already_has_active_response" and first.id == "resp_1"


def test_commit_returns_its_own_item_when_the_vad_commits_first():
    async def script(client: Client, ws: RecordingSocket, feed: Any) -> Any:
        task = asyncio.ensure_future(_ops.commit(client))
        await asyncio.sleep(0)
        feed(vad_turn("item_u1") + manual_commit("item_u2", prev="item_u1"))
        return await until(task)

    assert run_client(script) == "item_u2"


def test_a_tagged_response_nobody_waits_for_is_not_taken_for_a_vad_one():
    """Our tag names a request we stopped waiting for: still not a server-started response."""
    async def script(client: Client, ws: RecordingSocket, feed: Any) -> Any:
        loop = asyncio.get_running_loop()
        turn = _audio_in.AudioTurn(loop.create_future(), loop.create_future())
        client.audio_turns.append(turn)
        feed(text_response("resp_1", "x", {TAG_KEY: "rtnb_99"}))
        return client.get_response("resp_1"), turn

    resp, turn = run_client(script)
    assert not resp.automatic and resp.metadata is None and not turn.responses
