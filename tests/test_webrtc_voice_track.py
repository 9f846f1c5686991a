"""The voice track of a call, without a network: real-time pacing, what was sent per item, the
started / drained callbacks, and a cut reporting exactly the samples sent."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest

pytest.importorskip("aiortc")

from realtime_nb.server.webrtc import FRAME, RATE, VoiceTrack


def test_pacing_accounting_and_cut():
    started: list[str] = []
    drained: list[str] = []
    track = VoiceTrack(started.append, drained.append)
    tone = (np.sin(np.arange(RATE // 10) / 5) * 8000).astype(np.int16)  # 100 ms

    async def main():
        first = await track.recv()
        assert first.samples == FRAME and not started            # nothing queued: silence
        assert not np.any(first.to_ndarray())
        track.push("resp_1", "item_1", tone)
        track.push("resp_1", "item_2", tone)
        t0 = time.monotonic()
        frames = [await track.recv() for _ in range(7)]          # 140 ms
        elapsed = time.monotonic() - t0
        assert elapsed == pytest.approx(0.14, abs=0.05)          # paced in real time
        assert started == ["resp_1"] and not drained
        assert track.played == {"item_1": len(tone), "item_2": 2 * FRAME}
        assert np.array_equal(np.concatenate([f.to_ndarray().reshape(-1) for f in frames[:5]]), tone)
        cut = track.clear()
        assert cut == ("resp_1", "item_2", 2 * FRAME)            # the samples actually sent of that item
        assert not track.busy
        after = await track.recv()
        assert not np.any(after.to_ndarray()) and not drained    # a cut is not a drain
        track.push("resp_2", "item_3", tone[:FRAME])
        await track.recv()
        await track.recv()
        assert started == ["resp_1", "resp_2"] and drained == ["resp_2"]
        assert track.clear() is None                             # nothing left to cut

    asyncio.run(main())


def test_a_cut_during_an_underrun_still_cuts_the_response_being_spoken():
    """Audio produced no faster than it plays leaves the queue empty between chunks: a barge-in then must
    still cut the response that is speaking (the call says it is not over), not find nothing to cut."""
    drained: list[str] = []
    track = VoiceTrack(lambda rid: None, drained.append)

    async def main():
        track.push("resp_1", "item_1", np.full(FRAME, 1000, np.int16))
        await track.recv()
        await track.recv()                                       # the queue ran dry: an underrun
        assert drained == ["resp_1"] and not track.busy
        assert track.clear(playing={"resp_1"}) == ("resp_1", "item_1", FRAME)
        assert track.clear(playing=set()) is None                # a response that is over is not cut

    asyncio.run(main())


def test_a_loopback_server_ignores_the_offers_candidates_on_other_addresses():
    from realtime_nb.server.webrtc import loopback_offer

    offer = ("v=0\r\na=candidate:1 1 udp 2122 192.168.1.5 5000 typ host\r\n"
             "a=candidate:2 1 udp 2122 127.0.0.1 5001 typ host\r\n"
             "a=candidate:3 1 udp 2122 4f1c.local 5002 typ host\r\na=end-of-candidates\r\n")
    assert loopback_offer(offer) == ("v=0\r\na=candidate:2 1 udp 2122 127.0.0.1 5001 typ host\r\n"
                                     "a=end-of-candidates\r\n")
