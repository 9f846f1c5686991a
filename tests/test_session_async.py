"""The async face: aconnect, asay, arespond … inside asyncio.run (another loop than the session's)."""

from __future__ import annotations

import asyncio
import threading

import pytest

import realtime_nb as rt


def test_async_api_inside_asyncio_run(server):
    async def main() -> None:
        caller = threading.current_thread()
        s = await rt.aconnect(url=server.url, output_modalities=["text"])
        async with s:
            r = await s.asay("hello async")
            assert r.text == "You said: hello async"
            assert threading.current_thread() is caller
            r2 = await s.arespond(input=["from arespond"])
            assert r2.text == "You said: from arespond"
            pending = await s.asay("later", wait=False)
            assert (await pending) is pending and pending.text == "You said: later"
            assert (await pending.await_done()).status == "completed"
            config = await s.aupdate(instructions="Say exactly the following: fixed")
            assert config["instructions"].endswith("fixed")
            assert (await s.asay("anything")).text == "fixed"
            item_id = await s.aadd_item({"type": "message", "role": "user",
                                         "content": [{"type": "input_text", "text": "added"}]})
            assert (await s.aretrieve(item_id))["id"] == item_id
            await s.adelete_item(item_id)
            with pytest.raises(rt.RealtimeError) as info:
                await s.asend({"event_id": "my_awesome_event", "type": "scooby.dooby.doo"})
            assert info.value.event_id == "my_awesome_event"
            assert await s.acancel() is None
        assert s.closed

    asyncio.run(main())


def test_concurrent_async_calls(server):
    async def main() -> list[str]:
        async with await rt.aconnect(url=server.url) as s:
            replies = await asyncio.gather(*(s.asay(f"n{i}", conversation="none", output_modalities=["text"])
                                             for i in range(5)))
            return [r.text for r in replies]

    assert asyncio.run(main()) == [f"You said: n{i}" for i in range(5)]


def test_async_tool_chain_and_final(server):
    async def main() -> None:
        async with await rt.aconnect(url=server.url, output_modalities=["text"]) as s:
            def pick(color: str) -> str:
                """Pick a color."""
                return f"picked {color}"

            await s.atool(pick)
            r = await s.asay("please pick red", follow_tools=False)
            final = await r.afinal()
            assert final.text == "pick returned: picked please pick red"

    asyncio.run(main())


def test_cancelling_an_awaiting_task_does_not_break_the_session(slow_server):
    async def main() -> None:
        async with await rt.aconnect(url=slow_server.url) as s:
            task = asyncio.ensure_future(s.asay("a long answer to wait for"))
            await asyncio.sleep(0.2)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await s.acancel()
            r = await s.asay("next", output_modalities=["text"])
            assert r.text == "You said: next"

    asyncio.run(main())
