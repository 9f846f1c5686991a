"""When a response's audio may go out (sans-I/O): an absolute schedule, so pacing never drifts.

At ``pace`` p (1.0 = real time, 2.0 = twice as slow, 0 = as fast as possible) the batch that follows
``s`` seconds of audio is due at ``start + s * p``, where ``start`` is when the response's first audio
went out. The I/O layer (``app._Connection._drive``) asks how long to wait after each batch and sleeps
that long. A sleep per chunk of the chunk's length would add the loop's lateness of every wake-up (on a
loaded machine ~0.5 ms per 100 ms chunk: the stream ran at 0.995x real time and any jitter buffer drained
over a long reply); against the absolute schedule a late wake-up only shortens the next wait.

When delivery falls behind the schedule (the producer synthesized the next sentence late), the batches
that are overdue go out at once until the stream is back on schedule: the listener's buffer refills
instead of the whole rest of the reply shifting later. The live service, too, sends audio faster than
real time.
"""

from __future__ import annotations

from typing import Any

SAMPLE_RATE = 24000
PACED_CHUNK_MS = 40  # audio per delta when paced: a 100 ms pre-buffer then holds several deltas
FAST_CHUNK_MS = 100


def default_chunk_ms(pace: float) -> int:
    """Audio per ``response.output_audio.delta`` when the server is not told: 100 ms when streaming as
    fast as possible (fewer events), 40 ms when paced. At real time the listener's pre-buffer is all the
    slack there is: with 100 ms deltas a 100 ms pre-buffer holds one, and it runs dry just before each
    next one arrives, so any lateness at all is a gap; with 40 ms deltas it has 80 ms of margin. (The
    live service's deltas are ~20-100 ms; the widget's comm path sends >= 40 ms messages anyway.)"""
    return FAST_CHUNK_MS if pace == 0 else PACED_CHUNK_MS


def audio_seconds(batch: list[dict[str, Any]]) -> float:
    """Seconds of output audio in a batch of server events."""
    total = 0.0
    for e in batch:
        if e.get("type") == "response.output_audio.delta":
            total += len(e["delta"]) * 3 / 4 / (2 * SAMPLE_RATE)  # pcm16: 48 bytes per ms (G.711 is shorter)
    return total


class Pacer:
    """The schedule of one response's batches.

    >>> p = Pacer(1.0)
    >>> round(p.after(0.04, now=10.0), 3)     # the first audio went out at 10.0: the next is due at 10.04
    0.04
    >>> round(p.after(0.04, now=10.045), 3)   # woke 5 ms late: the wait shrinks, the schedule holds
    0.035
    """

    def __init__(self, pace: float) -> None:
        self.pace = pace
        self.start: float | None = None  # when the first audio went out
        self.sent = 0.0                  # seconds of audio sent so far

    def due(self) -> float | None:
        """When the next batch is due (``None`` before any audio)."""
        return None if self.start is None else self.start + self.sent * self.pace

    def after(self, seconds: float, now: float) -> float:
        """A batch holding ``seconds`` of audio went out at ``now``: how long to wait before the next."""
        if seconds <= 0 or self.pace == 0:
            due = self.due()
            return 0.0 if due is None else max(0.0, due - now)
        if self.start is None:
            self.start = now
        self.sent += seconds
        return max(0.0, self.start + self.sent * self.pace - now)
