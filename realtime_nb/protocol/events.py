"""GA event names and the wire payload shapes we rely on.

The TypedDicts document the fields this package reads and writes; the wire may carry more (for example
``obfuscation`` on deltas), which is kept, not rejected.
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict

# Client event types a live GA WebSocket server accepts, in the order its error message lists them.
# ``session.close`` and ``session.input_audio_buffer.append`` belong to the translation protocol; the
# local server accepts them as a close request and an append alias.
ACCEPTED_CLIENT_TYPES: tuple[str, ...] = (
    "session.update",
    "session.close",
    "input_audio_buffer.append",
    "session.input_audio_buffer.append",
    "input_audio_buffer.commit",
    "input_audio_buffer.clear",
    "conversation.item.create",
    "conversation.item.truncate",
    "conversation.item.delete",
    "conversation.item.retrieve",
    "response.create",
    "response.cancel",
)

# In the SDK's client union but WebRTC/SIP only: a WebSocket server answers ``invalid_value``.
WEBRTC_ONLY_CLIENT_TYPES: tuple[str, ...] = ("output_audio_buffer.clear",)

SERVER_TYPES: tuple[str, ...] = (
    "error",
    "session.created",
    "session.updated",
    "conversation.created",
    "conversation.item.added",
    "conversation.item.done",
    "conversation.item.created",
    "conversation.item.retrieved",
    "conversation.item.truncated",
    "conversation.item.deleted",
    "conversation.item.input_audio_transcription.delta",
    "conversation.item.input_audio_transcription.completed",
    "conversation.item.input_audio_transcription.segment",
    "conversation.item.input_audio_transcription.failed",
    "input_audio_buffer.committed",
    "input_audio_buffer.cleared",
    "input_audio_buffer.speech_started",
    "input_audio_buffer.speech_stopped",
    "input_audio_buffer.timeout_triggered",
    "input_audio_buffer.dtmf_event_received",
    "output_audio_buffer.started",
    "output_audio_buffer.stopped",
    "output_audio_buffer.cleared",
    "response.created",
    "response.output_item.added",
    "response.output_item.done",
    "response.content_part.added",
    "response.content_part.done",
    "response.output_text.delta",
    "response.output_text.done",
    "response.output_audio.delta",
    "response.output_audio.done",
    "response.output_audio_transcript.delta",
    "response.output_audio_transcript.done",
    "response.function_call_arguments.delta",
    "response.function_call_arguments.done",
    "response.mcp_call_arguments.delta",
    "response.mcp_call_arguments.done",
    "response.mcp_call.in_progress",
    "response.mcp_call.completed",
    "response.mcp_call.failed",
    "mcp_list_tools.in_progress",
    "mcp_list_tools.completed",
    "mcp_list_tools.failed",
    "response.done",
    "rate_limits.updated",
)

VOICES: tuple[str, ...] = (
    "alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse", "marin", "cedar",
)

AUDIO_FORMATS: tuple[str, ...] = ("audio/pcm", "audio/pcmu", "audio/pcma")

MAX_APPEND_BYTES = 15 * 1024 * 1024  # per input_audio_buffer.append event (decoded audio), 15 MiB
MIN_COMMIT_MS = 100.0
SAMPLE_RATE = 24000


class ErrorObject(TypedDict, total=False):
    type: str
    code: str | None
    message: str
    param: str | None
    event_id: str | None


class ErrorEvent(TypedDict):
    type: Literal["error"]
    event_id: str
    error: ErrorObject


class ContentPart(TypedDict, total=False):
    type: str  # input_text | input_audio | input_image | output_text | output_audio | text | audio
    text: str
    audio: str | None
    transcript: str | None


class Item(TypedDict, total=False):
    id: str
    object: str
    type: str  # message | function_call | function_call_output | item_reference | mcp_*
    status: str
    role: str
    content: list[ContentPart]
    call_id: str
    name: str
    arguments: str
    output: str


class ServerEvent(TypedDict, total=False):
    type: str
    event_id: str


Event = dict[str, Any]
