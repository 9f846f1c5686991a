"""A misbehaving Realtime server for tests: a websockets proxy in front of a real ``LocalServer``.

Each client connection is forwarded to ``upstream`` (the real server), frame by frame, unless a fault
is switched on (tests flip the attributes while a session runs):

- ``drop_client``: client event types swallowed (never reach the server, so never answered);
- ``drop_server``: server event types not forwarded (e.g. ``response.done``: a response that never ends);
- ``reverse``: server event types held back and released in reverse order, two at a time;
- ``close_after``: ``(server event type, n, code)``: after forwarding the n-th such event, close with
  ``code``; ``abort_after``: ``(type, n)``: the same, but drop the TCP connection (no close frame);
- ``rewrite``: server event type -> function(event) -> event, to send a malformed version;
- ``inject``: raw frames sent to the client right after ``session.created`` (huge, deeply nested …);
- ``silent``: accept the websocket and send nothing at all (no ``session.created``);
- ``no_handshake``: accept TCP connections and never answer the HTTP upgrade.

``connections`` counts the websockets accepted. Runs its own loop in a daemon thread, on 127.0.0.1:0.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from typing import Any

from websockets.asyncio.client import connect as ws_connect
from websockets.asyncio.server import ServerConnection, serve


class BadServer:
    def __init__(self, upstream: str | None = None) -> None:
        self.upstream = upstream
        self.drop_client: set[str] = set()
        self.drop_server: set[str] = set()
        self.reverse: set[str] = set()
        self.close_after: tuple[str, int, int] | None = None
        self.abort_after: tuple[str, int] | None = None
        self.inject: list[str] = []
        self.rewrite: dict[str, Any] = {}
        self.silent = False
        self.no_handshake = False
        self.connections = 0
        self.received: list[str] = []         # client event types seen (also the dropped ones)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> BadServer:
        ready = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main(ready)), daemon=True)
        self._thread.start()
        assert ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(10)

    async def _main(self, ready: threading.Event) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        if self.no_handshake:
            server = await asyncio.start_server(self._mute, "127.0.0.1", 0)
            self.port = server.sockets[0].getsockname()[1]
            ready.set()
            async with server:
                await self._stop.wait()
            return
        async with serve(self._handle, "127.0.0.1", 0, max_size=None, compression=None) as server:
            self.port = next(iter(server.sockets)).getsockname()[1]
            ready.set()
            await self._stop.wait()

    async def _mute(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            await reader.read()  # never answers; returns when the client gives up

    async def _handle(self, ws: ServerConnection) -> None:
        self.connections += 1
        if self.silent or self.upstream is None:
            with contextlib.suppress(Exception):
                async for _ in ws:
                    pass
            return
        assert ws.request is not None
        path = ws.request.path.split("/v1", 1)[-1]
        async with ws_connect(self.upstream + path, max_size=None, compression=None, proxy=None) as up:
            tasks = [asyncio.create_task(self._to_server(ws, up)), asyncio.create_task(self._to_client(ws, up))]
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for t in tasks:
                t.cancel()

    async def _to_server(self, ws: ServerConnection, up: Any) -> None:
        async for frame in ws:
            etype = json.loads(frame).get("type")
            self.received.append(etype)
            if etype not in self.drop_client:
                await up.send(frame)

    async def _to_client(self, ws: ServerConnection, up: Any) -> None:
        counts: dict[str, int] = {}
        held: list[str | bytes] = []
        async for frame in up:
            event = json.loads(frame)
            etype = event.get("type")
            if etype in self.drop_server:
                continue
            if etype in self.rewrite:
                frame = json.dumps(self.rewrite[etype](event))
            if etype in self.reverse:
                held.append(frame)
                if len(held) == 2:
                    for f in reversed(held):
                        await ws.send(f)
                    held.clear()
                continue
            await ws.send(frame)
            if etype == "session.created":
                for raw in self.inject:
                    await ws.send(raw)
            counts[etype] = counts.get(etype, 0) + 1
            if self.close_after and self.close_after[0] == etype and counts[etype] >= self.close_after[1]:
                await ws.close(self.close_after[2], "badserver closes")
                return
            if self.abort_after and self.abort_after[0] == etype and counts[etype] >= self.abort_after[1]:
                assert ws.transport is not None
                ws.transport.abort()
                return


def nested(depth: int) -> str:
    """A server event nested ``depth`` levels deep."""
    return '{"type":"rate_limits.updated","rate_limits":' + "[" * depth + "]" * depth + "}"
