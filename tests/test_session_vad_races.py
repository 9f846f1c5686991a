"""say() and commit() while the server's VAD ends a spoken turn, against the local server.

Each race is made deterministic on the client's side: the end of the turn (trailing silence) and the
call under test are sent in one step on the session's loop, so the call is pending before any of the
server's VAD events is read. Where the server's timing matters too, the loop is held until the server
is in the state the race needs (``LocalServer.engines``), so no reply can be read in between.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import realtime_nb as rt
from realtime_nb.client import _loop
from realtime_nb.server import LocalServer

SILENCE = np.zeros(24000, np.int16)   # 1 s: ends the turn (silence_duration_ms 200) and leaves ~0.8 s


@pytest.fixture(scope="module")
def own_server():
    """A fast server of this module's own, so its one engine is ours."""
    with LocalServer(port=0) as srv:
        yield srv


def wait_until(cond: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.01)


def types(s: rt.Session) -> list[str]:
    return list(s.events["type"])


def start_speaking(s: rt.Session, speech_wav: Any) -> None:
    """Send the sentence without the silence after it: the server's VAD is in the turn, not done."""
    pcm, [(_, end_ms)] = speech_wav
    s.append_audio(pcm[:int(end_ms * 24)])
    wait_until(lambda: "input_audio_buffer.speech_started" in types(s))
    assert "input_audio_buffer.speech_stopped" not in types(s)


def on_loop(coro: Any) -> Any:
    return _loop.run_sync(coro)


def server_answered_by_itself(engine: Any) -> bool:
    """The engine's VAD response is done (read from another thread: retry on a concurrent change)."""
    try:
        items = engine.conversation.snapshot()
    except RuntimeError:
        return False
    done = [i for i in items if i.get("role") == "assistant" and i.get("status") == "completed"]
    return engine.inband is None and bool(done)


def test_say_as_the_turn_ends_returns_the_answer_to_its_text(own_server, speech_wav):
    """The VAD's response is created and finished before the server reads the say's response.create.
    The say was pending when the VAD's response.created arrived, but that response is not its answer."""
    with rt.connect(url=own_server.url, output_modalities=["text"]) as s:
        engine = own_server.engines[-1]
        start_speaking(s, speech_wav)

        async def race() -> rt.Response:
            await s.aappend_audio(SILENCE)
            wait_until(lambda: server_answered_by_itself(engine))   # holds the loop: nothing is read
            return await s.asay("Tell me about the weather", wait=False)

        r = on_loop(race()).wait(10)
        assert r.text == "You said: Tell me about the weather"
        assert not r.automatic and r.status == "completed"
        vad = [x for x in (s.get_response(rid) for rid in s.responses["response_id"]) if x is not r]
        assert len(vad) == 1 and vad[0].automatic and vad[0].text.startswith("I heard ")
        assert vad[0].metadata is None and r.metadata is None     # the matching tag is not shown
        assert s.responses["metadata"].isna().all()


def test_say_while_the_vad_response_runs_is_answered_after_it(slow_server, speech_wav):
    """The VAD's (spoken, real-time) response is running when the say's response.create arrives, so
    the server refuses it; the say waits for that response and is then answered."""
    with rt.connect(url=slow_server.url) as s:
        start_speaking(s, speech_wav)

        async def race() -> rt.Response:
            await s.aappend_audio(SILENCE)
            return await s.asay("Tell me about the weather", wait=False, output_modalities=["text"])

        r = on_loop(race()).wait(30)
        assert r.text == "You said: Tell me about the weather" and not r.automatic
        vad = s.get_response(s.responses["response_id"].iloc[0])
        assert vad is not r and vad.automatic and vad.transcript.startswith("I heard ")
        assert r.created_at >= vad.done_at
        assert "conversation_already_has_active_response" in set(s.events["error_code"].dropna())  # the race


def test_commit_as_the_turn_ends_returns_its_own_item(own_server, speech_wav):
    """commit() is pending when the VAD commits the sentence: it returns the item of the audio it
    committed (the silence after the VAD's cut), not the VAD's item."""
    with rt.connect(url=own_server.url, output_modalities=["text"]) as s:
        start_speaking(s, speech_wav)

        async def race() -> str:
            await s.aappend_audio(SILENCE)
            return await s.acommit()

        item_id = on_loop(race())
        events = s.events
        vad_item = events.loc[events["type"] == "input_audio_buffer.speech_stopped", "item_id"].iloc[0]
        assert item_id != vad_item
        committed = list(events.loc[events["type"] == "input_audio_buffer.committed", "item_id"])
        assert committed == [vad_item, item_id]
        mine, theirs = s.item_audio(item_id), s.item_audio(vad_item)
        assert 0 < len(mine) < len(SILENCE) and not mine.any()   # the rest of the silence we sent
        assert np.abs(theirs).max() > 1000                        # the sentence
