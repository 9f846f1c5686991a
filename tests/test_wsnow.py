"""``write_now``: frames written at once keep their order with frames sent the usual way, and nothing is
written when ``send`` must handle it (a closed connection, a busy transport)."""

from __future__ import annotations

import asyncio

from websockets.asyncio.client import connect
from websockets.asyncio.server import serve

from realtime_nb.client._wsnow import write_now


async def _echo_count(ws):
    async for message in ws:
        await ws.send(message)


def test_order_is_kept_between_fast_and_usual_sends():
    async def main() -> None:
        async with serve(_echo_count, "127.0.0.1", 0) as server:
            port = next(iter(server.sockets)).getsockname()[1]
            async with connect(f"ws://127.0.0.1:{port}") as ws:
                fast = 0
                for i in range(200):
                    frame = f"t{i}" if i % 3 else bytes([i % 256]) * (i * 50)
                    if i % 5 == 0 or not write_now(ws, frame):
                        await ws.send(frame)
                    else:
                        fast += 1
                got = [await ws.recv() for _ in range(200)]
                want = [f"t{i}" if i % 3 else bytes([i % 256]) * (i * 50) for i in range(200)]
                assert got == want
                assert fast > 100                      # the fast path was taken most of the time

    asyncio.run(main())


def test_nothing_is_written_when_send_must_do_it():
    async def main() -> None:
        async with serve(_echo_count, "127.0.0.1", 0) as server:
            port = next(iter(server.sockets)).getsockname()[1]
            ws = await connect(f"ws://127.0.0.1:{port}")
            real = ws.transport
            written: list[bytes] = []

            class Busy:  # a transport with bytes still waiting for the peer
                def is_closing(self) -> bool:
                    return False

                def get_write_buffer_size(self) -> int:
                    return 4096

                def write(self, data: bytes) -> None:
                    written.append(data)

            ws.transport = Busy()
            assert not write_now(ws, "later")          # the caller awaits send(), which drains first
            assert written == []
            ws.transport = real
            assert write_now(ws, "now")
            assert await ws.recv() == "now"
            await ws.close()
            assert not write_now(ws, "after close")   # send() raises ConnectionClosed there
            assert not write_now(object(), "not a websockets connection")

    asyncio.run(main())
