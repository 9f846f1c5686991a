"""The client's input audio on the session timeline, from which committed turns are cut.

Every ``input_audio_buffer.append`` the client sends lands on one timeline (24 kHz samples since the
session started); ``input_audio_buffer.committed`` takes the turn's span out of it (bounded by the VAD's
``audio_start_ms`` / ``audio_end_ms`` when known) and a clear drops it. Memory stays bounded by the
audio that is not yet committed.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from .conversation import PCM
from .items import _empty


class _InputTimeline:
    """The client's appended input audio on the session timeline (24 kHz samples since the start).

    Chunks before ``cut`` (the last commit/clear) are dropped, so memory stays bounded by the
    uncommitted audio.
    """

    def __init__(self) -> None:
        self._chunks: deque[tuple[int, PCM]] = deque()
        self.end = 0  # samples appended since the session started
        self.cut = 0  # start of the current (uncommitted) buffer

    def append(self, pcm: PCM) -> None:
        if len(pcm):
            self._chunks.append((self.end, pcm))
            self.end += len(pcm)

    def take(self, start: int | None = None, stop: int | None = None) -> PCM:
        """Audio in ``[start, stop)`` (default: the whole buffer); the buffer then starts at ``stop``."""
        lo = max(self.cut if start is None else start, self.cut)
        hi = min(self.end if stop is None else stop, self.end)
        parts = [pcm[max(lo - s, 0): max(hi - s, 0)]
                 for s, pcm in self._chunks if s < hi and s + len(pcm) > lo]
        self.cut = max(self.cut, hi)
        while self._chunks and self._chunks[0][0] + len(self._chunks[0][1]) <= self.cut:
            self._chunks.popleft()
        return np.concatenate(parts) if parts else _empty()

    def clear(self) -> None:
        self.cut = self.end
        self._chunks.clear()
