"""The local server's real-time pacing: an absolute schedule that does not drift (server/pacing.py).

The schedule is checked on a fake clock, the way ``_Connection._drive`` uses it: send a batch, ask how
long to wait, wake up late by whatever the loop adds. No timed assertions on wall time.
"""

from __future__ import annotations

import random

import numpy as np
import pytest

from realtime_nb import audio as au
from realtime_nb.server import LocalServer
from realtime_nb.server.pacing import Pacer, audio_seconds

CHUNK_S = 0.04


def drive(pacer: Pacer, durations: list[float], lateness, stall_at: dict[int, float] | None = None) -> list[float]:
    """When each batch went out on a fake clock whose wake-ups are late by ``lateness()`` seconds."""
    now, sent = 100.0, []
    for k, seconds in enumerate(durations):
        now += (stall_at or {}).get(k, 0.0)  # the producer delivered this piece late
        sent.append(now)
        now += pacer.after(seconds, now) + lateness()
    return sent


def test_late_wakeups_do_not_accumulate():
    rng = random.Random(7)
    durations = [CHUNK_S] * 1500  # a one-minute reply
    sent = drive(Pacer(1.0), durations, lambda: rng.uniform(0.0005, 0.004))
    ideal = [sent[0] + k * CHUNK_S for k in range(len(durations))]
    behind = [s - i for s, i in zip(sent, ideal, strict=True)]
    assert max(behind) <= 0.004 + 1e-9   # never more than one wake-up's lateness behind real time
    assert min(behind) >= 0.0            # and never ahead of it
    # a sleep of each chunk's length would have ended ~3.4 s late (1500 x 2.25 ms): the old drift
    assert behind[-1] < 0.005


def test_a_late_producer_is_caught_up_then_the_schedule_holds():
    durations = [CHUNK_S] * 100
    sent = drive(Pacer(1.0), durations, lambda: 0.001, stall_at={30: 0.5})  # next sentence 0.5 s late
    ideal = [sent[0] + k * CHUNK_S for k in range(len(durations))]
    # the overdue batches go out back to back (the listener's buffer refills) ...
    gaps = np.diff(sent[30:45])
    assert (gaps < 0.002).sum() >= 10
    # ... and the rest of the reply is on the original schedule again, not 0.5 s later
    assert all(0 <= s - i <= 0.001 + 1e-9 for s, i in zip(sent[50:], ideal[50:], strict=True))


def test_pace_factor_and_fast():
    durations = [0.1] * 20
    slow = drive(Pacer(2.0), durations, lambda: 0.0)
    assert slow[-1] - slow[0] == pytest.approx(19 * 0.2)
    fast = drive(Pacer(0.0), durations, lambda: 0.0)
    assert fast[-1] == fast[0]  # fast: never waits


def test_batches_without_audio_wait_for_the_schedule_only():
    p = Pacer(1.0)
    assert p.after(0.0, now=5.0) == 0.0            # before any audio: nothing to wait for
    assert p.after(0.1, now=5.0) == pytest.approx(0.1)
    assert p.after(0.0, now=5.02) == pytest.approx(0.08)   # a transcript-only batch: still on schedule
    assert p.after(0.0, now=5.3) == 0.0            # overdue: at once


def test_audio_seconds_counts_pcm16_deltas():
    pcm = np.zeros(au.SAMPLE_RATE // 25, np.int16)  # 40 ms
    batch = [{"type": "response.output_audio_transcript.delta", "delta": "hi"},
             {"type": "response.output_audio.delta", "delta": au.b64encode(pcm.tobytes())}]
    assert audio_seconds(batch) == pytest.approx(0.04)


def test_paced_servers_stream_shorter_deltas(slow_server, server):
    """At real time a 100 ms pre-buffer must hold several deltas: 40 ms each; fast keeps 100 ms."""
    assert slow_server.chunk_ms == 40 and server.chunk_ms == 100
    assert LocalServer(pace=1.5).chunk_ms == 40 and LocalServer(pace="realtime", chunk_ms=20).chunk_ms == 20
    import realtime_nb as rt

    with rt.connect(url=slow_server.url) as s:
        sizes: list[int] = []
        s.on("response.output_audio.delta", lambda e: sizes.append(len(e["delta"]) * 3 // 4 // 2))
        r = s.say("Hello there, how are you?", timeout=30)
    assert r.audio_seconds > 0.5
    assert max(sizes) == au.SAMPLE_RATE * 40 // 1000
