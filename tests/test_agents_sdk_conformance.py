"""openai-agents' ``RealtimeRunner`` holds a whole conversation with the local server, as with the real one.

A text turn, an audio turn with server VAD, a tool round trip (the SDK runs the Python tool and sends its
output back) and a barge-in (speech during a spoken answer: the SDK reports ``audio_interrupted`` and
truncates the item to what was played) against ``LocalServer``. Every raw server event the SDK receives
is also checked against the openai SDK's types. openai-agents is a dev dependency only.
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

import numpy as np
import pytest

agents = pytest.importorskip("agents")

from agents import function_tool  # noqa: E402
from agents.realtime import RealtimeAgent, RealtimeRunner  # noqa: E402
from rtclient import check_schema  # noqa: E402

SIGNS = Literal["Aries", "Taurus", "Gemini", "Cancer", "Leo", "Virgo", "Libra", "Scorpio", "Sagittarius",
                "Capricorn", "Aquarius", "Pisces"]
calls: list[str] = []


@function_tool
def generate_horoscope(sign: SIGNS) -> str:
    """Give today's horoscope for an astrological sign.

    Args:
        sign: The sign for the horoscope.
    """
    calls.append(sign)
    return f"{sign}: the stars favour a new friend today."


def run(coro: Any, timeout: float = 90) -> Any:
    return asyncio.run(asyncio.wait_for(coro, timeout))


async def until(session: Any, kind: str, seen: list[Any], *, raw: str | None = None) -> list[Any]:
    """Events up to the first of ``kind`` (or the first raw server event of type ``raw``)."""
    got = []
    async for event in session:
        got.append(event)
        seen.append(event)
        if event.type == "raw_model_event" and event.data.type == "raw_server_event":
            check_schema(event.data.data)  # the frame as the server sent it
            if raw is not None and event.data.data.get("type") == raw:
                return got
        if event.type == "error":
            raise AssertionError(f"error event: {event.error}")
        if raw is None and event.type == kind:
            return got
    raise AssertionError("the session ended early")


def open_session(server: Any, **settings: Any) -> Any:
    agent = RealtimeAgent(name="Assistant", instructions="Be brief.", tools=[generate_horoscope])
    runner = RealtimeRunner(agent, config={"model_settings": {"model_name": "gpt-realtime", **settings}})
    return runner.run(model_config={"url": f"{server.url}/realtime?model=gpt-realtime", "api_key": "sk-local"})


def assistant_texts(seen: list[Any]) -> list[str]:
    """The assistant texts of the conversation history the SDK last reported (``history_updated``)."""
    history = [e.history for e in seen if e.type == "history_updated"][-1]
    out = []
    for item in history:
        if getattr(item, "role", None) == "assistant":
            for part in item.content:
                out.append(getattr(part, "transcript", None) or getattr(part, "text", None) or "")
    return out


def test_agents_text_turn_and_tool_round_trip(server):
    async def main() -> None:
        seen: list[Any] = []
        session = await open_session(server, output_modalities=["text"])
        async with session:
            await session.send_message("Hello agents")
            await until(session, "", seen, raw="response.done")
            assert "You said: Hello agents" in assistant_texts(seen)

            calls.clear()
            await session.send_message("What is my horoscope? I am an aquarius.")
            events = await until(session, "tool_end", seen)
            assert calls == ["Aquarius"] and "tool_start" in [e.type for e in events]
            # The answer to the tool's output: the first response's own response.done (its output is the
            # function call) may come after the tool ran, so wait for the done of a response with a message.
            for _ in range(3):
                done = (await until(session, "", seen, raw="response.done"))[-1].data.data
                if any(o.get("type") == "message" for o in done["response"]["output"]):
                    break
            texts = [c.get("text") or c.get("transcript") or "" for o in done["response"]["output"]
                     if o.get("type") == "message" for c in o.get("content", [])]
            assert any("the stars favour a new friend" in t for t in texts), done

    run(main())


def test_agents_audio_turn_with_server_vad(server, speech_wav):
    async def main() -> None:
        seen: list[Any] = []
        session = await open_session(server)
        async with session:
            pcm, _ = speech_wav
            for i in range(0, len(pcm), 4800):
                await session.send_audio(pcm[i:i + 4800].astype("<i2").tobytes())
            events: list[Any] = []
            # Heard as "… horoscope for Aquarius …", the turn is answered with a tool call first (the SDK
            # runs the tool), then with speech: wait for the done of a response that holds a message.
            for _ in range(3):
                events += await until(session, "", seen, raw="response.done")
                if any(o.get("type") == "message" for o in events[-1].data.data["response"]["output"]):
                    break
            raw = [e.data.data["type"] for e in events if e.type == "raw_model_event"
                   and e.data.type == "raw_server_event"]
            assert "input_audio_buffer.speech_started" in raw and "input_audio_buffer.committed" in raw
            audio = b"".join(e.audio.data for e in seen if e.type == "audio")
            assert len(np.frombuffer(audio, np.int16)) > 12000

    run(main())


def test_agents_barge_in_interrupts_and_truncates(slow_server, speech_wav):
    async def main() -> None:
        seen: list[Any] = []
        session = await open_session(slow_server)
        async with session:
            await session.send_message("Tell me a long story about a lighthouse keeper who counts the waves "
                                       "every night and writes each number into a leather book by the window.")
            await until(session, "audio", seen)  # the spoken answer has started (paced in real time)
            pcm, _ = speech_wav
            for i in range(0, len(pcm), 4800):
                await session.send_audio(pcm[i:i + 4800].astype("<i2").tobytes())
            await until(session, "audio_interrupted", seen)
            events = await until(session, "", seen, raw="conversation.item.truncated")
            truncated = events[-1].data.data
            assert truncated["audio_end_ms"] >= 0
            done = [e.data.data for e in seen if e.type == "raw_model_event" and e.data.type == "raw_server_event"
                    and e.data.data.get("type") == "response.done"]
            assert done and done[0]["response"]["status"] == "cancelled"

    run(main(), timeout=120)
