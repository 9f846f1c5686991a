"""An ordered store of conversation items with per-item audio, shared by client and server.

Items are plain dicts (the wire shape, without audio bytes); audio lives beside them as lists of int16
chunks so that streaming appends are O(1) and nothing is base64 inside. The order is the conversation
order the server reports (``previous_item_id`` chains), kept in a list plus an index.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import numpy.typing as npt

from .codec import clone

PCM = npt.NDArray[np.int16]
_EMPTY: PCM = np.zeros(0, dtype=np.int16)


class Conversation:
    """Items in conversation order, each with optional audio.

    ``insert(item, previous_item_id)`` follows the protocol: ``None`` appends, ``"root"`` inserts at the
    start, an id inserts after that item (``KeyError`` if unknown). Re-inserting a known id updates the
    item in place (the ``added`` → ``done`` pattern).
    """

    def __init__(self) -> None:
        self._order: list[str] = []
        self._items: dict[str, dict[str, Any]] = {}
        self._audio: dict[str, list[PCM]] = {}
        self._audio_len: dict[str, int] = {}

    # -- items -------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._order)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._items

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return (self._items[i] for i in self._order)

    def ids(self) -> list[str]:
        return list(self._order)

    def get(self, item_id: str) -> dict[str, Any]:
        return self._items[item_id]

    def last_id(self) -> str | None:
        return self._order[-1] if self._order else None

    def previous_id(self, item_id: str) -> str | None:
        pos = self._order.index(item_id)
        return self._order[pos - 1] if pos > 0 else None

    def insert(self, item: dict[str, Any], previous_item_id: str | None = None) -> str | None:
        """Add (or update) ``item``; return the id of the item now before it (``None`` at the start)."""
        item_id = item["id"]
        if item_id in self._items:
            self._items[item_id] = item
            return self.previous_id(item_id)
        if previous_item_id is None:
            prev = self.last_id()
            self._order.append(item_id)
        elif previous_item_id == "root":
            prev = None
            self._order.insert(0, item_id)
        else:
            if previous_item_id not in self._items:
                raise KeyError(previous_item_id)
            pos = self._order.index(previous_item_id)
            prev = previous_item_id
            self._order.insert(pos + 1, item_id)
        self._items[item_id] = item
        return prev

    def update(self, item_id: str, **fields: Any) -> dict[str, Any]:
        """Replace top-level fields of an item (a new dict, so snapshots callers hold stay intact)."""
        item = dict(self._items[item_id])
        item.update(fields)
        self._items[item_id] = item
        return item

    def delete(self, item_id: str) -> dict[str, Any]:
        item = self._items.pop(item_id)
        self._order.remove(item_id)
        self._audio.pop(item_id, None)
        self._audio_len.pop(item_id, None)
        return item

    def snapshot(self) -> list[dict[str, Any]]:
        """Deep copies of all items in order (safe to hand to users)."""
        return [clone(self._items[i]) for i in self._order]

    # -- audio -------------------------------------------------------------------------------------
    def append_audio(self, item_id: str, pcm: PCM) -> None:
        if len(pcm) == 0:
            return
        self._audio.setdefault(item_id, []).append(pcm)
        self._audio_len[item_id] = self._audio_len.get(item_id, 0) + len(pcm)

    def set_audio(self, item_id: str, pcm: PCM) -> None:
        self._audio[item_id] = [pcm] if len(pcm) else []
        self._audio_len[item_id] = len(pcm)

    def audio(self, item_id: str) -> PCM:
        """The item's audio as one int16 array (24 kHz); empty when it has none."""
        chunks = self._audio.get(item_id)
        if not chunks:
            return _EMPTY[:0]
        if len(chunks) > 1:
            joined: PCM = np.concatenate(chunks)
            self._audio[item_id] = [joined]
            return joined
        return chunks[0]

    def audio_chunks(self, item_id: str) -> list[PCM]:
        """The item's audio as the chunks it arrived in (a new list; the arrays are the stored ones)."""
        return list(self._audio.get(item_id) or ())

    def audio_samples(self, item_id: str) -> int:
        return self._audio_len.get(item_id, 0)

    def audio_ms(self, item_id: str, sample_rate: int = 24000) -> float:
        return self.audio_samples(item_id) * 1000.0 / sample_rate

    def truncate_audio(self, item_id: str, samples: int) -> None:
        pcm = self.audio(item_id)[:samples]
        self.set_audio(item_id, pcm)
