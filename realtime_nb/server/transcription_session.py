"""Transcription sessions (``?intent=transcription``, ``session.type: "transcription"``), in the server role.

A client that only wants text connects with ``/v1/realtime?intent=transcription`` (no ``model``). Its
session object is ``{"type": "transcription", "object": "realtime.transcription_session", …}`` with only
``audio.input.{format, transcription, noise_reduction, turn_detection}`` and ``include``. Audio goes in as
in a realtime session (append and commit, or server VAD); every committed turn is transcribed and the
client gets ``input_audio_buffer.*``, ``conversation.item.added`` / ``.done`` and the
``conversation.item.input_audio_transcription.*`` events, and never a response (docs/protocol.md §1.7).

``TranscriptionEngine`` is an ``Engine`` with that session object, its own ``session.update`` rules
("Passing a realtime session update event to a transcription session is not allowed.") and no responses:
``response.create`` is refused, VAD turns only commit. ``noise_reduction`` is validated and kept in the
session, but the local recognizer does not apply it.
"""

from __future__ import annotations

import copy
import time
from typing import Any

from ..protocol.errors import EventError, invalid_type, invalid_value, missing_parameter, unknown_parameter
from ..protocol.ids import new_id

# The realtime session's validators of the same sub-objects (the shapes are the same in both session types).
from ..protocol.session_config import (
    DEFAULT_SERVER_VAD,
    SESSION_SECONDS,
    _check_noise,
    _check_transcription,
    _check_turn_detection,
    check_format,
)
from .engine import Engine
from .runner import ev

__all__ = ["DEFAULT_TRANSCRIPTION", "TranscriptionEngine", "apply_transcription_update",
           "default_transcription_session"]

Event = dict[str, Any]
DEFAULT_TRANSCRIPTION: dict[str, Any] = {"model": "gpt-4o-transcribe", "language": None, "prompt": ""}
"""What a transcription session transcribes with until the client says otherwise (the live default)."""
_LOGPROBS = "item.input_audio_transcription.logprobs"


def default_transcription_session(session_id: str, now: float | None = None) -> dict[str, Any]:
    """The full default session object of ``?intent=transcription``."""
    created = int(now if now is not None else time.time())
    td = {k: v for k, v in DEFAULT_SERVER_VAD.items() if k not in ("create_response", "interrupt_response")}
    return {
        "type": "transcription",
        "object": "realtime.transcription_session",
        "id": session_id,
        "expires_at": created + SESSION_SECONDS,
        "audio": {"input": {"format": {"type": "audio/pcm", "rate": 24000},
                            "transcription": dict(DEFAULT_TRANSCRIPTION), "noise_reduction": None,
                            "turn_detection": td}},
        "include": None,
    }


def apply_transcription_update(current: dict[str, Any], update: Any, path: str = "session") -> dict[str, Any]:
    """Validate a transcription ``session.update``'s ``session`` and merge it; ``EventError`` rejects it whole."""
    if not isinstance(update, dict):
        raise invalid_type(path, "an object", update)
    if "type" not in update:
        raise missing_parameter(f"{path}.type")
    if update["type"] == "realtime":
        raise EventError("invalid_value", "Passing a realtime session update event to a transcription session is "
                         "not allowed.", f"{path}.type")
    if update["type"] != "transcription":
        raise invalid_value(f"{path}.type", update["type"], ["transcription"])
    for key in update:
        if key not in ("type", "object", "id", "expires_at", "audio", "include"):
            raise unknown_parameter(f"{path}.{key}")
    new = copy.deepcopy(current)
    if "include" in update:
        value = update["include"]
        if not (value is None or (isinstance(value, list) and all(v == _LOGPROBS for v in value))):
            raise invalid_value(f"{path}.include", value, [_LOGPROBS])
        new["include"] = copy.deepcopy(value)
    if "audio" in update:
        audio, p = update["audio"], f"{path}.audio"
        if not isinstance(audio, dict):
            raise invalid_type(p, "an object", audio)
        for key in audio:
            if key != "input":
                raise unknown_parameter(f"{p}.{key}")
        inp, p = audio.get("input", {}), f"{p}.input"
        if not isinstance(inp, dict):
            raise invalid_type(p, "an object", inp)
        cur = new["audio"]["input"]
        for key, value in inp.items():
            if key == "format":
                cur["format"] = check_format(value, f"{p}.format")
            elif key == "transcription":
                cur["transcription"] = _check_transcription(value, f"{p}.transcription")
            elif key == "noise_reduction":
                cur["noise_reduction"] = _check_noise(value, f"{p}.noise_reduction")
            elif key == "turn_detection":
                td = _check_turn_detection(value, cur["turn_detection"], f"{p}.turn_detection")
                if isinstance(td, dict):  # no responses here, so nothing to create or interrupt
                    td = {k: v for k, v in td.items() if k not in ("create_response", "interrupt_response")}
                cur["turn_detection"] = td
            else:
                raise unknown_parameter(f"{p}.{key}")
    return new


class TranscriptionEngine(Engine):
    """One transcription-only connection: the input audio buffer, VAD and transcription of ``Engine``, no responses."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(model="", **kwargs)
        self.session = default_transcription_session(new_id("sess"))
        self.session["expires_at"] = int(time.time() + self.max_session_s)
        self._reset_vad()

    def _on_session_update(self, event: Event) -> list[Event]:
        old_td = self.session["audio"]["input"]["turn_detection"]
        self.session = apply_transcription_update(self.session, event["session"])
        if self.session["audio"]["input"]["turn_detection"] != old_td:
            self._reset_vad()
        return [ev("session.updated", session=copy.deepcopy(self.session))]

    def _on_response_create(self, event: Event) -> list[Event]:
        raise EventError("invalid_request_error", "Responses are not available in a transcription session: connect "
                         "with ?model=… for a conversation.", "type")

    def _on_response_cancel(self, event: Event) -> list[Event]:
        raise EventError("response_cancel_not_active", "Cancellation failed: no active response found", None)

    def create_response(self, r: dict[str, Any], event_id: str | None) -> list[Event]:
        return []  # a VAD turn or an idle timeout in a transcription session only commits
