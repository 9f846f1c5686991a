"""The widget's fast path: a loopback websocket between a view and the kernel's loop thread.

Custom widget messages travel browser → jupyter_server → ZMQ → the kernel's shell (or a subshell)
thread → our loop thread, and every one of them makes the kernel publish busy/idle status on IOPub:
about 0.7 ms of kernel CPU and a few ms of delay per 40 ms mic chunk (``bench/bench_kernel_cpu.py``,
``bench/bench_relay.py``). The link carries the very same messages (``widget.py`` lists them) over one
websocket that ends on the session's loop thread, where the bridge runs anyway.

- One ``LinkServer`` per kernel process, on the shared loop (``_loop``), bound to ``127.0.0.1`` on an
  ephemeral port, started when the first view asks for it (the ``link`` request over the comm).
- Each widget registers with a random token; a view connects to ``/link/<token>/<view id>``. No token,
  no connection (HTTP 403) — a page elsewhere in the browser cannot guess it. The token travels only in
  a custom message: never in synced widget state, so never in a saved notebook.
- On top of the token, the upgrade's ``Origin`` header must be the origin of a page that asked for the
  link (each view sends its ``location.origin`` with its ``link`` request, over the authenticated comm):
  browsers set that header themselves, so another site's page is refused even if it learnt a token
  (HTTP 403; a request without ``Origin`` is refused too).
- Frames: a text frame is a message's JSON content; a binary frame is ``u32 big-endian header length +
  JSON content + one buffer`` (every message has at most one buffer).
- The comm stays: it carries the handshake and the synced traits, and every message of a view whose
  link is not up (VS Code, a remote server whose kernel port the browser cannot reach, a closed link).

Turn it off with ``REALTIME_NB_LINK=0`` (then everything goes over the comm, as before).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import struct
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

from ..client._wsnow import write_now

log = logging.getLogger("realtime_nb")

__all__ = ["Link", "LinkServer", "decode_frame", "encode_frame", "link_enabled", "server", "valid_origin"]

PATH_PREFIX = "/link/"
MAX_FRAME = 16 * 1024 * 1024
_HEADER = struct.Struct(">I")


def link_enabled() -> bool:
    """False when ``REALTIME_NB_LINK`` says off (``0``, ``false``, ``no``, ``off``)."""
    return os.environ.get("REALTIME_NB_LINK", "1").strip().lower() not in ("0", "false", "no", "off")


def valid_origin(origin: Any) -> bool:
    """An origin a page can have (``http(s)://host[:port]``, no path); not ``"null"`` (sandboxed, file:)."""
    if not isinstance(origin, str) or len(origin) > 300:
        return False
    parts = urlsplit(origin)
    return parts.scheme in ("http", "https") and bool(parts.netloc) and not parts.path and not parts.query \
        and f"{parts.scheme}://{parts.netloc}" == origin


def encode_frame(content: dict[str, Any], buffer: bytes | None = None) -> str | bytes:
    """One message as a websocket frame: text without a buffer, ``len + JSON + buffer`` with one."""
    text = json.dumps(content, separators=(",", ":"))
    if buffer is None:
        return text
    head = text.encode()
    return b"".join((_HEADER.pack(len(head)), head, buffer))


def decode_frame(frame: str | bytes) -> tuple[dict[str, Any], list[bytes]]:
    """``(content, buffers)`` of a frame; ``ValueError`` when it is not one of ours."""
    if isinstance(frame, str):
        content = json.loads(frame)
        buffers: list[bytes] = []
    else:
        if len(frame) < _HEADER.size:
            raise ValueError("binary frame shorter than its header")
        (n,) = _HEADER.unpack_from(frame)
        end = _HEADER.size + n
        if end > len(frame):
            raise ValueError(f"binary frame header says {n} bytes of JSON, the frame has {len(frame) - 4}")
        content = json.loads(frame[_HEADER.size:end])
        buffers = [bytes(frame[end:])]
    if not isinstance(content, dict):
        raise ValueError(f"a message must be a JSON object, got {type(content).__name__}")
    return content, buffers


class Link:
    """One view's open link; ``send`` never blocks (a writer task drains the queue in order)."""

    def __init__(self, ws: Any, view: str) -> None:
        self.ws = ws
        self.view = view
        self.queue: asyncio.Queue[str | bytes | None] = asyncio.Queue()
        self.writer = asyncio.get_running_loop().create_task(self._write())
        self.writing = False      # the writer task holds a frame that ws.send has not finished with
        self.closing = False
        self.sent = 0
        self.received = 0

    def send(self, content: dict[str, Any], buffers: list[bytes] | None = None) -> None:
        frame = encode_frame(content, buffers[0] if buffers else None)
        self.sent += 1
        if self.closing:
            return
        if self.writing or not self.queue.empty() or not write_now(self.ws, frame):
            self.queue.put_nowait(frame)  # behind what is queued, or when the socket is busy

    async def _write(self) -> None:
        while True:
            frame = await self.queue.get()
            if frame is None:
                await self.ws.close()
                return
            self.writing = True
            try:
                await self.ws.send(frame)
            except Exception:  # closed: the reader ends the link
                return
            finally:
                self.writing = False

    def close(self) -> None:
        """Close the socket once what is queued has gone (the view falls back to the comm)."""
        self.closing = True
        self.queue.put_nowait(None)


class LinkServer:
    """The process's link endpoint. Use on the loop thread; ``server()`` gets the running one."""

    def __init__(self) -> None:
        self.port: int | None = None
        self._server: Any = None
        self._targets: dict[str, Any] = {}   # token -> the widget's Bridge (duck-typed: link_opened/closed, handle)
        self._origins: dict[str, set[str]] = {}  # token -> the page origins allowed to use it
        self._starting: asyncio.Future[None] | None = None

    async def start(self) -> int:
        """Start listening (once); the port."""
        if self._starting is None:
            self._starting = asyncio.get_running_loop().create_future()
            try:
                from websockets.asyncio.server import serve

                self._server = await serve(self._serve, "127.0.0.1", 0, process_request=self._check,
                                           compression=None, max_size=MAX_FRAME, ping_interval=20,
                                           ping_timeout=20)
                sock = next(iter(self._server.sockets))
                self.port = int(sock.getsockname()[1])
                self._starting.set_result(None)
            except BaseException as exc:
                self._starting.set_exception(exc)
                self._starting = None
                raise
        else:
            await asyncio.shield(self._starting)
        assert self.port is not None
        return self.port

    def register(self, target: Any) -> str:
        token = secrets.token_urlsafe(24)
        self._targets[token] = target
        return token

    def allow(self, token: str, origin: str) -> None:
        """Let pages of ``origin`` connect with ``token`` (the origin a view reported for itself)."""
        if token in self._targets:
            self._origins.setdefault(token, set()).add(origin)

    def unregister(self, token: str) -> None:
        self._targets.pop(token, None)
        self._origins.pop(token, None)

    def _parse(self, path: str) -> tuple[Any, str] | None:
        """``(target, view)`` for ``/link/<token>/<view>``, else None."""
        if not path.startswith(PATH_PREFIX):
            return None
        parts = path[len(PATH_PREFIX):].split("?", 1)[0].split("/")
        if len(parts) != 2 or not parts[1]:
            return None
        target = self._targets.get(parts[0])
        return (target, parts[1]) if target is not None else None

    def _check(self, connection: Any, request: Any) -> Any:
        if self._parse(request.path) is None:
            return connection.respond(HTTPStatus.FORBIDDEN, "unknown realtime-nb link\n")
        token = request.path[len(PATH_PREFIX):].split("/", 1)[0]
        origin = request.headers.get("Origin")
        if origin is None or origin not in self._origins.get(token, ()):
            log.info("realtime-nb link: refused an upgrade from origin %r", origin)
            return connection.respond(HTTPStatus.FORBIDDEN, "origin not allowed for this realtime-nb link\n")
        return None

    async def _serve(self, ws: Any) -> None:
        found = self._parse(ws.request.path)
        if found is None:  # unregistered between the handshake and now
            await ws.close(1008, "unknown link")
            return
        target, view = found
        link = Link(ws, view)
        target.link_opened(link)
        try:
            async for frame in ws:
                link.received += 1
                try:
                    content, buffers = decode_frame(frame)
                except ValueError as exc:
                    log.warning("realtime-nb link: dropped a malformed frame from view %s: %s", view, exc)
                    continue
                target.handle(content, buffers)
        except Exception:  # a closed connection ends the loop; nothing else may escape to websockets' log
            log.debug("realtime-nb link: view %s closed", view, exc_info=True)
        finally:
            link.close()
            target.link_closed(link)

    def close(self) -> None:
        if self._server is not None:
            self._server.close()


_server: LinkServer | None = None


def server() -> LinkServer:
    """The process's link server (not started: ``await server().start()`` on the loop thread)."""
    global _server
    if _server is None:
        _server = LinkServer()
    return _server
