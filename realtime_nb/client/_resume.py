"""Reconnect and resume: when the connection drops without the user closing it, open a new one, restore
the session config and replay the conversation into it, then carry on (the mechanism is ``_resilience``).

What the new server session gets (``open_replica``):

- the session config: every ``session.update`` the server accepted, deep-merged (``Client.sent_config``:
  ``connect(**fields)``, ``s.update``, ``@s.tool``), sent as one ``session.update``;
- the conversation, in order, as ``conversation.item.create`` events with the **same item ids** (the
  client picks them, so the old → new id mapping is the identity and ids you hold stay valid): messages as
  text — a spoken turn by its transcript where one exists, else its audio —, function calls and their
  outputs. Items that cannot be replayed (other types, a message with nothing left in it) or that the
  new server refuses are listed in the ``reconnected`` notice (``not_replayed``);
- the input audio appended but not committed (before the drop, and during the gap): its last 10 s.

What it does not get: anything the old server kept for itself (its cached tokens, its copy of audio
the client never had, responses that were running — those failed with ``ConnectionClosed``).

Notices (``s.on(kind, fn)``, also to ``"*"`` handlers; each a dict with ``type`` and ``message``):

- ``reconnecting``: ``attempt``, ``attempts``, ``delay`` (s before this attempt), ``code``, ``reason``
  (of the drop), ``connection`` (the number of the connection that dropped), ``cause`` (``"drop"``);
- ``reconnected``: ``connection`` (the new number), ``attempts``, ``items`` (replayed), ``not_replayed``
  (item ids), ``audio_resent_ms``, ``audio_dropped_ms``, ``downtime_s``, ``cause``;
- ``resume_failed``: ``code``, ``reason``, ``attempts``, ``error`` (the last attempt's); the session is
  closed and calls raise ``ConnectionClosed``.

**Hand-over at the session limit.** ``session.created`` says when the server will end the session
(``expires_at``: 60 minutes on OpenAI, ``max_session_s`` on the local server). Some time before it
(``HANDOVER_MARGIN_S``, or ``HANDOVER_SHARE`` of the session's length if that is shorter) a second
connection is opened, its config restored and the conversation so far replayed; at the first pause
between turns (no call waiting for a reply, no response running or with tools to run, nobody speaking)
new calls are held at the gate, the items added since are replayed and it takes over; the old connection
is closed. The pause is that last replay's round trip (``bench/bench_reconnect.py``). If an item
replayed early changed meanwhile (deleted, truncated, transcribed), that replica is dropped and a fresh
one prepared for the next pause. The ``reconnected`` notice then has ``cause
"handover"`` and ``pause_s``. If no pause comes before the limit, the server ends the session
(``SessionExpired``).

No reconnect after ``close()``, after ``SessionExpired`` (the hand-over is what avoids the limit), for
refusals that a retry cannot fix (close 1008, 3000 bad key, 4000-4999 bad request/model), before the
first ``session.created``, or with ``rt.connect(reconnect=False)``.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import numpy as np

from .. import audio as _audio
from ..errors import ConnectionClosed, RealtimeError, SessionExpired
from ..protocol.reducer import ConversationState
from . import _audio_in
from ._connection import Client
from ._resilience import GAP_AUDIO_S

_FATAL = frozenset({1008, 3000, 3003})
# Drops this close together (seconds), on connections that completed no response, count as one run of
# attempts: a server that accepts and drops again at once must not be reconnected to forever.
_RUN_WINDOW = 60.0


HANDOVER_MARGIN_S = 300.0
HANDOVER_SHARE = 0.5
_POLL_S = 0.02


def install(client: Client) -> None:
    """Reconnect ``client`` after drops and hand it over before the session limit, as its options say."""
    if client.options.reconnect and client.options.reconnect_delays:
        client.on_drop = lambda exc: _on_drop(client, exc)
    schedule_handover(client)


def _on_drop(client: Client, exc: ConnectionClosed, cause: str = "drop") -> bool:
    if client.switching:  # a hand-over is replacing the socket right now: it carries on with its replica
        client.log.note(client.now(), "dropped", f"{exc} (during the hand-over, which continues)", code=str(exc.code))
        return True
    code = exc.code or 1006
    if isinstance(exc, SessionExpired) or code in _FATAL or 4000 <= code < 5000 or not client._session_ready.done():
        return False
    # A connection that completed a response since it was set up worked: its drop starts a new count.
    # Otherwise (it keeps dropping right after each reconnect) the drops add up, and end in a give-up.
    done = client.log.last_time("response.done")
    worked = done is not None and done > client.adopted_at
    runs = [] if worked else [t for t in client.drop_times if time.monotonic() - t < _RUN_WINDOW]
    if len(runs) >= len(client.options.reconnect_delays):
        client.notice("resume_failed", f"connection {client.connection} dropped again right after reconnecting "
                      f"({len(runs)} times); giving up", code=exc.code, reason=exc.reason, attempts=len(runs),
                      error=str(exc))
        return False
    client.drop_times = [*runs, time.monotonic()]
    told = client.suspend(exc)
    delays = client.options.reconnect_delays
    per_attempt = client.connect_timeout + 3 * client.reply_timeout
    client.gate_bound = sum(delays) + len(delays) * per_attempt + 1.0
    client.spawn(_reconnect(client, exc, told, cause))
    return True


async def _reconnect(client: Client, exc: ConnectionClosed, told: ConnectionClosed, cause: str = "drop") -> None:
    started = time.monotonic()
    delays = client.options.reconnect_delays
    dropped = client.connection
    last: BaseException = exc
    for attempt, delay in enumerate(delays, 1):
        client.notice("reconnecting", f"connection {dropped} dropped (code {exc.code}); reconnecting: attempt "
                      f"{attempt} of {len(delays)} in {delay:g} s", attempt=attempt, attempts=len(delays),
                      delay=delay, code=exc.code, reason=exc.reason, connection=dropped, cause=cause)
        await asyncio.sleep(delay)
        if client.closed is not None:
            return
        try:
            aux, skipped = await open_replica(client)
        except Exception as err:  # refused, unreachable, timed out, config rejected: try again
            last = err
            client.log.note(client.now(), "reconnect_failed", f"attempt {attempt}: {type(err).__name__}: {err}",
                            code=type(err).__name__)
            continue
        if client.closed is not None:  # closed by the user meanwhile
            await aux.close()
            return
        stats = await switch_to(client, aux)
        client.notice("reconnected", f"reconnected as connection {client.connection}; {stats['items']} items "
                      "replayed", connection=client.connection, attempts=attempt, not_replayed=skipped,
                      downtime_s=round(time.monotonic() - started, 4), cause=cause, **stats)
        schedule_handover(client)
        return
    final = ConnectionClosed(exc.code, f"{exc.reason or 'connection lost'}; could not reconnect "
                             f"({len(delays)} attempts; last: {type(last).__name__}: {last})")
    client.notice("resume_failed", str(final), code=exc.code, reason=exc.reason, attempts=len(delays),
                  error=f"{type(last).__name__}: {last}")
    client._closed(final)


async def open_replica(client: Client, *, items: bool = True,
                       url: str | None = None) -> tuple[Client, list[str]]:
    """A new connection to the same target (``url``: another of its URLs, a call's sideband) with
    ``client``'s config and (``items``) conversation; not yet in use. Returns it and the ids of items it
    could not take."""
    aux = Client(client.target, client.model, url or client.url, client.options)
    aux.log = client.log  # its traffic shows in s.events, on the session's clock
    aux.sent_copies = client.sent_copies
    await aux.open(client.connect_timeout, clock=client._t0)
    try:
        await restore_config(client, aux)
        skipped = await replay(client.state, aux, _audio_in.input_format(client)) if items else []
    except BaseException:
        await aux.close()
        raise
    return aux, skipped


async def restore_config(client: Client, aux: Client) -> None:
    if client.sent_config:
        op = await aux.send({"type": "session.update", "session": client.sent_config}, expect="session.updated")
        await aux.wait(op)
    aux.sent_config = client.sent_config


async def replay(state: ConversationState, aux: Client, input_format: dict[str, Any],
                 ids: list[str] | None = None) -> list[str]:
    """Send the conversation of ``state`` (or its items ``ids``) to ``aux``, pipelined; returns the ids
    not replayed. The items are read before the first await: a snapshot, whatever happens meanwhile."""
    chosen = list(state.conversation) if ids is None else [state.conversation.get(i) for i in ids]
    copies = [(item["id"], replay_item(state, item, input_format)) for item in chosen]
    skipped = [item_id for item_id, copy in copies if copy is None]
    ops = []
    for item_id, copy in copies:
        if copy is not None:
            ops.append((item_id, await aux.send({"type": "conversation.item.create", "item": copy},
                                                expect="conversation.item.added", key=copy["id"])))
    for item_id, op in ops:
        try:
            await aux.wait(op)
        except RealtimeError as err:
            skipped.append(item_id)
            aux.log.note(aux.now(), "replay_refused", f"{item_id}: {err}", code=err.code)
    return skipped


def replay_item(state: ConversationState, item: dict[str, Any], input_format: dict[str, Any]) -> dict[str, Any] | None:
    """The item to create on a new server for ``item`` of the conversation, or ``None`` (not replayable)."""
    iid, kind = item["id"], item.get("type")
    if kind == "function_call":
        return {"id": iid, "type": "function_call", "call_id": item.get("call_id") or "",
                "name": item.get("name") or "", "arguments": item.get("arguments") or "{}"}
    if kind == "function_call_output":
        output = item.get("output")
        return {"id": iid, "type": "function_call_output", "call_id": item.get("call_id") or "",
                "output": output if isinstance(output, str) else ""}
    if kind != "message":
        return None
    role = item.get("role") or "user"
    text_type = "output_text" if role == "assistant" else "input_text"
    parts: list[dict[str, Any]] = []
    for part in item.get("content") or []:
        ptype = part.get("type") if isinstance(part, dict) else None
        if ptype in ("input_text", "output_text", "text"):
            parts.append({"type": text_type, "text": str(part.get("text") or "")})
        elif ptype in ("input_audio", "output_audio", "audio"):
            spoken = part.get("transcript") or state.item_text(iid)
            if spoken:
                parts.append({"type": text_type, "text": spoken})
                continue
            pcm = state.item_audio(iid)
            if len(pcm):
                audio_type = "output_audio" if role == "assistant" else "input_audio"
                parts.append({"type": audio_type, "audio": _audio_in.encode(pcm, input_format)})
    if not parts:
        return None
    return {"id": iid, "type": "message", "role": role, "content": parts}


async def switch_to(client: Client, aux: Client) -> dict[str, Any]:
    """Make ``aux`` the socket of ``client`` (gate closed), send the kept input audio, open the gate.
    Returns what the ``reconnected`` notice reports."""
    items = len(client.state.conversation)
    old, uncommitted = await client.adopt(aux)
    client.adopted_at = client.now()
    dropped = client.gap_dropped
    pending = [uncommitted]
    sent = 0
    fmt = _audio_in.input_format(client)
    step = _audio_in.APPEND_CHUNK_BYTES // 2
    while True:  # audio may keep arriving at the gate while we send; the gate opens once none is left
        pending.append(client.take_gap_audio())
        pcm = np.concatenate(pending)
        pending = []
        if not len(pcm):
            break
        limit = int(GAP_AUDIO_S * _audio.SAMPLE_RATE) - sent
        if len(pcm) > limit:
            dropped, pcm = dropped + len(pcm) - max(limit, 0), pcm[len(pcm) - max(limit, 0):]
        for start in range(0, len(pcm), step):
            chunk = pcm[start:start + step]
            await client.send(_audio_in.append_event(chunk, fmt), pcm=chunk, resuming=True)
        sent += len(pcm)
    client.gap_dropped = 0
    if dropped:
        client.log.note(client.now(), "audio_dropped", f"{dropped / 24:.0f} ms of input audio (older than the last "
                        "10 s kept across the reconnect) were not sent", code="audio_dropped")
    client.open_gate()
    if old is not None:
        client.spawn(_close_quietly(old))
    return {"items": items, "audio_resent_ms": round(sent / 24), "audio_dropped_ms": round(dropped / 24)}


async def _close_quietly(ws: Any) -> None:
    try:
        await asyncio.wait_for(ws.close(), 5)
    except Exception:  # the old socket is already gone
        return


# -- hand-over at the session limit ---------------------------------------------------------------------

def schedule_handover(client: Client) -> None:
    """Plan the hand-over before the limit the current connection's ``session.created`` announced."""
    if client.handover_task is not None:
        client.handover_task.cancel()
        client.handover_task = None
    expires = (client.state.session or {}).get("expires_at")
    if client.call_id is not None or not client.options.handover or not isinstance(expires, (int, float)) \
            or isinstance(expires, bool):
        return
    remaining = expires - time.time()
    if remaining <= 0:
        return
    margin = min(HANDOVER_MARGIN_S, HANDOVER_SHARE * remaining)
    client.handover_task = client.spawn(_handover(client, time.monotonic() + remaining, remaining - margin))


async def _handover(client: Client, deadline: float, start_in: float) -> None:
    await asyncio.sleep(max(0.0, start_in))
    connection = client.connection
    while client.closed is None and client.connection == connection and time.monotonic() < deadline - 0.2:
        if client.gate is not None:  # a reconnect is under way: it plans its own hand-over
            return
        try:
            aux, _ = await open_replica(client, items=False)
        except Exception as err:
            client.log.note(client.now(), "handover_failed", f"{type(err).__name__}: {err}", code=type(err).__name__)
            await asyncio.sleep(min(1.0, max(0.0, deadline - time.monotonic()) / 4))
            continue
        if await _switch_when_quiet(client, aux, deadline):
            return


def quiet(client: Client) -> bool:
    """A pause between turns: nothing waits for a reply, no response runs or has tools to run, no one speaks."""
    if not client.pending.idle() or client.audio_turns:
        return False
    if any(not r.done or not r._settled.is_set() for r in client.responses[-16:]):
        return False
    started = client.log.last_time("input_audio_buffer.speech_started")
    stopped = client.log.last_time("input_audio_buffer.speech_stopped")
    return started is None or (stopped is not None and stopped >= started)


async def _switch_when_quiet(client: Client, aux: Client, deadline: float) -> bool:
    """Replay the conversation into ``aux``, wait for a pause, hold new calls, replay what came since
    and switch to it. False (``aux`` closed) when the pause did not last or earlier items changed;
    True also when no pause came before the deadline (then the limit ends the session)."""
    fmt = _audio_in.input_format(client)
    # Only the finished items before the first unfinished one (a reply still streaming would go over
    # half-said): they are what is replayed early, the rest at the pause.
    since, snapshot = client.now(), []
    for item in client.state.conversation:
        if item.get("status") == "in_progress":
            break
        snapshot.append(item["id"])
    try:  # most of the conversation goes over before the pause, so the pause only carries the rest
        skipped = await replay(client.state, aux, fmt, snapshot)
    except Exception as err:
        client.log.note(client.now(), "handover_retry", f"{type(err).__name__}: {err}", code=type(err).__name__)
        await aux.close()
        return False
    ready: asyncio.Future[None] = client.loop.create_future()

    def check() -> None:  # after each received event, and polled: take the first pause there is
        if not ready.done() and client.gate is None and client.closed is None and quiet(client):
            client.gate = client.loop.create_future()  # from now on new calls wait for the switch
            client.gate_bound = client.connect_timeout + 3 * client.reply_timeout
            ready.set_result(None)

    client.after_receive = check
    try:
        while not ready.done():
            check()
            if ready.done():
                break
            if client.closed is not None or client.gate is not None or time.monotonic() >= deadline - 0.2:
                await aux.close()
                return True  # closed, reconnecting, or too late: the limit comes (SessionExpired)
            await asyncio.wait({ready}, timeout=_POLL_S)
    finally:
        client.after_receive = None
    paused = time.monotonic()
    ids = client.state.conversation.ids()
    config = client.sent_config
    client.switching = True
    try:
        if config is not aux.sent_config:
            await restore_config(client, aux)
        if ids[:len(snapshot)] != snapshot or _changed_since(client, since):
            raise RuntimeError("items replayed before the pause changed (deleted, truncated, transcribed)")
        skipped += await replay(client.state, aux, fmt, ids[len(snapshot):])
        if not (quiet(client) and client.state.conversation.ids() == ids) and not _old_socket_gone(client):
            raise RuntimeError("the conversation moved on during the hand-over")  # the server started a turn
    except Exception as err:
        client.switching = False
        client.log.note(client.now(), "handover_retry", f"{type(err).__name__}: {err}", code=type(err).__name__)
        client.open_gate()
        await aux.close()
        if _old_socket_gone(client) and client.closed is None:  # it dropped meanwhile: reconnect now
            exc = ConnectionClosed(1006, "connection lost during the hand-over")
            if not _on_drop(client, exc):
                client._closed(exc)
        return False
    stats = await switch_to(client, aux)
    client.switching = False
    client.notice("reconnected", f"handed over to connection {client.connection} before the session limit; "
                  f"{stats['items']} items replayed", connection=client.connection, attempts=1, not_replayed=skipped,
                  downtime_s=0.0, pause_s=round(time.monotonic() - paused, 4), cause="handover", **stats)
    schedule_handover(client)
    return True


_CHANGES = ("conversation.item.deleted", "conversation.item.truncated",
            "conversation.item.input_audio_transcription.completed")


def _changed_since(client: Client, t: float) -> bool:
    """Whether an item may have changed since ``t`` (so a replica replayed before then is stale)."""
    return any((last := client.log.last_time(kind)) is not None and last >= t for kind in _CHANGES)


def _old_socket_gone(client: Client) -> bool:
    ws = client._ws
    return ws is None or ws.protocol.close_rcvd is not None or ws.protocol.close_sent is not None


# -- onto a WebRTC call's sideband and back ---------------------------------------------------------------

async def join_call(client: Client, call_id: str) -> dict[str, Any]:
    """Move ``client`` onto the sideband of the call ``call_id`` (``?call_id=``), as a reconnect would:
    a replica on the sideband gets the config and the conversation replayed (so the model on the call
    keeps its context), then its socket is adopted and the ``?model=`` one closed. New calls wait at the
    gate meanwhile. On the call: no hand-over (the call has its own limit). When the call ends (hung up,
    the peer gone), the sideband's close counts as a drop of cause ``"call_ended"``: the client
    reconnects to its own URL and replays the conversation there, the call's turns included (with
    ``reconnect=False`` the session closes instead). Returns what the ``reconnected`` notice reports."""
    if client.call_id is not None:
        raise RuntimeError(f"the session is already on the call {client.call_id}")
    await client.wait_gate()
    client.check_open()
    home, url = client.url, client.target.realtime_url(client.model, call_id)
    if client.handover_task is not None:
        client.handover_task.cancel()
        client.handover_task = None
    client.gate = client.loop.create_future()  # calls made meanwhile run on the call
    client.gate_bound = client.connect_timeout + 3 * client.reply_timeout
    try:
        aux, skipped = await open_replica(client, url=url)
    except BaseException as err:
        client.open_gate()
        schedule_handover(client)
        if client.closed is None and _old_socket_gone(client):  # it dropped meanwhile: the usual reconnect
            exc = ConnectionClosed(1006, "connection lost while joining a call")
            if not _on_drop(client, exc):
                client._closed(exc)
        raise RealtimeError(f"could not join the call {call_id} as its sideband: {type(err).__name__}: {err}",
                            code="call_join_failed") from err
    stats = await switch_to(client, aux)
    client.url, client.call_id, client.home_url = url, call_id, home
    on_drop = client.on_drop

    def call_ended(exc: ConnectionClosed) -> bool:
        client.url, client.call_id, client.home_url, client.on_drop = home, None, None, on_drop
        return on_drop is not None and _on_drop(client, exc, "call_ended")

    client.on_drop = call_ended
    client.notice("reconnected", f"joined the WebRTC call {call_id} as its sideband; {stats['items']} items replayed",
                  connection=client.connection, attempts=1, not_replayed=skipped, downtime_s=0.0, cause="call",
                  call_id=call_id, **stats)
    return {"not_replayed": skipped, **stats}
