"""The local server's HTTP face (aiohttp): the WebSocket and the REST endpoints on one port.

- ``GET /v1/realtime`` (WebSocket upgrade): handed to ``LocalServer._handler`` as a ``WebSocketAdapter``,
  which has the few members of a ``websockets`` server connection that the handler and ``_Connection`` use
  (``request.path``, ``request.headers``, ``send``, ``close``, ``async for``), so they run unchanged.
- ``POST /v1/realtime/client_secrets``: mints an ephemeral ``ek_…`` key (``secrets.py``).
- ``POST /v1/realtime/calls``: a WebRTC call from an SDP offer (``calls.py``), in both forms: multipart
  "unified" (``sdp`` + ``session`` parts) or a bare ``application/sdp`` body; ``hangup`` ends one.
- ``GET /``, ``/health``, ``/v1``: a short text; anything else 404 with an OpenAI-style JSON error body.

``websockets`` alone cannot take a POST body, hence aiohttp for both; the WebSocket options are those the
``websockets`` server had (no compression, 32 MiB frames, a ping every 20 s).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from aiohttp import BodyPartReader, WSMsgType, web
from websockets.datastructures import Headers

from ..protocol.errors import EventError
from .calls import CallError, Calls
from .secrets import ClientSecrets

MAX_FRAME = 32 * 1024 * 1024   # an append of 15 MiB of audio is ~20 MiB of base64 JSON
MAX_BODY = 1024 * 1024         # an SDP offer is a few KB

Handler = Callable[["WebSocketAdapter"], Awaitable[None]]


class _Request:
    __slots__ = ("headers", "path")

    def __init__(self, path: str, headers: Headers) -> None:
        self.path, self.headers = path, headers


class WebSocketAdapter:
    """An aiohttp WebSocket with the surface of a ``websockets`` server connection that the server uses."""

    def __init__(self, ws: web.WebSocketResponse, request: web.Request) -> None:
        self._ws = ws
        self.request = _Request(request.path_qs, Headers(list(request.headers.items())))
        self.remote = request.remote

    async def send(self, message: str | bytes) -> None:
        if isinstance(message, str):
            await self._ws.send_str(message)
        else:
            await self._ws.send_bytes(message)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        await self._ws.close(code=code, message=reason.encode())

    @property
    def closed(self) -> bool:
        return self._ws.closed

    async def __aiter__(self) -> AsyncIterator[str | bytes]:
        while True:
            msg = await self._ws.receive()
            if msg.type is WSMsgType.TEXT or msg.type is WSMsgType.BINARY:
                yield msg.data
            else:  # CLOSE, CLOSING, CLOSED, ERROR (e.g. a frame over max_msg_size: closed with 1009)
                return


def error_response(status: int, err: EventError) -> web.Response:
    """An HTTP error with the JSON body the live service sends (``{"error": {...}}``)."""
    body = {"error": {"message": err.message, "type": err.type, "param": err.param, "code": err.code}}
    return web.json_response(body, status=status)


def bearer(request: web.Request) -> str | None:
    auth = request.headers.get("Authorization", "")
    return auth[7:].strip() if auth.lower().startswith("bearer ") else None


class HttpServer:
    """The aiohttp application of one ``LocalServer``, listening on ``host:port``."""

    def __init__(self, handler: Handler, secrets: ClientSecrets, calls: Calls, log: logging.Logger) -> None:
        self.handler, self.secrets, self.calls, self.log = handler, secrets, calls, log
        self.sockets: set[WebSocketAdapter] = set()
        self.runner: web.AppRunner | None = None
        app = web.Application(client_max_size=MAX_BODY)
        app.router.add_get("/v1/realtime", self._websocket)
        app.router.add_post("/v1/realtime/client_secrets", self._client_secrets)
        app.router.add_post("/v1/realtime/calls", self._create_call)
        app.router.add_post("/v1/realtime/calls/{call_id}/hangup", self._hangup)
        for path in ("/", "/health", "/v1", "/v1/"):
            app.router.add_get(path, self._hello)
        app.middlewares.append(_not_found)
        self.app = app

    @property
    def port(self) -> int:
        assert self.runner is not None
        return int(self.runner.addresses[0][1])

    async def start(self, host: str, port: int) -> None:
        # handle_signals=False: the server runs in a thread, or under the CLI's own Ctrl-C handling.
        self.runner = web.AppRunner(self.app, access_log=None, handle_signals=False, shutdown_timeout=2.0)
        await self.runner.setup()
        try:
            await web.TCPSite(self.runner, host, port, reuse_address=True).start()
        except BaseException:
            await self.runner.cleanup()
            raise

    async def stop(self) -> None:
        """Close every connection (1001, going away) and call, then stop listening."""
        for ws in list(self.sockets):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(1001), 5)
        await self.calls.close_all()
        if self.runner is not None:
            await self.runner.cleanup()

    # -- routes ----------------------------------------------------------------------------------
    async def _hello(self, request: web.Request) -> web.Response:
        return web.Response(text="realtime-nb local Realtime server: connect to ws://…/v1/realtime\n")

    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(protocols=("realtime",), compress=False, max_msg_size=MAX_FRAME,
                                   heartbeat=20.0)
        if not ws.can_prepare(request).ok:
            return web.Response(status=426, text="Failed to open a WebSocket connection: this is the Realtime "
                                "WebSocket endpoint; connect with a WebSocket client.\n")
        if self.log.isEnabledFor(logging.DEBUG):  # the handshake, as websockets logged it (keys masked)
            self.log.debug("< %s %s HTTP/1.1", request.method, request.path_qs)
            for name, value in request.headers.items():
                self.log.debug("< %s: %s", name, value)
        await ws.prepare(request)
        adapter = WebSocketAdapter(ws, request)
        self.sockets.add(adapter)
        try:
            await self.handler(adapter)
        finally:
            self.sockets.discard(adapter)
            if not ws.closed:
                await ws.close()
        return ws

    async def _client_secrets(self, request: web.Request) -> web.Response:
        try:
            self.secrets.check(bearer(request), ephemeral=False)
        except EventError as err:
            return error_response(401, err)
        try:
            body = await request.json() if request.can_read_body else None
        except ValueError as exc:
            return error_response(400, EventError("invalid_json", f"We could not parse the JSON body of your "
                                                  f"request. ({exc})"))
        try:
            return web.json_response(self.secrets.mint(body))
        except EventError as err:
            return error_response(400, err)

    async def _create_call(self, request: web.Request) -> web.Response:
        try:
            grant = self.secrets.check(bearer(request))
        except EventError as err:
            return error_response(401, err)
        try:
            sdp, session = await _read_offer(request)
            call_id, answer = await self.calls.create(sdp, session, grant, model=request.query.get("model"))
        except CallError as err:
            return error_response(err.status, err.error)
        return web.Response(status=201, text=answer, content_type="application/sdp",
                            headers={"Location": f"/v1/realtime/calls/{call_id}"})

    async def _hangup(self, request: web.Request) -> web.Response:
        try:
            self.secrets.check(bearer(request), ephemeral=False)
        except EventError as err:
            return error_response(401, err)
        call_id = request.match_info["call_id"]
        if not await self.calls.hangup(call_id):
            return error_response(404, EventError("call_not_found", f"No call with id '{call_id}'.", "call_id"))
        return web.Response(status=200)


async def _read_offer(request: web.Request) -> tuple[str, Any]:
    """The SDP offer and the ``session`` JSON of a ``calls`` request (multipart or ``application/sdp``)."""
    ctype = request.content_type
    if ctype == "application/sdp":
        return await request.text(), None
    if ctype != "multipart/form-data":
        raise CallError(400, EventError("invalid_request_error", f"Unsupported Content-Type {ctype!r}: send the "
                                        "offer as application/sdp or as multipart/form-data with an 'sdp' part."))
    sdp, session = None, None
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if isinstance(part, BodyPartReader) and part.name in ("sdp", "session"):
            text = await part.text()
            if part.name == "sdp":
                sdp = text
            else:
                try:
                    session = json.loads(text)
                except ValueError as exc:
                    raise CallError(400, EventError("invalid_json", f"The 'session' part is not JSON ({exc}).",
                                                    "session")) from None
    if sdp is None:
        raise CallError(400, EventError("missing_required_parameter", "Missing required parameter: 'sdp'.", "sdp"))
    return sdp, session


@web.middleware
async def _not_found(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                     ) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPNotFound:
        return error_response(404, EventError(None, f"Invalid URL ({request.method} {request.path}). The Realtime "
                                              "endpoints are /v1/realtime, /v1/realtime/calls and "
                                              "/v1/realtime/client_secrets."))
    except web.HTTPMethodNotAllowed:
        return error_response(405, EventError(None, f"Method {request.method} is not allowed on {request.path}."))
