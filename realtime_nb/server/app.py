"""The local Realtime server's I/O layer: websockets in, engine, websockets out.

The port is served by aiohttp (``http.py``: the WebSocket and the REST endpoints, client secrets and
WebRTC calls); a WebRTC call (``calls.py``) runs the same ``_Connection`` over its own socket.

``LocalServer`` runs an asyncio loop in its own daemon thread (or in the foreground for
``realtime-nb serve``). Each connection gets an ``Engine``; one writer task per connection sends event
batches in the order the engine produced them, so replies and streamed response events never interleave
inside a batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.datastructures import Headers

from ..protocol import dialect
from ..protocol.codec import decode, encode
from ..protocol.errors import EventError, server_error
from ..protocol.normalize import prepare_client_event
from ..protocol.redact import RedactKey
from . import stt
from .brain_api import BrainError
from .brains import make_brain
from .calls import Calls, CallSocket, Socket
from .engine import Engine
from .http import HttpServer
from .pacing import Pacer, audio_seconds, default_chunk_ms
from .runner import ResponseRun, ev
from .secrets import ClientSecrets, Grant
from .transcription import TranscriptionJob, delta_event
from .transcription_session import TranscriptionEngine
from .vad import BACKENDS, available_backends

log = logging.getLogger("realtime_nb.server")
ws_log = logging.getLogger("realtime_nb.server.websocket")  # the handshakes, keys masked
ws_log.addFilter(RedactKey())
PACES = {"fast": 0.0, "realtime": 1.0}


def _bearer(headers: Headers, subprotocols: list[str]) -> str | None:
    auth = headers.get("Authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    for sp in subprotocols:
        if sp.startswith("openai-insecure-api-key."):
            return sp[len("openai-insecure-api-key."):]
    return None


def _offered(headers: Headers) -> list[str]:
    return [p.strip() for v in headers.get_all("Sec-WebSocket-Protocol") for p in v.split(",") if p.strip()]


class _Workers:
    """Daemon threads that run response producers, kept for the next response.

    Starting a thread blocks the caller until the thread runs: ~0.5 ms on a busy 2-core machine, now
    and then a scheduler tick or more, and the caller is the event loop that every session waits on.
    So a finished producer's thread waits ``idle_s`` for the next job instead of exiting; a job that
    finds no idle thread starts one (a stuck LLM stream ties up only its own thread). Daemon threads,
    as one thread per response was: a stuck stream must not hold up shutdown.
    """

    def __init__(self, idle_s: float = 30.0) -> None:
        self._jobs: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()  # None: exit
        self._lock = threading.Lock()
        self._idle = 0  # threads waiting for a job, minus the jobs queued for them
        self.idle_s = idle_s

    def submit(self, job: Callable[[], None]) -> None:
        """Run ``job`` in an idle thread, or in a new one if none is idle."""
        with self._lock:
            if self._idle:
                self._idle -= 1
                self._jobs.put(job)
                return
        threading.Thread(target=self._work, args=(job,), name="realtime-nb-worker", daemon=True).start()

    def close(self) -> None:
        """Let the idle threads exit now (busy ones exit when their job ends and ``idle_s`` passes)."""
        with self._lock:
            for _ in range(self._idle):
                self._jobs.put(None)
            self._idle = 0

    def _work(self, job: Callable[[], None] | None) -> None:
        me = threading.current_thread()
        while job is not None:
            try:
                job()
            except Exception:  # jobs report their own errors; this keeps the thread alive regardless
                log.exception("response worker job failed")
            me.name = "realtime-nb-worker"
            with self._lock:
                self._idle += 1
            try:
                job = self._jobs.get(timeout=self.idle_s)
            except queue.Empty:
                with self._lock:
                    try:
                        job = self._jobs.get_nowait()  # handed to this thread as it timed out
                    except queue.Empty:
                        self._idle -= 1
                        return


class _Connection:
    """Drives one engine over one websocket."""

    def __init__(self, ws: Socket, engine: Engine, *, beta: bool, pace: float,
                 workers: _Workers) -> None:
        self.ws, self.engine, self.beta, self.pace, self.workers = ws, engine, beta, pace, workers
        self.queue: asyncio.Queue[list[dict[str, Any]] | None] = asyncio.Queue()
        self.tasks: set[asyncio.Task[None]] = set()
        self.writer: asyncio.Task[None] | None = None
        self.closing = False
        self._stt_loading = False

    def emit(self, events: Iterable[dict[str, Any]]) -> None:
        batch = list(events)
        if batch:
            self.queue.put_nowait(batch)
        if not self._stt_loading and self.engine.session["audio"]["input"].get("transcription"):
            self._stt_loading = True  # transcription is on: have the model ready before the first turn ends
            stt.preload(self.engine.stt_model)
        for job in self.engine.new_jobs:
            self._spawn(self._transcribe(job))
        self.engine.new_jobs.clear()
        for run in self.engine.new_runs:
            self._spawn(self._drive(run))
        self.engine.new_runs.clear()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _writer(self) -> None:
        while (batch := await self.queue.get()) is not None:
            for event in batch:
                try:
                    frames = [encode(e) for e in (dialect.server_event_to_beta(event) if self.beta else [event])]
                except Exception:  # our fault: say so instead of ending the writer (and the connection)
                    log.exception("could not encode a %s event", event.get("type"))
                    frames = [encode(server_error().to_event())]
                for frame in frames:
                    await self.ws.send(frame)

    async def _transcribe(self, job: TranscriptionJob) -> None:
        """Recognize in a worker thread (the recognizer keeps the GIL free), streaming each decoded segment."""
        loop = asyncio.get_running_loop()

        def delta(text: str, logprobs: list[dict[str, Any]] | None) -> None:
            with contextlib.suppress(RuntimeError):  # the loop is gone: the connection closed
                loop.call_soon_threadsafe(self.emit, [delta_event(job, text, logprobs, ev)])

        await asyncio.to_thread(job.run, delta)
        self.emit(self.engine.transcription_finished(job))

    async def _drive(self, run: ResponseRun) -> None:
        """Produce the run's pieces in a worker thread, stream their events here, paced by audio length.

        Batches go out on the response's absolute audio schedule (``pacing.Pacer``). The thread runs ahead
        of the pacing (it synthesizes the next sentence while this one plays). A daemon thread of the
        server's ``_Workers``, not the loop's executor: a stuck LLM stream must not hold up shutdown.
        """
        loop = asyncio.get_running_loop()
        pieces: asyncio.Queue[Any] = asyncio.Queue()

        def put(x: Any) -> None:
            with contextlib.suppress(RuntimeError):  # the loop is gone: the connection closed
                loop.call_soon_threadsafe(pieces.put_nowait, x)

        def produce() -> None:
            threading.current_thread().name = f"realtime-nb-{run.id}"
            try:
                for piece in run.pieces():
                    put(piece)
                    if run.finished:
                        break
                put(None)
            except Exception as exc:  # a brain or TTS failure must not kill the session
                log.warning("response %s failed: %s", run.id, exc, exc_info=not isinstance(exc, BrainError))
                put(exc)

        self.workers.submit(produce)
        pacer = Pacer(self.pace)  # an absolute schedule: late wake-ups do not add up (pacing.py)
        try:
            while (piece := await pieces.get()) is not None:
                if isinstance(piece, Exception):
                    message = str(piece) if isinstance(piece, BrainError) else f"{type(piece).__name__}: {piece}"
                    self.emit(run.fail(message))
                    return
                if run.finished:
                    continue  # cancelled: let the producer wind down, send nothing more
                for batch in run.steps_for(piece):
                    self.emit(batch)
                    await asyncio.sleep(pacer.after(audio_seconds(batch), loop.time()))
            self.emit(run.complete())
        except Exception as exc:  # a bug of ours while streaming: the response fails, the session goes on
            log.exception("response %s failed while streaming", run.id)
            self.emit(run.fail(f"server error: {type(exc).__name__}"))

    async def _timers(self) -> None:
        deadline = self.engine.started + self.engine.max_session_s
        while True:
            now = self.engine.clock()
            if now >= deadline:
                self.emit(self.engine.expire())
                await self._shutdown(1001, self.engine.expiry_message[:120])
                return
            self.emit(self.engine.tick())
            await asyncio.sleep(min(0.1, max(0.0, deadline - now)))

    async def _shutdown(self, code: int, reason: str = "") -> None:
        """Flush what is queued, then close (once)."""
        if self.closing:
            return
        self.closing = True
        for task in list(self.tasks):
            task.cancel()
        self.queue.put_nowait(None)
        if self.writer is not None:
            with contextlib.suppress(Exception):
                await self.writer
        await self.ws.close(code, reason)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        self.writer = loop.create_task(self._writer())
        timers = loop.create_task(self._timers())
        self.emit(self.engine.open())
        try:
            async for frame in self.ws:
                self.emit(self._handle(frame))
                if self.engine.close_requested:
                    break
        finally:
            if not self.closing:
                timers.cancel()
                await self._shutdown(1000)
            with contextlib.suppress(asyncio.CancelledError):
                await timers

    def _handle(self, frame: str | bytes) -> list[dict[str, Any]]:
        """The events answering one client frame. Never raises: whatever goes wrong while handling one
        frame becomes an ``error`` event (``server_error`` for our own faults, logged once with its
        traceback) and the connection keeps serving, as the live service does."""
        event: dict[str, Any] | None = None
        try:
            event = decode(frame)
            if self.beta:
                # bound nesting first (the translation copies); its nulls are the engine's to read, in GA
                event = dialect.client_event_to_ga(prepare_client_event(event, drop_nulls=False))
            return self.engine.receive(event)
        except EventError as err:
            return [err.to_event()]
        except Exception:
            raw_id = event.get("event_id") if event is not None else None
            eid = raw_id if isinstance(raw_id, str) else None
            log.exception("server error handling a client %s event (event_id %r)",
                          event.get("type") if event is not None else "frame", eid)
            return [server_error(eid).to_event()]


class LocalServer:
    """A local, offline server speaking the GA Realtime protocol.

    >>> with LocalServer() as server:          # doctest: +SKIP
    ...     client = AsyncOpenAI(api_key="x", websocket_base_url=server.url)

    ``brain``: ``"echo"`` (default), ``"chat"`` (with ``llm_url``, ``llm_model``, optional
    ``llm_api_key``: any OpenAI-compatible chat-completions server), a ``Brain`` object such as
    ``ChatBrain(url, model)``, scripted rules ``[(regex, reply)]`` or a callable.
    ``pace``: ``"fast"`` (stream as fast as possible), ``"realtime"`` or a float (1.0 = real time,
    2.0 = twice as slow; paced on an absolute schedule, so it does not drift: ``pacing.py``); ``chunk_ms``:
    audio per ``response.output_audio.delta`` (default 100 ms at ``"fast"``, 40 ms when paced).
    ``vad``: the voice activity detector behind ``server_vad``/``semantic_vad``: ``"webrtc"`` (default
    when installed), ``"silero"`` or ``"energy"``.
    ``transcript_wait_s``: how long a response waits for the transcription of user audio in its context
    to start (when ``audio.input.transcription`` is on) before answering without it; a started one is
    waited for as long as decoding that audio may take.
    ``stt_model``: the speech recognizer: ``None`` (``REALTIME_NB_STT_MODEL``, else Whisper base from
    the speech extra), ``"pocketsphinx"``, a CTranslate2 Whisper model directory or a hub model name
    (``"base.en"``; needs a network once). See ``server/stt.py``.
    ``api_key``: when set, clients must send ``Authorization: Bearer <api_key>`` (or an ``ek_`` key the
    server minted at ``POST /v1/realtime/client_secrets``; ``secrets``). The same port answers WebRTC
    calls at ``POST /v1/realtime/calls`` (with ``realtime-nb[webrtc]``; ``calls``) and their
    ``?call_id=`` sidebands: docs/webrtc.md.
    ``beta_dialect``: serve clients that send ``OpenAI-Beta: realtime=v1`` the retired beta dialect
    (translated to and from GA), for running old beta code. By default they get what the live service
    answers: ``error`` ``beta_api_shape_disabled``, then close 4000.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, api_key: str | None = None,
                 brain: Any = None, pace: str | float = "fast", max_session_s: float = 3600.0,
                 chunk_ms: int | None = None, vad: str | None = None, transcript_wait_s: float = 3.0,
                 llm_url: str | None = None, llm_model: str | None = None,
                 llm_api_key: str | None = None, beta_dialect: bool = False,
                 stt_model: str | None = None) -> None:
        self.host, self._port, self.api_key = host, port, api_key
        self.beta_dialect = beta_dialect
        self.stt_model = stt.check_stt_setting(stt_model)
        self.brain = make_brain(brain, llm_url=llm_url, llm_model=llm_model, llm_api_key=llm_api_key)
        if isinstance(pace, str) and pace not in PACES:
            raise ValueError(f"pace must be 'fast', 'realtime' or a number, not {pace!r}")
        self.pace = PACES[pace] if isinstance(pace, str) else float(pace)
        if self.pace < 0:
            raise ValueError(f"pace must be >= 0, not {pace!r}")
        if vad is not None and vad not in BACKENDS:
            raise ValueError(f"vad must be one of {', '.join(BACKENDS)}, not {vad!r}")
        if vad is not None and vad not in available_backends():
            raise ImportError(f"the {vad!r} VAD backend is not installed (pip install realtime-nb[speech])")
        self.vad, self.transcript_wait_s = vad, transcript_wait_s
        self.max_session_s = max_session_s
        self.chunk_ms = default_chunk_ms(self.pace) if chunk_ms is None else chunk_ms
        self.engines: list[Engine] = []
        self._workers = _Workers()
        self.secrets = ClientSecrets(api_key)
        self.calls = Calls(self._call_connection, lambda: self.host in ("127.0.0.1", "localhost", "::1"))
        self._server: HttpServer | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopped: asyncio.Event | None = None

    def __repr__(self) -> str:
        state = self.url if self._server else "stopped"
        return f"<LocalServer {state} brain={getattr(self.brain, 'name', type(self.brain).__name__)}>"

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the server is not running; call start() or use it as a context manager")
        return self._server.port

    @property
    def url(self) -> str:
        """The ``ws://host:port/v1`` base, usable as the openai SDK's ``websocket_base_url``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"ws://{host}:{self.port}/v1"

    # -- running -------------------------------------------------------------------------------
    async def serve(self, ready: threading.Event | None = None) -> None:
        """Serve until ``stop()``; used by the thread and by ``realtime-nb serve``."""
        self._loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        server = HttpServer(self._handler, self.secrets, self.calls, ws_log)
        await server.start(self.host, self._port)
        self._server = server
        try:
            if ready is not None:
                ready.set()
            await self._stopped.wait()
        finally:
            await server.stop()
            self._server = None

    def start(self) -> LocalServer:
        if self._thread is not None:
            return self
        ready = threading.Event()
        errors: list[BaseException] = []

        def main() -> None:
            try:
                asyncio.run(self.serve(ready))
            except BaseException as exc:
                errors.append(exc)
                ready.set()

        self._thread = threading.Thread(target=main, name="realtime-nb-server", daemon=True)
        self._thread.start()
        ready.wait(10)
        if errors:
            self._thread = None
            raise RuntimeError(f"LocalServer could not start on {self.host}:{self._port}: {errors[0]}") from errors[0]
        return self

    def stop(self) -> None:
        loop, stopped = self._loop, self._stopped
        if loop is not None and stopped is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stopped.set)
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None
        self._workers.close()

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- connections -----------------------------------------------------------------------------
    async def _handler(self, ws: Any) -> None:
        """One WebSocket (``http.WebSocketAdapter``): a session, or the sideband of a call (``?call_id=``)."""
        request = ws.request
        headers = request.headers
        offered = _offered(headers)
        query = parse_qs(urlsplit(request.path).query)
        beta = "realtime=v1" in headers.get("OpenAI-Beta", "") or "openai-beta.realtime-v1" in offered
        try:
            grant = self.secrets.check(_bearer(headers, offered))  # the regular key or a live ek_ key
        except EventError as refused:
            await ws.send(encode(refused.to_event()))
            await ws.close(3000, "invalid_request_error.invalid_api_key")
            return
        if beta and not self.beta_dialect:
            err = EventError("beta_api_shape_disabled", "The Realtime API beta shape is disabled: connect "
                             "without the 'OpenAI-Beta: realtime=v1' header and send GA events. (This local "
                             "server serves the beta dialect only when started with beta_dialect=True or "
                             "--beta-dialect.)")
            await ws.send(encode(err.to_event()))
            await ws.close(4000, "invalid_request_error.beta_api_shape_disabled")
            return
        if "call_id" in query:
            await self._sideband(ws, query["call_id"][0], grant)
            return
        model = (query.get("model") or [""])[0] or grant.model or ""
        transcription = (query.get("intent") or [""])[0] == "transcription"
        if not model and not transcription:
            err = EventError("missing_model", "You must provide a model parameter, e.g. "
                             "/v1/realtime?model=gpt-realtime-1.5.", "model")
            await ws.send(encode(err.to_event()))
            await ws.close(4000, "invalid_request_error.missing_model")
            return
        engine = self._engine(model, grant.session, transcription=transcription)
        await self._run(_Connection(ws, engine, beta=beta, pace=self.pace, workers=self._workers))

    def _engine(self, model: str, session: dict[str, Any] | None, *, transcription: bool = False) -> Engine:
        options: dict[str, Any] = {"brain": self.brain, "max_session_s": self.max_session_s, "chunk_ms": self.chunk_ms,
                   "vad_backend": self.vad, "transcript_wait_s": self.transcript_wait_s, "stt_model": self.stt_model}
        # ?intent=transcription: a transcription-only session (transcription_session.py), no model needed
        engine = TranscriptionEngine(**options) if transcription else Engine(model=model, **options)
        if session and not transcription:  # what an ephemeral key or a call's request configured (validated)
            engine.receive({"type": "session.update", "session": session})
        return engine

    async def _run(self, conn: _Connection) -> None:
        self.engines.append(conn.engine)
        try:
            await conn.run()
        finally:
            self.engines.remove(conn.engine)

    def _call_connection(self, socket: CallSocket, model: str, session: dict[str, Any]
                         ) -> tuple[_Connection, Any]:
        conn = _Connection(socket, self._engine(model, session), beta=False, pace=self.pace, workers=self._workers)
        return conn, self._run(conn)

    async def _sideband(self, ws: Any, call_id: str, grant: Grant) -> None:
        call = self.calls.get(call_id)
        if grant.ephemeral:  # a sideband is the server's side of a call: the regular key only
            err = EventError("invalid_api_key", "A sideband connection needs your API key, not a client secret.")
            await ws.send(encode(err.to_event()))
            await ws.close(3000, "invalid_request_error.invalid_api_key")
            return
        if call is None:
            err = EventError("invalid_value", f"No call with id '{call_id}' exists.", "call_id")
            await ws.send(encode(err.to_event()))
            await ws.close(4000, "invalid_request_error.invalid_value")
            return
        await call.attach(ws)
