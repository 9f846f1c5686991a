"""The brain interface: what the response runner asks a brain, and what a brain may answer.

``respond(request) -> Iterable[Output]``: ``Say`` / ``Call`` for whole messages and tool calls,
``SayPart`` / ``CallPart`` for streamed pieces, ``Incomplete`` to stop early (see ``brains.py`` for
the meaning of each and for the brains that ship with the server). Every brain module builds on this
one; it imports none of them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = ["Brain", "BrainError", "BrainRequest", "Call", "CallPart", "Incomplete", "Output", "Say", "SayPart"]


class BrainError(RuntimeError):
    """A brain could not answer; its message is shown to the client in the failed response."""


@dataclass(frozen=True)
class Say:
    """Assistant text (spoken when the response's modality is audio)."""

    text: str


@dataclass(frozen=True)
class Call:
    """A function call: tool ``name`` with JSON ``arguments``."""

    name: str
    arguments: str


@dataclass(frozen=True)
class SayPart:
    """A streamed piece of assistant text; consecutive parts form one message."""

    text: str


@dataclass(frozen=True)
class CallPart:
    """A streamed piece of a function call's JSON arguments; a ``name`` starts a new call."""

    arguments: str
    name: str | None = None


@dataclass(frozen=True)
class Incomplete:
    """The brain stopped early; the response ends ``incomplete`` with ``reason``.

    ``reason`` is one the protocol knows: ``"max_output_tokens"`` or ``"content_filter"``.
    """

    reason: str = "max_output_tokens"

    def __post_init__(self) -> None:
        if self.reason not in ("max_output_tokens", "content_filter"):
            raise ValueError(f"Incomplete reason must be 'max_output_tokens' or 'content_filter', not {self.reason!r}")


Output = Say | Call | SayPart | CallPart | Incomplete


@dataclass
class BrainRequest:
    """What a brain sees for one response."""

    context: list[dict[str, Any]]          # items, oldest first; audio items carry transcripts, no audio
    instructions: str = ""
    tools: list[dict[str, Any]] = field(default_factory=list)
    tool_choice: Any = "auto"
    output_modalities: list[str] = field(default_factory=lambda: ["audio"])
    max_output_tokens: Any = "inf"
    metadata: dict[str, Any] | None = None
    conversation: str = "auto"
    audio_ms: dict[str, float] = field(default_factory=dict)  # item_id -> ms of user audio

    def last_user(self) -> dict[str, Any] | None:
        for item in reversed(self.context):
            if item.get("type") == "message" and item.get("role") == "user":
                return dict(item)
        return None

    def user_text(self, item: dict[str, Any] | None) -> str | None:
        """Text of a user item: its input_text parts or audio transcripts (None if it has neither)."""
        if item is None:
            return None
        texts = []
        for part in item.get("content") or []:
            if part.get("type") in ("input_text", "text", "output_text") and part.get("text"):
                texts.append(part["text"])
            elif part.get("type") in ("input_audio", "output_audio") and part.get("transcript"):
                texts.append(part["transcript"])
        return " ".join(texts) if texts else None


class Brain(Protocol):
    name: str

    def respond(self, request: BrainRequest) -> Iterable[Output]: ...
