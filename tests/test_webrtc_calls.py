"""WebRTC calls against the real LocalServer: an aiortc peer (``rtcpeer.Browser``) on loopback.

Speech in on the mic track → the server's VAD and brain → voice out on the remote track; the events on
the ``oai-events`` channel; the ``?call_id=`` sideband (a kernel ``Session``) seeing the same events and
updating the session; barge-in cut at what was actually sent. Every event validates with the SDK.
"""

from __future__ import annotations

import asyncio
import re
import time

import numpy as np
import pytest

pytest.importorskip("aiortc")

from rtcpeer import Browser

import realtime_nb as rt
from realtime_nb.client.calls import acreate_call


def run(coro, timeout: float = 90.0):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def candidates(sdp: str) -> list[str]:
    return re.findall(r"a=candidate:\S+ \d+ udp \d+ (\S+) \d+ typ", sdp)


def engine_with(server, item_id: str):
    return next(e for e in list(server.engines) if item_id in e.conversation)


def loud_ms(pcm: np.ndarray, level: float = 300.0) -> float:
    blocks = [pcm[i:i + 480] for i in range(0, len(pcm) - 479, 480)]
    return sum(480 for b in blocks if np.sqrt(np.mean(b.astype(np.float64) ** 2)) > level) / 24


def test_a_spoken_turn_in_on_the_mic_track_is_answered_on_the_voice_track(server, speech_wav):
    pcm, truth = speech_wav

    async def main():
        b = Browser()
        answer = await acreate_call(await b.offer(), url=server.url)
        assert answer.call_id.startswith("rtc_")
        assert candidates(answer.sdp) and set(candidates(answer.sdp)) == {"127.0.0.1"}  # loopback only
        await b.accept(answer.sdp)
        await b.until("session.created")
        assert b.events[0]["type"] == "session.created"
        b.mic.say(pcm)
        started = await b.until("input_audio_buffer.speech_started")
        stopped = await b.until("input_audio_buffer.speech_stopped")
        heard_ms = stopped["audio_end_ms"] - started["audio_start_ms"]
        spoken_ms = truth[0][1] - truth[0][0]
        assert abs(heard_ms - spoken_ms) < 600, (heard_ms, spoken_ms)   # the track carried the speech intact
        created = await b.until("response.created")
        rid = created["response"]["id"]
        playing = await b.until("output_audio_buffer.started", response_id=rid)
        t_play = time.monotonic()
        done = await b.until("response.done")
        assert done["response"]["id"] == rid and done["response"]["status"] == "completed"
        await b.until("output_audio_buffer.stopped", timeout=20, response_id=rid)
        item_id = done["response"]["output"][0]["id"]
        engine = engine_with(server, item_id)
        sent = engine.conversation.audio(item_id)
        # the voice arrived on the track, about as long as what the server said
        received = b.loud_ms(since=t_play - 0.1)
        assert received == pytest.approx(loud_ms(sent), rel=0.25, abs=120), (received, loud_ms(sent))
        types = b.types()
        assert "response.output_audio.delta" not in types          # audio travels on the track only
        assert types.index("output_audio_buffer.started") > types.index("response.created")
        assert types.index("output_audio_buffer.stopped") > types.index("response.done")
        assert playing["response_id"] == rid
        await b.close()

    run(main())


def test_the_sideband_sees_the_calls_events_and_updates_its_session(server):
    async def main():
        b = Browser()
        answer = await acreate_call(await b.offer(), url=server.url, instructions="Talk like a pirate.")
        await b.accept(answer.sdp)
        created = await b.until("session.created")
        assert created["session"]["instructions"] == "Talk like a pirate."

        s = await rt.aconnect(url=server.url, call_id=answer.call_id)   # the kernel's sideband
        assert "call_id=" + answer.call_id in s.url and "model=" not in s.url
        assert s.config["id"] == created["session"]["id"]
        assert s.config["instructions"] == "Talk like a pirate."
        await s.aupdate(instructions="Talk like a poet.")
        updated = await b.until("session.updated")
        assert updated["session"]["instructions"] == "Talk like a poet."

        mark = len(b.events)
        b.send({"type": "conversation.item.create", "item": {"type": "message", "role": "user",
                                                             "content": [{"type": "input_text", "text": "Ahoy"}]}})
        b.send({"type": "response.create", "response": {"output_modalities": ["text"]}})
        done = await b.until("response.done", after=mark)
        assert done["response"]["output"][0]["content"][0]["text"] == "You said: Ahoy"
        await asyncio.sleep(0.3)
        seen = s.events
        got = set(seen[seen["direction"] == "received"]["event_id"])
        on_channel = {e["event_id"] for e in b.events[mark:]}
        assert on_channel <= got                                       # the very same events, ids and all
        # the sideband's DataFrames hold the turn the browser asked for
        assert "You said: Ahoy" in list(s.responses["text"])
        assert {"Ahoy", "You said: Ahoy"} <= set(s.items["text"].dropna())
        await s.aclose()
        # the call goes on without its sideband
        b.send({"type": "response.create", "response": {"output_modalities": ["text"]}})
        await b.until("response.done", after=len(b.events))
        await b.close()

    run(main())


def test_barge_in_cuts_the_voice_and_truncates_at_what_was_sent(server, speech_wav):
    pcm, _ = speech_wav
    long_text = "Tell me " + "about the long history of the river and the town beside it, " * 4

    async def main():
        b = Browser()
        answer = await acreate_call(await b.offer(), url=server.url,
                                    turn_detection={"type": "server_vad", "create_response": False,
                                                    "interrupt_response": True})
        await b.accept(answer.sdp)
        await b.until("session.created")
        b.send({"type": "conversation.item.create", "item": {"type": "message", "role": "user",
                                                             "content": [{"type": "input_text", "text": long_text}]}})
        b.send({"type": "response.create"})
        created = await b.until("response.created")
        rid = created["response"]["id"]
        await b.until("output_audio_buffer.started", response_id=rid)
        t_started = time.monotonic()
        await asyncio.sleep(1.5)
        b.mic.say(pcm)
        await b.until("input_audio_buffer.speech_started")
        cleared = await b.until("output_audio_buffer.cleared", response_id=rid)
        t_cleared = time.monotonic()
        truncated = await b.until("conversation.item.truncated")
        item_id = truncated["item_id"]
        played_window_ms = (t_cleared - t_started) * 1000
        # cut at what was sent: at least the 1.5 s played before the user spoke, at most until the cut
        assert 1400 <= truncated["audio_end_ms"] <= played_window_ms + 150, (truncated, played_window_ms)
        engine = engine_with(server, item_id)
        assert engine.conversation.audio_ms(item_id) == pytest.approx(truncated["audio_end_ms"], abs=1)
        assert cleared["response_id"] == rid
        types = b.types()
        assert "output_audio_buffer.stopped" not in types[types.index("output_audio_buffer.cleared"):]
        # the voice track went quiet at the cut
        await asyncio.sleep(1.0)
        assert b.loud_ms(since=t_cleared + 0.3) < 60
        # the client can clear too: a new response, then output_audio_buffer.clear
        mark = len(b.events)
        b.send({"type": "response.create"})
        second = (await b.until("response.created", after=mark))["response"]["id"]
        await b.until("output_audio_buffer.started", after=mark, response_id=second)
        b.send({"type": "output_audio_buffer.clear", "event_id": "evt_clear"})
        await b.until("output_audio_buffer.cleared", after=mark, response_id=second)
        assert not any(e["type"] == "error" for e in b.events)
        await b.close()

    run(main())
