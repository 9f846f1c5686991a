"""The browser widget: talk to a session from a notebook cell.

>>> s = rt.connect()          # doctest: +SKIP
>>> s.widget                  # doctest: +SKIP   (or display(s), or just `s` as a cell's last line)

The browser captures the mic and plays the model's voice; the kernel relays them (``_bridge``), or, with
``transport="webrtc"``, the browser's peer connection carries them to the model and the kernel holds the
call's sideband (``_webrtc``).
Synced traits hold UI state only — they are saved into the notebook — never a key or any audio:
audio travels as binary custom messages, the transcript and event log as custom messages too.

Transport: a view first asks for the kernel's **link** (``_link``): a loopback WebSocket that ends on the
session's loop thread, skipping jupyter_server, ZMQ and the kernel's shell thread (about 5x less kernel
CPU and a few ms less delay per message; ``bench/``). When the page is served from this machine the
view connects to it (from a Worker, which hands audio to and from the audio worklets without the
page's main thread) and every message below then travels over it; otherwise (a remote server, VS Code,
``REALTIME_NB_LINK=0``) they are custom comm messages. Either way the messages are the same.

Kernel ↔ browser messages (``content["type"]``; the JS side is ``js/comm.js``):

========================  ==========  ======================================================================
type                      direction   meaning
========================  ==========  ======================================================================
``link`` (request)        JS → K      (over the comm) reply ``{port, token}`` of the kernel's link, or null
``ready`` (request)       JS → K      a view rendered; reply ``{owner, owner_view, snapshot, transport}``
``claim`` (request)       JS → K      take audio (``force``: even from a live owner); reply ``{owner}``
``audio`` + 1 buffer      JS → K      mic PCM16 24 kHz mono, ≥ 40 ms
``ptt``                   JS → K      push-to-talk ``{down: bool}``
``release``               JS → K      the view goes away (or gives up audio)
``client_error``          JS → K      a browser-side failure (mic permission …) for ``last_error``
``ping`` (request)        JS → K      is the kernel alive? reply ``{closed}`` (a view ends itself without one)
``event`` (request)       JS → K      ``{index}`` an event-log row's payload (audio elided), or null
``reconnect`` (request)   JS → K      the Reconnect button: the session connects again (where it can)
``text``                  JS → K      ``{text}`` a typed turn (a user message and a response)
``stop``                  JS → K      "Stop reply" / Esc: stop playback, truncate at what was heard, cancel
``call`` (request)        JS → K      ``{sdp}`` the owner's WebRTC offer; reply ``{sdp, call_id}`` once the
                                      session is the call's sideband (an error: the view uses the relay)
``hangup`` (request)      JS → K      end the call; reply once the session is back on its own connection
``call_ended``            K → JS      the call ended by itself: stop the peer connection, use the relay
``reply``                 both        answer to a request ``{id, ok, result | error}``
``owner``                 K → JS      ``{owner: view id | null}``
``audio`` + 1 buffer      K → JS      assistant PCM16 24 kHz ``{item_id, response_id, samples}``, ≥ 40 ms
``audio_end``             K → JS      no more audio for ``item_id``
``interrupt`` (request)   K → JS      stop playback now; reply ``{item_id, played_samples}``
``probe`` (request)       K → JS      is the owner view alive?
``truncated``             K → JS      ``{item_id, audio_end_ms, played_samples, received_samples}``
``update``                K → JS      ``{entries?, order?, events?}`` transcript and event-log changes
``notice``                K → JS      ``{text}`` a hint to show
``session_closed``        K → JS      ``{kind, reason, can_resume}``: stop the mic and playback, show why
``session_open``          K → JS      the session is back after a Reconnect click
``reconnecting``          K → JS      ``{message}`` the session lost its socket and reconnects by itself
``reconnected``           K → JS      it is back, with its conversation
========================  ==========  ======================================================================

Messages the kernel sends to one view name it in ``view``; the others ignore them.

**Caption mode** (``captions``, on by default for a ``TranscriptionSession``, ``rt.transcribe()``): live
captions of what the mic hears, nothing played, the conversation's controls hidden (``js/captions.js``).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anywidget
import traitlets as t

from ..client import _loop
from ..client.transcribe import TranscriptionSession
from ._bridge import Bridge, run_on_loop
from ._webrtc import TRANSPORTS

if TYPE_CHECKING:
    from ..client.session import Session

__all__ = ["VOICES", "RealtimeWidget", "widget_for"]

_STATIC = Path(__file__).parent / "static"

VOICES = ["alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse", "marin", "cedar"]
MODES = ["hands_free", "push_to_talk", "manual"]
STATUSES = ["connecting", "listening", "user_speaking", "thinking", "speaking", "transcribing", "error", "closed"]


class RealtimeWidget(anywidget.AnyWidget):
    """A live view of a ``Session``: mic, speaker, transcript, status, event log.

    Create it with ``session.widget`` (one per session). Settings can be changed from Python too:
    ``w.mode = "push_to_talk"`` sends the matching ``session.update``.
    """

    _esm = _STATIC / "widget.js"
    _css = _STATIC / "widget.css"

    # -- state the kernel owns -------------------------------------------------------------------
    status = t.Enum(STATUSES, "connecting", help="what the conversation is doing").tag(sync=True)
    last_error = t.Unicode("", help="the last error, for the user to see").tag(sync=True)
    voice_locked = t.Bool(False, help="the model has spoken: the voice can no longer change").tag(sync=True)
    expires_at = t.Float(0.0, help="when the server ends the session (epoch seconds; 0: unknown)").tag(sync=True)
    # -- settings (either side may change them) --------------------------------------------------
    mode = t.Enum(MODES, "hands_free", help="hands_free (VAD + automatic responses), push_to_talk, "
                  "or manual (VAD, responses from your code)").tag(sync=True)
    vad = t.Enum(["server_vad", "semantic_vad"], "server_vad").tag(sync=True)
    voice = t.Unicode("").tag(sync=True)
    voices = t.List(t.Unicode(), VOICES).tag(sync=True)
    barge_in = t.Bool(True, help="stop playback and truncate when the user starts speaking").tag(sync=True)
    transcribe = t.Bool(False, help="show my words: turn input audio transcription on "
                        "(session.update audio.input.transcription)").tag(sync=True)
    # -- browser-only settings -------------------------------------------------------------------
    transport = t.Enum(TRANSPORTS, "auto", help="how the mic and the voice travel: 'webrtc' (a peer connection "
                       "from the browser to the model; the kernel holds the call's sideband), 'relay' (through the "
                       "kernel), or 'auto': webrtc where the target speaks it (OpenAI; the local server with the "
                       "webrtc extra), else the relay. A failed call falls back to the relay").tag(sync=True)
    captions = t.Bool(False, help="caption view: live captions of what the mic hears, no playback, no voice or "
                      "typed turns (the default for a TranscriptionSession, rt.transcribe())").tag(sync=True)
    autostart = t.Bool(False, help="open the mic as soon as the audio view renders, without waiting for "
                       "the 'Start talking' click (kiosks, classroom demos)").tag(sync=True)
    muted = t.Bool(False).tag(sync=True)
    prebuffer_ms = t.Int(100, help="playback jitter buffer before audio starts").tag(sync=True)
    prebuffer_max_ms = t.Int(400, help="the jitter buffer grows up to this on underruns and shrinks back "
                             "while playback is stable; = prebuffer_ms: fixed").tag(sync=True)
    chunk_ms = t.Int(40, help="mic chunk length (>= 40 ms)").tag(sync=True)
    mic_device = t.Unicode("", help="deviceId of the mic; '' is the default").tag(sync=True)
    mic_constraints = t.Dict(
        {"echoCancellation": True, "noiseSuppression": True, "autoGainControl": True},
        help="getUserMedia processing flags (echo cancellation on: speakers next to the mic)",
    ).tag(sync=True)
    event_log_size = t.Int(200).tag(sync=True)
    _model_key = t.Unicode("").tag(sync=True)

    def __init__(self, session: Session, **settings: Any) -> None:
        known = {n for n in self.class_own_traits() if not n.startswith("_")}
        unknown = set(settings) - known
        if unknown:
            raise TypeError(f"RealtimeWidget got unknown settings {sorted(unknown)}; known: {sorted(known)}")
        # the session's own config decides these first; what the caller asked for is applied after
        wanted: dict[str, Any] = {k: settings.pop(k) for k in ("mode", "vad", "voice") if k in settings}
        settings.setdefault("captions", isinstance(session, TranscriptionSession))
        if settings["captions"] and not isinstance(session, TranscriptionSession):
            wanted.setdefault("transcribe", True)  # captions of a conversation: its input transcription on
        super().__init__(**settings)
        self._session = session
        self._local = threading.local()
        self._model_key = self.model_id or ""
        self._bridge: Bridge = run_on_loop(lambda: Bridge(self, session))
        run_on_loop(self._bridge.attach)
        self.on_msg(self._on_custom)
        for name, value in wanted.items():
            setattr(self, name, value)

    @property
    def session(self) -> Session:
        return self._session

    def _should_send_property(self, key: str, value: Any) -> bool:
        # ``status`` follows the session on every turn (w.status), but the page draws its pill from the
        # events themselves (js/status.js) and reads the trait only for "closed": a trait update is a comm
        # message through the kernel's IOPub thread, so only the changes to and from "closed" go out (a
        # new view gets the current value with the widget's state, as before)
        if key == "status" and "closed" not in (value, getattr(self, "_synced_status", "")):
            return False
        send = bool(super()._should_send_property(key, value))
        if send and key == "status":
            self._synced_status = value
        return send

    # -- browser → kernel: copy and hand off, nothing else (any thread) --------------------------
    def _on_custom(self, _widget: Any, content: Any, buffers: Any) -> None:
        if not isinstance(content, dict):
            return
        # memoryviews into the kernel's receive buffer: copy before another thread reads them
        data = [bytes(b) for b in buffers or []]
        _loop.get_loop().call_soon_threadsafe(self._bridge.handle, dict(content), data)

    # -- settings changed (from the browser or Python) -------------------------------------------
    @contextlib.contextmanager
    def _from_kernel(self) -> Iterator[None]:
        """Trait changes made while reflecting the session config must not send updates back."""
        self._local.quiet = True
        try:
            yield
        finally:
            self._local.quiet = False

    def _quiet(self) -> bool:
        return bool(getattr(getattr(self, "_local", None), "quiet", False))

    @t.observe("mode", "vad", "barge_in")
    def _mode_changed(self, change: Any) -> None:
        if self._quiet() or not hasattr(self, "_bridge"):
            return
        if change["name"] == "barge_in" and self.mode != "hands_free":
            return  # barge-in changes the session's turn detection only in hands-free mode
        if change["name"] == "vad" and self.mode == "push_to_talk":
            return
        _loop.get_loop().call_soon_threadsafe(self._bridge.apply_mode)

    @t.observe("transcribe")
    def _transcribe_changed(self, change: Any) -> None:
        if self._quiet() or not hasattr(self, "_bridge"):
            return
        _loop.get_loop().call_soon_threadsafe(self._bridge.apply_transcription)

    @t.observe("voice")
    def _voice_changed(self, change: Any) -> None:
        if self._quiet() or not hasattr(self, "_bridge"):
            return
        _loop.get_loop().call_soon_threadsafe(self._bridge.apply_voice)

    @t.validate("chunk_ms")
    def _valid_chunk(self, proposal: Any) -> int:
        return max(40, int(proposal["value"]))

    @t.validate("prebuffer_ms")
    def _valid_prebuffer(self, proposal: Any) -> int:
        return max(0, min(5000, int(proposal["value"])))

    def stats(self) -> dict[str, Any]:
        """Kernel-side counters: views, audio owner, mic chunks, audio messages, truncations, and the
        owner's player as of its last ping (every 2 s): ``underruns`` and its adaptive ``prebuffer_ms``."""
        return run_on_loop(self._bridge.stats)  # type: ignore[no-any-return]

    def close(self) -> None:
        bridge = getattr(self, "_bridge", None)
        if bridge is not None:
            with contextlib.suppress(Exception):
                run_on_loop(bridge.detach)
        super().close()


_lock = threading.Lock()


def widget_for(session: Session, **settings: Any) -> RealtimeWidget:
    """The session's widget, created on first use (``Session.widget`` calls this)."""
    with _lock:
        w = getattr(session, "_rtnb_widget", None)
        if w is None or w.comm is None:
            w = RealtimeWidget(session, **settings)
            session._rtnb_widget = w  # type: ignore[attr-defined]
        return w
