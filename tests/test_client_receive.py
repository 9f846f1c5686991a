"""``Client.receive`` without a socket: frames in, state, log and callbacks out (what the Session runs per frame)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import numpy as np

from realtime_nb.audio import b64encode_pcm16
from realtime_nb.client._connection import Client
from realtime_nb.client._target import Target

LOC = {"response_id": "resp_1", "item_id": "item_a", "output_index": 0, "content_index": 0}


def _frames(chunks: list[np.ndarray]) -> list[str]:
    item = {"id": "item_a", "type": "message", "status": "in_progress", "role": "assistant", "content": []}
    resp = {"object": "realtime.response", "id": "resp_1", "status": "in_progress", "conversation_id": "conv_1",
            "output": [], "output_modalities": ["audio"], "metadata": {"k": ["v"]}}
    events: list[dict[str, Any]] = [
        {"type": "session.created", "session": {"type": "realtime", "audio": {"output": {"voice": "alloy"}}}},
        {"type": "response.created", "response": resp},
        {"type": "response.output_item.added", "response_id": "resp_1", "output_index": 0, "item": item},
        {"type": "conversation.item.added", "previous_item_id": None, "item": item},
        *({"type": "response.output_audio.delta", **LOC, "delta": b64encode_pcm16(c)} for c in chunks),
        {"type": "response.done", "response": {**resp, "status": "completed", "output": [
            {**item, "status": "completed", "content": [{"type": "output_audio", "transcript": "hi"}]}]}},
    ]
    return [json.dumps(e) for e in events]


def test_receive_keeps_state_apart_from_listeners_and_handlers() -> None:
    chunks = [((np.arange(240) + 240 * k) % 3000).astype(np.int16) for k in range(3)]

    async def run() -> tuple[Client, list[Any]]:
        client = Client(Target("ws://127.0.0.1:9/v1", "url", "test"), "gpt-realtime",
                        "ws://127.0.0.1:9/v1/realtime?model=gpt-realtime")
        heard: list[Any] = []

        def listener(response_id: Any, item_id: Any, pcm: np.ndarray) -> None:
            heard.append((response_id, item_id, pcm.copy()))
            pcm[:] = -1  # a listener that scribbles on its array

        def handler(event: dict[str, Any]) -> None:
            for value in event.values():
                if isinstance(value, dict):
                    value.clear()

        client.audio_listeners.append(listener)
        client.add_handler("*", handler)
        for frame in _frames(chunks):
            client.receive(frame)
        return client, heard

    client, heard = asyncio.run(run())
    want = np.concatenate(chunks)
    assert [(r, i) for r, i, _ in heard] == [("resp_1", "item_a")] * 3
    np.testing.assert_array_equal(np.concatenate([p for _, _, p in heard]), want)
    np.testing.assert_array_equal(client.state.item_audio("item_a"), want)
    (resp,) = client.responses
    assert resp.done and resp.transcript == "hi" and resp.metadata == {"k": ["v"]}
    np.testing.assert_array_equal(resp.audio, want)
    assert client.state.session is not None and client.state.session["audio"]["output"]["voice"] == "alloy"
    assert client.state.conversation.get("item_a")["status"] == "completed"
    assert [r.type for r in client.log.rows()][-1] == "response.done" and len(client.log) == 8
    assert not client.state.anomalies
