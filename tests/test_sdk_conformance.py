"""The official openai SDK holds text, audio, tool and out-of-band exchanges with the local server."""

from __future__ import annotations

import asyncio
import base64
import json

import numpy as np
from openai import AsyncOpenAI
from test_server_turns import HOROSCOPE_TOOL

from realtime_nb import audio as au


async def _collect(conn, until: str = "response.done"):
    events = []
    async for event in conn:  # the SDK parses every frame into its typed models
        events.append(event)
        if event.type == until:
            return events
    raise AssertionError("connection ended early")


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


def test_sdk_text_audio_tool_and_out_of_band(server, speech_wav):
    async def main():
        client = AsyncOpenAI(api_key="sk-local", websocket_base_url=server.url)
        async with client.realtime.connect(model="gpt-realtime") as conn:
            created = await conn.recv()
            assert created.type == "session.created" and created.session.model == "gpt-realtime"

            # text turn
            await conn.session.update(session={"type": "realtime", "output_modalities": ["text"],
                                               "tools": [HOROSCOPE_TOOL], "tool_choice": "auto"})
            updated = await conn.recv()
            assert updated.type == "session.updated" and updated.session.tools[0].name == "generate_horoscope"
            await conn.conversation.item.create(item={"type": "message", "role": "user",
                                                      "content": [{"type": "input_text", "text": "Hello SDK"}]})
            await conn.response.create()
            events = await _collect(conn)
            assert events[-1].response.output[0].content[0].text == "You said: Hello SDK"

            # horoscope function call, then its output and a follow-up response
            await conn.conversation.item.create(item={"type": "message", "role": "user", "content": [
                {"type": "input_text", "text": "What is my horoscope? I am an aquarius."}]})
            await conn.response.create()
            events = await _collect(conn)
            call = events[-1].response.output[0]
            assert call.type == "function_call" and json.loads(call.arguments) == {"sign": "Aquarius"}
            await conn.conversation.item.create(item={"type": "function_call_output", "call_id": call.call_id,
                                                      "output": '{"horoscope": "A good day."}'})
            await conn.response.create()
            events = await _collect(conn)
            assert "A good day." in events[-1].response.output[0].content[0].text

            # out-of-band classification with metadata
            await conn.response.create(response={
                "conversation": "none", "metadata": {"topic": "classification"}, "output_modalities": ["text"],
                "instructions": 'If it is about horoscopes, output "astro". Otherwise output "other".'})
            events = await _collect(conn)
            done = events[-1].response
            assert done.metadata == {"topic": "classification"} and done.conversation_id is None
            assert done.output[0].content[0].text == "astro"
            assert not [e for e in events if e.type.startswith("conversation.item")]

            # audio turn with server VAD and spoken reply
            await conn.session.update(session={"type": "realtime", "output_modalities": ["audio"],
                                               "tools": []})
            pcm, _ = speech_wav
            for i in range(0, len(pcm), 4800):
                await conn.input_audio_buffer.append(audio=base64.b64encode(pcm[i:i + 4800].tobytes()).decode())
            events = await _collect(conn)
            types = [e.type for e in events]
            assert "input_audio_buffer.speech_started" in types and "input_audio_buffer.committed" in types
            audio = b"".join(base64.b64decode(e.delta) for e in events if e.type == "response.output_audio.delta")
            reply = np.frombuffer(audio, dtype=np.int16)
            assert len(reply) > 12000 and au.rms_dbfs(reply) > -40
            assert events[-1].response.status == "completed"

    run(main())
