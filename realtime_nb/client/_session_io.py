"""The ``Session`` methods for input audio and conversation items (``Session`` inherits them).

Audio is loaded (WAV path or bytes, raw PCM16, numpy arrays) and resampled to 24 kHz before it reaches
the loop; items are written in GA or beta shape and sent in GA shape (``_ops``).
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Coroutine
from typing import Any, TypeVar

import numpy as np

from . import _audio_in, _loop, _ops, _params
from ._connection import Client
from .response import Response

_FOREVER = None  # every wait inside the operation is bounded (``reply_timeout``, ``response_timeout``)
T = TypeVar("T")


def _run(coro: Coroutine[Any, Any, T], timeout: float | None, what: str) -> T:
    return _loop.run_sync(coro, timeout, what=what)


class AudioAndItems:
    """Input audio (append, commit, clear, spoken turns) and item operations of a ``Session``."""

    _client: Client

    # -- audio in ----------------------------------------------------------------------------------
    def append_audio(self, data: Any, sample_rate: int = 24000) -> None:
        """Append audio to the input buffer (numpy float/int16 or PCM16 bytes at ``sample_rate``;
        resampled to 24 kHz; sent in chunks well under the 15 MiB event limit)."""
        pcm = _audio_in.load(data, sample_rate)
        _run(_ops.append_audio(self._client, pcm), _FOREVER, "Session.append_audio()")

    async def aappend_audio(self, data: Any, sample_rate: int = 24000) -> None:
        pcm = _audio_in.load(data, sample_rate)
        await _loop.run_async(_ops.append_audio(self._client, pcm))

    def commit(self) -> str:
        """Commit the input buffer as a user audio item; returns its item id (with server VAD on, never
        the item of a commit the server made by itself, which ``speech_stopped`` announces)."""
        return _run(_ops.commit(self._client), _FOREVER, "Session.commit()")

    async def acommit(self) -> str:
        return await _loop.run_async(_ops.commit(self._client))

    def clear_audio(self) -> None:
        """Discard the uncommitted input audio."""
        _run(_ops.clear_audio(self._client), _FOREVER, "Session.clear_audio()")

    async def aclear_audio(self) -> None:
        await _loop.run_async(_ops.clear_audio(self._client))

    def send_audio(self, source: Any, sample_rate: int | None = None, *, wait: bool = True,
                   follow_tools: bool = True, timeout: float | None = None, **response_params: Any
                   ) -> Response | None:
        """Send a spoken turn from a WAV path/bytes or an array; returns the model's response.

        VAD off: append + commit + ``respond(**response_params)``. VAD on: append plus enough trailing
        silence for the server's VAD to end the turn; returns the response the server starts (``None``
        if ``create_response`` is off; ``response_params`` are then not used). ``timeout`` bounds the
        wait for VAD to end the turn.
        """
        pcm = _audio_in.load(source, sample_rate)
        params = self._audio_params(response_params)
        return _run(_ops.send_audio(self._client, pcm, params, wait=wait, follow_tools=follow_tools,
                                    timeout=timeout), _FOREVER, "Session.send_audio()")

    async def asend_audio(self, source: Any, sample_rate: int | None = None, *, wait: bool = True,
                          follow_tools: bool = True, timeout: float | None = None, **response_params: Any
                          ) -> Response | None:
        pcm = _audio_in.load(source, sample_rate)
        params = self._audio_params(response_params)
        return await _loop.run_async(_ops.send_audio(self._client, pcm, params, wait=wait,
                                                     follow_tools=follow_tools, timeout=timeout))

    def _audio_params(self, response_params: dict[str, Any]) -> dict[str, Any]:
        params = _params.response_params(response_params)
        if params and _audio_in.turn_detection(self._client) is not None:
            warnings.warn("send_audio(): with server VAD on, the server starts the response itself, so "
                          f"{', '.join(sorted(response_params))} cannot apply; use update(...) for session "
                          "defaults, or turn VAD off (update(turn_detection=None))", UserWarning, stacklevel=3)
        return params

    def add_audio_message(self, source: Any, sample_rate: int | None = None, *,
                          previous_item_id: str | None = None) -> str:
        """Add a whole user ``input_audio`` message (no buffer, no VAD); returns its item id."""
        pcm = _audio_in.load(source, sample_rate)
        return _run(_ops.add_audio_message(self._client, pcm, previous_item_id), _FOREVER,
                    "Session.add_audio_message()")

    async def aadd_audio_message(self, source: Any, sample_rate: int | None = None, *,
                                 previous_item_id: str | None = None) -> str:
        pcm = _audio_in.load(source, sample_rate)
        return await _loop.run_async(_ops.add_audio_message(self._client, pcm, previous_item_id))

    # -- items -------------------------------------------------------------------------------------
    def add_item(self, item: dict[str, Any], previous_item_id: str | None = None) -> str:
        """Add a conversation item (GA or beta shape; an id is chosen if missing); returns its id.
        ``previous_item_id="root"`` inserts it first."""
        return _run(_ops.add_item(self._client, item, previous_item_id), _FOREVER, "Session.add_item()")

    async def aadd_item(self, item: dict[str, Any], previous_item_id: str | None = None) -> str:
        return await _loop.run_async(_ops.add_item(self._client, item, previous_item_id))

    def delete_item(self, item_id: str) -> None:
        """Delete a conversation item (waits for ``conversation.item.deleted``)."""
        _run(_ops.item_op(self._client, "conversation.item.delete", item_id), _FOREVER, "Session.delete_item()")

    async def adelete_item(self, item_id: str) -> None:
        await _loop.run_async(_ops.item_op(self._client, "conversation.item.delete", item_id))

    def truncate(self, item_id: str, audio_end_ms: int, content_index: int = 0) -> None:
        """Cut an assistant audio item at ``audio_end_ms`` (what the listener actually heard)."""
        _run(_ops.item_op(self._client, "conversation.item.truncate", item_id, content_index=content_index,
                          audio_end_ms=int(audio_end_ms)), _FOREVER, "Session.truncate()")

    async def atruncate(self, item_id: str, audio_end_ms: int, content_index: int = 0) -> None:
        await _loop.run_async(_ops.item_op(self._client, "conversation.item.truncate", item_id,
                                           content_index=content_index, audio_end_ms=int(audio_end_ms)))

    def retrieve(self, item_id: str) -> dict[str, Any]:
        """Fetch an item from the server; returns it without audio bytes (its audio, decoded, is then
        in ``item_audio(item_id)``)."""
        return _strip_audio(_run(_ops.item_op(self._client, "conversation.item.retrieve", item_id), _FOREVER,
                                 "Session.retrieve()")["item"])

    async def aretrieve(self, item_id: str) -> dict[str, Any]:
        event = await _loop.run_async(_ops.item_op(self._client, "conversation.item.retrieve", item_id))
        return _strip_audio(event["item"])

    def item_audio(self, item_id: str) -> np.ndarray:
        """An item's audio as int16 samples at 24 kHz (input audio you sent, or the model's output)."""
        state = self._client.state
        return self._client.call_on_loop(lambda: state.item_audio(item_id).copy())  # type: ignore[no-any-return]


def _strip_audio(item: dict[str, Any]) -> dict[str, Any]:
    item = copy.deepcopy(item)
    for part in item.get("content") or []:
        if isinstance(part, dict):
            part.pop("audio", None)
    return item
