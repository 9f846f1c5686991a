"""Running ``@s.tool`` functions when the model calls them, and asking for the follow-up response.

Dispatch happens once per response, on ``response.done`` (never also on ``output_item.done``: both
describe the same call, docs/protocol.md §4e), and once per ``call_id``. Only in-band responses are followed:
an out-of-band response's function call is not in the conversation, so there is nothing to answer.

The follow-up ``response.create`` must never provoke ``conversation_already_has_active_response``:

1. the outputs are added first (``conversation.item.added`` for each, in receive order ``seq``);
2. an in-band response created *after* the last output was added has read them: it is the follow-up
   (server VAD, or the user's own ``say``), and nothing is sent;
3. a response still active from *before* is awaited, then we look again;
4. otherwise we send ``response.create``; if it still loses the race to a VAD response, that response
   (created after the outputs) is the follow-up.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from ..errors import RealtimeError
from ..protocol.ids import item_id as new_item_id
from .response import Response

if TYPE_CHECKING:
    from ._connection import Client

log = logging.getLogger("realtime_nb")

# response.create parameters that must not be repeated for the follow-up response.
_NOT_CARRIED = ("input", "conversation")


def _depth(resp: Response) -> int:
    n, r = 0, resp
    while r.previous is not None:
        n, r = n + 1, r.previous
    return n


def _follow_up_params(resp: Response) -> dict[str, Any]:
    """The follow-up answers in the same way (modalities, instructions, metadata…) as the response
    that called the tool; a forced ``tool_choice`` is not repeated (it would loop)."""
    r: Response | None = resp
    while r is not None and r.request is None:  # an automatic response: look at what started the chain
        r = r.previous
    params = {k: v for k, v in ((r.request if r else None) or {}).items() if k not in _NOT_CARRIED}
    if params.get("tool_choice") not in (None, "auto", "none"):
        params.pop("tool_choice")
    return params


async def follow_tools(client: Client, resp: Response) -> None:
    """Run the tools ``resp`` called, send their outputs, and link the follow-up response."""
    try:
        await _follow(client, resp)
    except Exception as exc:
        if not isinstance(exc, RealtimeError):
            log.exception("realtime-nb: tool follow-up after %s failed", resp.id)
        client.log.note(client.now(), "tool_error", f"follow-up after {resp.id} failed: {exc}",
                        code=type(exc).__name__)
        resp._settle(exc)
    else:
        resp._settle()


async def _follow(client: Client, resp: Response) -> None:
    calls = [c for c in resp.tool_calls if c["name"] in client.tools and c["call_id"] not in client.handled_calls]
    if not calls:
        return
    client.handled_calls.update(c["call_id"] for c in calls)
    results = await asyncio.gather(*(
        client.tools.call(c["name"], c["arguments"] or "{}", timeout=client.tool_timeout) for c in calls))
    ops = []
    for call, (output, ok) in zip(calls, results, strict=True):
        call["output"], call["ok"] = output, ok
        client.log.note(client.now(), "tool_call", f"{call['name']} ({call['call_id']}): {'ok' if ok else 'error'}",
                        code=None if ok else "tool_error")
        item_id = new_item_id()
        item = {"id": item_id, "type": "function_call_output", "call_id": call["call_id"], "output": output}
        ops.append(await client.send({"type": "conversation.item.create", "item": item},
                                     expect="conversation.item.added", key=item_id))
    out_seq = max([(await client.wait(op))[1] for op in ops])
    if _depth(resp) + 1 >= client.max_tool_rounds:
        log.warning("realtime-nb: %d tool rounds in a row; not asking for another response "
                    "(raise Session.max_tool_rounds to allow more)", client.max_tool_rounds)
        return
    params = _follow_up_params(resp)
    while True:
        consumer = next((r for r in client.inband if r.created_seq > out_seq), None)
        if consumer is not None:
            _link(resp, consumer)
            return
        active = client.active_inband
        if active is not None and not active.done:
            await active._wait_done(raise_error=False)
            continue
        follow = Response(client, request=params, sent_at=client.now())
        event: dict[str, Any] = {"type": "response.create"}
        if params:
            event["response"] = params
        op = await client.send(event, expect="response.created", response=follow)
        try:
            await client.wait(op)
        except RealtimeError as exc:
            if exc.code == "conversation_already_has_active_response":
                continue  # a response started meanwhile; it is found above (or awaited)
            raise
        _link(resp, follow)
        return


def _link(resp: Response, follow: Response) -> None:
    resp.follow_up = follow
    if follow.previous is None:
        follow.previous = resp
