"""One connection's Realtime state machine, in the server role (sans-I/O).

The I/O layer (``app.py``) feeds it decoded client events and sends back what it returns. Responses are
``ResponseRun`` objects that the I/O layer drives (``new_runs``); input audio transcriptions are
``TranscriptionJob`` objects it runs in a worker thread (``new_jobs``) before handing each back to
``transcription_finished``. Everything here runs on one thread. The input audio buffer (appends, VAD
turns, commits, transcription jobs, idle timeout) lives in ``input_audio.py``.

Automatic (VAD) responses and any response whose context holds a user audio item that is still being
transcribed wait for that transcript (``transcript_wait_s``, 3 s by default, for decoding to start, then
as long as decoding that audio may take: ``TranscriptionJob.wait``) before asking the
brain: ``response.created`` goes out at once, the output after the transcript (or the timeout). So with
transcription on, the echo brain answers a spoken turn with "You said: …".
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from .. import audio as au
from ..protocol import session_config as sc
from ..protocol.conversation import Conversation
from ..protocol.errors import EventError
from ..protocol.events import SAMPLE_RATE
from ..protocol.ids import item_id as new_item_id
from ..protocol.ids import new_id
from ..protocol.ids import response_id as new_response_id
from ..protocol.normalize import prepare_client_event
from ..protocol.validate import validate_client_event, validate_item
from .brain_api import Brain, BrainRequest
from .input_audio import InputAudio
from .runner import ResponseRun, ev
from .transcription import TranscriptionJob
from .vad import VoiceActivityDetector

Event = dict[str, Any]
SPM = SAMPLE_RATE // 1000  # samples per millisecond


class Engine(InputAudio):
    """Server-side session: config, conversation, input audio buffer + VAD, active responses."""

    def __init__(self, *, model: str, brain: Brain, max_session_s: float = 3600.0, chunk_ms: int = 100,
                 clock: Callable[[], float] = time.monotonic, vad_backend: str | None = None,
                 transcript_wait_s: float = 3.0, stt_model: str | None = None) -> None:
        self.brain = brain
        self.stt_model = stt_model  # the speech recognizer setting (stt.recognizer)
        self.vad_backend = vad_backend
        self.transcript_wait_s = transcript_wait_s
        self.new_jobs: list[TranscriptionJob] = []          # for the I/O layer to run
        self._transcribing: dict[str, TranscriptionJob] = {}  # item id -> job not yet reported
        self.clock = clock
        self.chunk_ms = chunk_ms
        self.started = clock()
        self.max_session_s = max_session_s
        self.session = sc.default_session(model, new_id("sess"))
        self.session["expires_at"] = int(time.time() + max_session_s)
        self.conversation_id = new_id("conv")
        self.conversation = Conversation()
        self.voice_locked = False
        self.runs: dict[str, ResponseRun] = {}     # active runs
        self.inband: ResponseRun | None = None
        self.new_runs: list[ResponseRun] = []      # for the I/O layer to drive
        self.close_requested = False
        self._last_input_tokens = 0
        # input audio: session timeline in samples, buffer since the last commit
        self._timeline = 0
        self._buf: list[np.ndarray] = []
        self._buf_start = 0
        self._buf_len = 0
        self._vad: VoiceActivityDetector | None = None
        self._vad_base = 0
        self._speech_item: str | None = None
        self._speech_start_ms = 0
        self._last_activity = clock()
        self._reset_vad()

    # -- lifecycle -----------------------------------------------------------------------------
    def open(self) -> list[Event]:
        return [ev("session.created", session=copy.deepcopy(self.session))]

    def expired(self) -> bool:
        return self.clock() - self.started >= self.max_session_s

    def expire(self) -> list[Event]:
        minutes = self.max_session_s / 60
        shown = f"{minutes:g} minutes" if minutes >= 1 else f"{self.max_session_s:g} seconds"
        return [EventError("session_expired", f"Your session hit the maximum duration of {shown}.").to_event()]

    @property
    def expiry_message(self) -> str:
        return str(self.expire()[0]["error"]["message"])

    # -- client events -------------------------------------------------------------------------
    def receive(self, event: Event) -> list[Event]:
        """Handle one decoded client event (GA shape). Errors come back as ``error`` events."""
        try:
            event = prepare_client_event(event)  # nesting bound, valid Unicode, null = not given
            validate_client_event(event)
            handler = getattr(self, "_on_" + event["type"].replace(".", "_"))
            out: list[Event] = handler(event)
            return out
        except EventError as err:
            eid = event.get("event_id") if isinstance(event.get("event_id"), str) else None
            return [err.with_event_id(err.event_id or eid).to_event()]

    def _on_session_update(self, event: Event) -> list[Event]:
        old_td = self.session["audio"]["input"]["turn_detection"]
        self.session = sc.apply_update(self.session, event["session"], voice_locked=self.voice_locked)
        if self.session["audio"]["input"]["turn_detection"] != old_td:
            self._reset_vad()
        return [ev("session.updated", session=copy.deepcopy(self.session))]

    def _on_session_close(self, event: Event) -> list[Event]:
        self.close_requested = True
        return []

    # -- items ---------------------------------------------------------------------------------
    def _ingest_item(self, item: dict[str, Any], path: str) -> tuple[dict[str, Any], np.ndarray | None]:
        """A client item as stored (id, status, no base64) and its decoded audio, if any."""
        item = copy.deepcopy(item)
        item.pop("object", None)
        item.setdefault("id", new_item_id())
        item.setdefault("status", "completed")
        pcm = None
        for i, part in enumerate(item.get("content") or []):
            if part.get("type") == "input_audio":
                try:
                    raw = au.b64decode(part.pop("audio"))
                except ValueError:
                    raise EventError("invalid_value", "Invalid base64 audio.", f"{path}.content[{i}].audio") from None
                fmt = self.session["audio"]["input"]["format"]
                if fmt["type"] == "audio/pcm" and len(raw) % 2:
                    raise EventError("invalid_value", "Invalid 'audio': 16-bit PCM needs an even number of "
                                     "bytes.", f"{path}.content[{i}].audio")
                chunk = au.decode_audio(raw, fmt)
                pcm = chunk if pcm is None else np.concatenate([pcm, chunk])
                part.setdefault("transcript", None)
        return item, pcm

    def _on_conversation_item_create(self, event: Event) -> list[Event]:
        prev_req = event.get("previous_item_id")
        if prev_req is not None and prev_req != "root" and prev_req not in self.conversation:
            raise EventError("invalid_value", f"Invalid 'previous_item_id': no item with id '{prev_req}' exists "
                             "in the conversation.", "previous_item_id")
        given = event["item"].get("id")
        if given is not None and given in self.conversation:
            raise EventError("invalid_value", f"Invalid 'item.id': an item with id '{given}' already exists.",
                             "item.id")
        item, pcm = self._ingest_item(event["item"], "item")
        prev = self.conversation.insert(item, prev_req)
        if pcm is not None:
            self.conversation.set_audio(item["id"], pcm)
        return [ev("conversation.item.added", previous_item_id=prev, item=copy.deepcopy(item)),
                ev("conversation.item.done", previous_item_id=prev, item=copy.deepcopy(item))]

    def _get(self, item_id: str, action: str) -> dict[str, Any]:
        if item_id not in self.conversation:
            raise EventError(f"item_{action}_invalid_item_id",
                             f"Error {action}ing item: the item with id '{item_id}' does not exist.", "item_id")
        return self.conversation.get(item_id)

    def _on_conversation_item_delete(self, event: Event) -> list[Event]:
        self._get(event["item_id"], "delete")
        self.conversation.delete(event["item_id"])
        return [ev("conversation.item.deleted", item_id=event["item_id"])]

    def _on_conversation_item_retrieve(self, event: Event) -> list[Event]:
        item = copy.deepcopy(self._get(event["item_id"], "retrieve"))
        pcm = self.conversation.audio(item["id"])
        for part in item.get("content") or []:
            if part.get("type") in ("input_audio", "output_audio"):
                key = "input" if part["type"] == "input_audio" else "output"
                fmt = self.session["audio"][key]["format"]
                part["audio"] = au.b64encode(au.encode_audio(pcm, fmt))
        return [ev("conversation.item.retrieved", item=item)]

    def _on_conversation_item_truncate(self, event: Event) -> list[Event]:
        item = self._get(event["item_id"], "truncate")
        if item.get("type") != "message" or item.get("role") != "assistant":
            raise EventError("invalid_value", "Only assistant message items can be truncated.", "item_id")
        end_ms = event["audio_end_ms"]
        have_ms = self.conversation.audio_ms(item["id"])
        if not self.conversation.audio_samples(item["id"]) and not any(
                p.get("type") == "output_audio" for p in item.get("content") or []):
            raise EventError("unsupported_content_type", "Truncation is only supported for assistant messages "
                             "with audio content; this item has none.", "item_id")
        if end_ms > have_ms:
            raise EventError("invalid_value", f"Audio content of {have_ms:.0f}ms is already shorter than "
                             f"{end_ms}ms.", "audio_end_ms")
        self.conversation.truncate_audio(item["id"], end_ms * SPM)
        content = [{"type": "output_audio", "transcript": ""} if p.get("type") == "output_audio" else p
                   for p in item.get("content") or []]
        self.conversation.update(item["id"], content=content)
        return [ev("conversation.item.truncated", item_id=item["id"], content_index=event["content_index"],
                   audio_end_ms=end_ms)]

    # -- responses -----------------------------------------------------------------------------
    def _on_response_create(self, event: Event) -> list[Event]:
        return self.create_response(event.get("response") or {}, event.get("event_id"))

    def create_response(self, r: dict[str, Any], event_id: str | None) -> list[Event]:
        conversation = r.get("conversation", "auto")
        if conversation == "auto" and self.inband is not None and not self.inband.finished:
            raise EventError("conversation_already_has_active_response",
                             "Conversation already has an active response in progress: "
                             f"{self.inband.id}. Wait until the response is finished before creating a new one.",
                             None, event_id)
        s = self.session
        out_audio = r.get("audio", {}).get("output", {})
        voice = out_audio.get("voice", s["audio"]["output"]["voice"])
        if self.voice_locked and voice != s["audio"]["output"]["voice"]:
            raise EventError("cannot_update_voice",
                             "Cannot update a conversation's voice if assistant audio is present.",
                             "response.audio.output.voice", event_id)
        params = {
            "output_modalities": r.get("output_modalities", s["output_modalities"]),
            "instructions": r.get("instructions", s["instructions"]),
            # a custom voice {"id": …} is named by its id: the response object's voice is a string
            "voice": voice["id"] if isinstance(voice, dict) else voice,
            "format": out_audio.get("format", s["audio"]["output"]["format"]),
            "speed": s["audio"]["output"]["speed"],
            "tools": r.get("tools", s["tools"]),
            "tool_choice": r.get("tool_choice", s["tool_choice"]),
            "max_output_tokens": r.get("max_output_tokens", s["max_output_tokens"]),
            "metadata": r.get("metadata"),
            "conversation": conversation,
        }
        if "format" in out_audio:
            params["format"] = sc.check_format(out_audio["format"], "response.audio.output.format")
        context, audio_ms = self._context(r)
        request = BrainRequest(context=context, instructions=params["instructions"], tools=params["tools"],
                               tool_choice=params["tool_choice"], output_modalities=params["output_modalities"],
                               max_output_tokens=params["max_output_tokens"], metadata=params["metadata"],
                               conversation=conversation, audio_ms=audio_ms)
        waits = [self._transcribing[i["id"]] for i in context if i.get("id") in self._transcribing]
        run = ResponseRun(self, new_response_id(), params, request,
                          self.conversation_id if conversation == "auto" else None, self.brain, self.chunk_ms,
                          waits=waits, transcript_wait_s=self.transcript_wait_s)
        self.runs[run.id] = run
        if run.in_band:
            self.inband = run
        self.new_runs.append(run)
        return [run.created_event()]

    def _context(self, r: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, float]]:
        audio_ms: dict[str, float] = {}
        if "input" not in r:
            items = self.conversation.snapshot()
            for item in items:
                if self.conversation.audio_samples(item["id"]):
                    audio_ms[item["id"]] = self.conversation.audio_ms(item["id"])
            return items, audio_ms
        items = []
        for i, given in enumerate(r["input"]):
            if given.get("type") == "item_reference":
                if given["id"] not in self.conversation:
                    raise EventError("invalid_value", f"Invalid 'response.input[{i}].id': no item with id "
                                     f"'{given['id']}' exists in the conversation.", f"response.input[{i}].id")
                item = copy.deepcopy(self.conversation.get(given["id"]))
                if self.conversation.audio_samples(item["id"]):
                    audio_ms[item["id"]] = self.conversation.audio_ms(item["id"])
            else:
                validate_item(given, f"response.input[{i}]")
                item, pcm = self._ingest_item(given, f"response.input[{i}]")
                if pcm is not None:
                    audio_ms[item["id"]] = len(pcm) / SPM
            items.append(item)
        return items, audio_ms

    def _on_response_cancel(self, event: Event) -> list[Event]:
        rid = event.get("response_id")
        run = self.runs.get(rid) if rid else self.inband
        if run is None or run.finished:
            raise EventError("response_cancel_not_active", "Cancellation failed: no active response found",
                             None)
        return run.cancel("client_cancelled")

    # -- hooks used by ResponseRun ---------------------------------------------------------------
    def add_output_item(self, item: dict[str, Any]) -> str | None:
        return self.conversation.insert(item)

    def finish_output_item(self, item: dict[str, Any]) -> None:
        if item["id"] in self.conversation:
            self.conversation.insert(item)

    def previous_item_id(self, item_id: str) -> str | None:
        return self.conversation.previous_id(item_id) if item_id in self.conversation else None

    def on_output_audio(self, item_id: str, pcm: np.ndarray, *, in_band: bool) -> None:
        self.voice_locked = True
        if in_band and item_id in self.conversation:
            self.conversation.append_audio(item_id, pcm)

    def cached_tokens(self, input_tokens: int) -> int:
        cached = 64 * (min(self._last_input_tokens, input_tokens) // 64)
        self._last_input_tokens = input_tokens
        return cached

    def on_response_done(self, run: ResponseRun) -> list[Event]:
        self.runs.pop(run.id, None)
        if self.inband is run:
            self.inband = None
        self._last_activity = self.clock() + run._out_samples / SAMPLE_RATE
        # A one-minute token window, simplified: each response's tokens count against the limit.
        used = int((run.usage or {}).get("total_tokens", 0))
        remaining = max(0, 40000 - used)
        return [ev("rate_limits.updated", rate_limits=[
            {"name": "tokens", "limit": 40000, "remaining": remaining,
             "reset_seconds": round(used / 40000 * 60, 3)}])]
