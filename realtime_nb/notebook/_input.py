"""The bridge's input: the owner's mic, push-to-talk, and the widget's settings (mode, voice) as
``session.update`` (a layer of ``Bridge``, see ``_bridge_base``).

Mic chunks of the owner become ``input_audio_buffer.append`` events, in order, through one queue of
operations (so a push-to-talk release's commit follows its last append); settings changes go through
the same queue.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from ..client import _audio_in
from ..errors import RealtimeError
from ._bridge_base import SAMPLE_RATE, WidgetLike, log
from ._playback import Playback
from ._updates import STREAM_FLUSH_S

if TYPE_CHECKING:
    from ..client.session import Session

MIN_PTT_SAMPLES = SAMPLE_RATE * 100 // 1000   # the server refuses to commit less than 100 ms
TRANSCRIPTION_MODEL = "gpt-4o-mini-transcribe"  # what "show my words" asks for (the local server takes any)
MAX_TEXT = 4000                                # a typed turn longer than this is cut


def turn_detection_for(mode: str, vad: str, barge_in: bool = True) -> dict[str, Any] | None:
    """The ``turn_detection`` a UI mode means (``None``: push-to-talk, the client commits).

    Hands-free lets the server cancel the reply the user talks over (``interrupt_response``) when
    barge-in is on; in manual mode the widget cancels it itself (nothing is automatic there)."""
    if mode == "push_to_talk":
        return None
    auto = mode == "hands_free"
    return {"type": vad, "create_response": auto, "interrupt_response": auto and barge_in}


def mode_from_config(session: dict[str, Any] | None) -> tuple[str, str | None]:
    """``(mode, vad type or None)`` of a GA session config."""
    td = (((session or {}).get("audio") or {}).get("input") or {}).get("turn_detection")
    if not isinstance(td, dict):
        return "push_to_talk", None
    vad = td.get("type") if td.get("type") in ("server_vad", "semantic_vad") else None
    return ("hands_free" if td.get("create_response", True) else "manual"), vad


def transcription_from_config(session: dict[str, Any] | None) -> bool:
    """Whether input audio transcription is on in a GA session config."""
    return bool((((session or {}).get("audio") or {}).get("input") or {}).get("transcription"))


def voice_from_config(session: dict[str, Any] | None) -> str | None:
    voice = (((session or {}).get("audio") or {}).get("output") or {}).get("voice")
    return voice if isinstance(voice, str) else None


class Input(Playback):
    """Mic audio and push-to-talk of the owner view, and settings, in one queue of operations."""

    def __init__(self, widget: WidgetLike, session: Session) -> None:
        super().__init__(widget, session)
        self.ops: deque[Callable[[], Awaitable[Any]]] = deque()
        self.worker: asyncio.Task[None] | None = None
        self.ptt_held = False
        self.ptt_samples = 0
        self.mic_chunks = 0
        self.mic_samples = 0

    # -- mic and push-to-talk ----------------------------------------------------------------------
    def on_mic(self, view: str, data: bytes) -> None:
        if view != self.owner or self.session.closed:
            return
        if self.widget.mode == "push_to_talk" and not self.ptt_held:
            return
        pcm = np.frombuffer(data[: len(data) // 2 * 2], dtype="<i2")
        if not len(pcm):
            return
        self.mic_chunks += 1
        self.mic_samples += len(pcm)
        self.mic_at = self.loop.time()
        if self.ptt_held:
            self.ptt_samples += len(pcm)
        idle = not self.ops and (self.worker is None or self.worker.done())
        if not (idle and _audio_in.append_now(self.client, pcm)):  # at once when nothing is queued
            self.enqueue(lambda: self.session.aappend_audio(pcm))
        self.schedule_flush(STREAM_FLUSH_S)

    def on_ptt(self, view: str, down: bool) -> None:
        if view != self.owner or self.widget.mode != "push_to_talk":
            return
        if down and not self.ptt_held:
            self.ptt_held = True
            self.ptt_samples = 0
            self.set_status("user_speaking")
            self.enqueue(lambda: self.barge_in("push_to_talk", cancel=True))
            self.enqueue(self.session.aclear_audio)
        elif not down and self.ptt_held:
            self.ptt_held = False
            samples = self.ptt_samples
            self.enqueue(lambda: self.ptt_release(samples))

    def transcription_only(self) -> bool:
        """A transcription session (``rt.transcribe()``): no responses, no voice, no realtime updates."""
        return (self.client.state.session or {}).get("type") == "transcription"

    def refuse(self, setting: str) -> None:
        """A setting a transcription session does not have: say so, and show what it really uses."""
        self.send({"type": "notice", "text": f"A transcription session has no {setting} setting."})
        self.sync_from_config()

    async def ptt_release(self, samples: int) -> None:
        if samples < MIN_PTT_SAMPLES:
            await self.session.aclear_audio()
            self.set_status("listening")
            self.send({"type": "notice", "text": "Hold the button (or the space bar) while you speak."})
            return
        if self.transcription_only():  # the commit is the whole turn: its transcript follows
            self.set_status("transcribing")
            await self.session.acommit()
            return
        self.set_status("thinking")
        await self.session.acommit()
        await self.session.arespond(wait=False)

    def enqueue(self, op: Callable[[], Awaitable[Any]]) -> None:
        """Run ``op`` after the operations queued before it (appends, commits, clears stay in order)."""
        self.ops.append(op)
        if self.worker is None or self.worker.done():
            self.worker = self.loop.create_task(self.drain())

    async def drain(self) -> None:
        while self.ops:
            op = self.ops.popleft()
            try:
                await op()
            except RealtimeError as exc:
                self.report(exc)
            except Exception as exc:
                if self.session.closed:
                    self.ops.clear()
                    return
                log.warning("realtime-nb widget: %s", exc, exc_info=True)
                self.set_error(f"{type(exc).__name__}: {exc}")

    # -- settings changed in the UI (or from Python), and the session's own ------------------------
    def apply_mode(self) -> None:
        if self.transcription_only():
            self.refuse("turn mode")  # its turn detection is rt.transcribe(turn_detection=…)'s
            return
        td = turn_detection_for(self.widget.mode, self.widget.vad, self.widget.barge_in)
        if td is None:
            self.ptt_held = False
        self.enqueue(lambda: self._update(turn_detection=td))

    def apply_transcription(self) -> None:
        """The "show my words" toggle: input audio transcription on (the recognizer's default model) or off."""
        on = bool(self.widget.transcribe)
        if self.transcription_only():
            if not on:
                self.refuse("'show my words'")  # transcribing is all it does
            return
        if on == transcription_from_config(self.client.state.session):
            return
        config = {"model": TRANSCRIPTION_MODEL} if on else None
        self.enqueue(lambda: self._update(audio={"input": {"transcription": config}}))

    def on_text(self, text: str) -> None:
        """A turn typed in the widget: a user message and a response, after what is queued."""
        text = text.strip()[:MAX_TEXT]
        if self.transcription_only():
            self.send({"type": "notice", "text": "A transcription session does not take typed turns."})
            return
        if text and not self.session.closed:
            self.enqueue(lambda: self.session.asay(text, wait=False))

    def apply_voice(self) -> None:
        voice = self.widget.voice
        if self.transcription_only():
            if voice:
                self.refuse("voice")
            return
        if voice and voice != voice_from_config(self.client.state.session):
            self.enqueue(lambda: self._update(voice=voice))

    async def _update(self, **fields: Any) -> None:
        try:
            await self.session.aupdate(**fields)
        except RealtimeError as exc:
            self.report(exc)
            self.sync_from_config()  # show what the session really uses

    def sync_from_config(self) -> None:
        """Reflect the session config (changed from a cell, say) in the mode and voice traits."""
        config = self.client.state.session
        if not config:
            return
        mode, vad = mode_from_config(config)
        voice = voice_from_config(config)
        with self.widget._from_kernel():
            self.widget.mode = mode
            if vad is not None:
                self.widget.vad = vad
            if voice is not None:
                self.widget.voice = voice
            elif config.get("type") == "transcription":
                self.widget.voice = ""
            self.widget.transcribe = transcription_from_config(config)
            expires = config.get("expires_at")
            if isinstance(expires, (int, float)) and not isinstance(expires, bool):
                self.widget.expires_at = float(expires)
