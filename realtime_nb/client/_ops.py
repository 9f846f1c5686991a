"""The session's operations as coroutines on the shared loop (``Session`` wraps each one twice: a
blocking method and an ``a``-prefixed async one). Arguments arrive already in GA shape."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import ClassificationError, RealtimeError
from ..protocol import dialect
from ..protocol.ids import item_id as new_item_id
from ..protocol.ids import new_id
from . import _audio_in, _params
from ._connection import KNOWN_CLIENT_TYPES, Client
from ._pending import FIFO_REPLIES, KEYED_REPLIES, Op
from .response import Response, ref

ERROR_GRACE = 10.0        # how long send() waits for the error an unknown event type must cause


def register_callables(client: Client, obj: dict[str, Any]) -> dict[str, Any]:
    """``tools=[fn, {...}]``: Python callables become schemas (and are registered, so they run)."""
    tools = obj.get("tools")
    if not isinstance(tools, list) or not any(callable(t) for t in tools):
        return obj
    schemas = [client.tools.add(t).schema if callable(t) else t for t in tools]
    return {**obj, "tools": schemas}


async def update(client: Client, session: dict[str, Any]) -> dict[str, Any]:
    session = register_callables(client, session)
    op = await client.send({"type": "session.update", "session": session}, expect="session.updated")
    event = await client.wait(op)
    client.remember_config(session)  # accepted: a new connection is set up with it too
    config: dict[str, Any] = copy.deepcopy(event["session"])
    return config


async def add_item(client: Client, item: dict[str, Any], previous_item_id: str | None = None,
                   pcm: Any = None) -> str:
    item = dialect.item_to_ga(item)
    item.setdefault("id", new_item_id())
    event: dict[str, Any] = {"type": "conversation.item.create", "item": item}
    if previous_item_id is not None:
        event["previous_item_id"] = previous_item_id
        if previous_item_id == "root":
            client.root_inserts.add(item["id"])
    op = await client.send(event, expect="conversation.item.added", key=item["id"], pcm=pcm)
    await client.wait(op)
    return str(item["id"])


async def item_op(client: Client, etype: str, item_id: str, **fields: Any) -> dict[str, Any]:
    """delete / truncate / retrieve: send and wait for the reply about ``item_id``."""
    op = await client.send({"type": etype, "item_id": item_id, **fields}, expect=KEYED_REPLIES[etype],
                           key=item_id)
    event, _ = await client.wait(op)
    return event  # type: ignore[no-any-return]


async def respond(client: Client, params: dict[str, Any], *, items: Sequence[dict[str, Any]] = (),
                  wait: bool = True, follow_tools: bool = True) -> Response:
    """Optionally add ``items`` (pipelined, not awaited first), send ``response.create``, wait."""
    params = register_callables(client, params)
    item_ops: list[Op] = []
    for item in items:
        op = await client.send({"type": "conversation.item.create", "item": item},
                               expect="conversation.item.added", key=item["id"])
        assert op is not None
        item_ops.append(op)
    resp = Response(client, request=params, sent_at=client.now())
    event: dict[str, Any] = {"type": "response.create"}
    if params:
        event["response"] = params
    # ``after``: its response.created comes after its items' replies; ``retry_busy``: if a response the
    # server started by itself (VAD) is in the way, it is sent again once that one is done
    await client.send(event, expect="response.created", response=resp, metadata=params.get("metadata"),
                      after=item_ops, retry_busy=True)
    for op in item_ops:
        await client.wait(op)
    if not wait:
        return resp
    return await finish(resp, follow_tools)


async def finish(resp: Response, follow_tools: bool) -> Response:
    await resp._wait_done()  # bounded by the response's inactivity (RealtimeTimeout)
    return await resp._await_final() if follow_tools else resp


async def say(client: Client, text: str, params: dict[str, Any], *, wait: bool, follow_tools: bool) -> Response:
    if params.get("conversation") == "none":  # out of band: the text goes into input, not the conversation
        context = params.get("input")
        if context is None:
            context = [ref(i) for i in client.state.conversation.ids()]
        params = {**params, "input": [*context, _params.user_message(text)]}
        return await respond(client, params, wait=wait, follow_tools=follow_tools)
    item = _params.user_message(text, new_item_id())
    return await respond(client, params, items=[item], wait=wait, follow_tools=follow_tools)


def context_ids(client: Client, context: Any) -> list[str]:
    ids = client.state.conversation.ids()
    if context is None or context == "none":
        return []
    if context == "conversation":
        return ids
    if isinstance(context, int) and not isinstance(context, bool):
        if context < 0:
            raise ValueError("context=N needs N >= 0 (the last N items)")
        return ids[len(ids) - context:] if context else []
    if isinstance(context, (list, tuple)):
        return [c["id"] if isinstance(c, dict) else str(c) for c in context]
    raise TypeError("context must be 'conversation', an int N (the last N items), a list of item ids, or None")


async def classify(client: Client, prompt: str, labels: list[str], context: Any,
                   metadata: dict[str, Any] | None) -> str:
    meta = {"realtime_nb": "classify", "classify_id": new_id("cls")[:16], **(metadata or {})}
    params = {
        "conversation": "none",
        "output_modalities": ["text"],
        "instructions": _params.classify_instructions(labels),
        "input": [*(ref(i) for i in context_ids(client, context)), _params.user_message(prompt)],
        "metadata": meta,
        "tools": [],
    }
    resp = await respond(client, params, follow_tools=False)
    raw = resp.text or resp.transcript
    label = _params.match_label(raw, labels)
    if label is None:
        raise ClassificationError(f"the model answered {raw!r}, which is none of the labels {labels}",
                                  raw=raw, labels=list(labels))
    return label


async def cancel(client: Client, response_id: str | None, timeout: float | None) -> Response | None:
    target = client.get_response(response_id) if response_id else client.active_inband
    event: dict[str, Any] = {"type": "response.cancel"}
    if response_id:
        event["response_id"] = response_id
    op = await client.send(event, expect="error")
    assert op is not None
    waits: set[asyncio.Future[Any]] = {op.future}
    if target is not None:
        waits.add(target._done_fut)
    try:
        bound = timeout if timeout is not None else client.response_timeout
        await asyncio.wait(waits, timeout=bound if target is not None else min(bound, 5.0),
                           return_when=asyncio.FIRST_COMPLETED)
    finally:
        client.forget(op)
    if op.future.done() and op.future.exception() is not None:
        exc = op.future.exception()
        if not (isinstance(exc, RealtimeError) and exc.code == "response_cancel_not_active"):
            raise exc  # type: ignore[misc]
        if target is None:
            return None
    if target is not None:
        await target._wait_done(raise_error=False)
    return target


async def append_audio(client: Client, pcm: np.ndarray) -> None:
    await _audio_in.append(client, pcm)


async def commit(client: Client) -> str:
    op = await client.send({"type": "input_audio_buffer.commit"}, expect="input_audio_buffer.committed")
    event = await client.wait(op)
    return str(event["item_id"])


async def clear_audio(client: Client) -> None:
    op = await client.send({"type": "input_audio_buffer.clear"}, expect="input_audio_buffer.cleared")
    await client.wait(op)


async def send_audio(client: Client, pcm: np.ndarray, params: dict[str, Any], *, wait: bool,
                     follow_tools: bool, timeout: float | None) -> Response | None:
    td = _audio_in.turn_detection(client)
    if td is None:
        await _audio_in.append(client, pcm)
        await commit(client)
        return await respond(client, params, wait=wait, follow_tools=follow_tools)
    resp = await _audio_in.send_with_vad(client, pcm, td, wait=wait, timeout=timeout)
    if resp is None or not wait:
        return resp
    return await resp._await_final() if follow_tools else resp


async def add_audio_message(client: Client, pcm: np.ndarray, previous_item_id: str | None) -> str:
    item = {"id": new_item_id(), "type": "message", "role": "user",
            "content": [{"type": "input_audio", "audio": _audio_in.encode(pcm, _audio_in.input_format(client))}]}
    return await add_item(client, item, previous_item_id, pcm=pcm)


async def send(client: Client, event: dict[str, Any], wait: bool, timeout: float | None) -> str:
    """Raw send: waits for the reply of event types that have one, and for the error an unknown type
    must cause; raises ``RealtimeError`` for an error caused by this event."""
    event = dialect.client_event_to_ga(event)
    etype = event.get("type")
    expect: str | None = None
    key: str | None = None
    resp = None
    if etype in FIFO_REPLIES:
        expect = FIFO_REPLIES[etype]
    elif etype == "conversation.item.create" and isinstance(event.get("item"), dict):
        event["item"].setdefault("id", new_item_id())
        expect, key = KEYED_REPLIES[etype], event["item"]["id"]
    elif etype in KEYED_REPLIES and isinstance(event.get("item_id"), str):
        expect, key = KEYED_REPLIES[etype], event["item_id"]
    elif etype == "response.create":
        params = event.get("response") or {}
        resp = Response(client, request=params, sent_at=client.now())
        expect = "response.created"
    elif etype not in KNOWN_CLIENT_TYPES:
        expect = "error"
    if not wait and expect == "error":
        expect = None  # nothing to match: the error goes to the handlers and the log
    # Registered even without ``wait`` so that replies matched in order stay aligned with their events;
    # a detached op's error is reported like an unsolicited one.
    op = await client.send(event, expect=expect, key=key, response=resp,
                           metadata=(event.get("response") or {}).get("metadata"), detached=not wait)
    if op is None or not wait:
        return client.last_event_id
    limit = timeout if timeout is not None else (ERROR_GRACE if expect == "error" else client.reply_timeout)
    try:
        await client.wait(op, limit)
    except TimeoutError:
        if expect != "error":  # no error within the grace period: the server accepted it after all
            raise
    return op.event_id
