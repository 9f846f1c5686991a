"""Reconnect and hand-over: how long a dropped session takes to come back with its conversation, and how
long the hand-over at the session limit holds calls, against a bare connect measured in the same run.

- baseline: ``rt.connect(url)`` to the local server until it returns (handshake + ``session.created``);
- reconnect: a conversation of ``--turns`` turns (2 items each), then the socket is dropped (its TCP
  transport aborted, as a network failure would), until the ``reconnected`` notice: new connection,
  config restored, every item replayed. ``reconnect_delays=(0,)``, so no backoff is included;
- hand-over: ``say()`` turns, ``--think`` seconds apart, against a local server with ``max_session_s`` =
  ``--limit``; each hand-over's ``pause_s`` (new calls held at the gate: the replay of the items added
  since the replica was prepared, and the switch).

All against the embedded local server on loopback (fast pace, echo brain): the figures are the client's
and the protocol's cost, not a network's. Ratios are medians (and p99s) over the baseline's.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from _common import parser, ratio, summary, table, write_result

import realtime_nb as rt

NAME = "bench_reconnect"
TEXT = {"output_modalities": ["text"]}


def bench_connect(url: str, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        s = rt.connect(url=url)
        times.append(time.perf_counter() - t)
        s.close()
    return times


def _drop(s: rt.Session) -> None:
    """Abort the session's TCP transport on its loop (no close frame: a network failure)."""
    client = s._client

    def abort() -> None:
        ws = client._ws
        if ws is not None and ws.transport is not None:
            ws.transport.abort()

    client.loop.call_soon_threadsafe(abort)


def bench_reconnect(url: str, turns: int, repeat: int) -> tuple[list[float], int]:
    s = rt.connect(url=url, reconnect_delays=(0.0, 0.1, 0.5), instructions="Be brief.")
    back = threading.Event()
    s.on("reconnected", lambda e: back.set())
    for i in range(turns):
        s.say(f"turn {i}", **TEXT)
    items = len(s.items)
    times = []
    try:
        for _ in range(repeat):
            back.clear()
            t = time.perf_counter()
            _drop(s)
            if not back.wait(30):
                raise RuntimeError("no reconnect within 30 s")
            times.append(time.perf_counter() - t)
            s.say("still there?", **TEXT)  # the conversation grows by 2 items per repeat
    finally:
        s.close()
    return times, items


def bench_handover(limit: float, seconds: float, think: float) -> tuple[list[float], list[float], int]:
    pauses: list[float] = []
    with rt.LocalServer(max_session_s=limit) as srv:
        s = rt.connect(url=srv.url)
        s.on("reconnected", lambda e: pauses.append(e["pause_s"]) if e.get("cause") == "handover" else None)
        turn_times = []
        start = time.monotonic()
        try:
            while time.monotonic() - start < seconds:
                t = time.perf_counter()
                s.say("another turn", **TEXT)
                turn_times.append(time.perf_counter() - t)
                time.sleep(think)
            items = len(s.items)
        finally:
            s.close()
    return pauses, turn_times, items


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = parser(__doc__.split("\n")[0])
    p.add_argument("--repeat", type=int, default=None, help="connects and drops (default 20, --quick 3)")
    p.add_argument("--turns", type=int, default=None, help="turns before the first drop (default 20, --quick 3)")
    p.add_argument("--limit", type=float, default=None, help="max_session_s of the hand-over server (default 5)")
    p.add_argument("--think", type=float, default=0.05, help="seconds between hand-over turns (default 0.05)")
    p.add_argument("--seconds", type=float, default=None, help="length of the hand-over run (default 30)")
    args = p.parse_args(argv)
    repeat = args.repeat or (3 if args.quick else 20)
    turns = args.turns or (3 if args.quick else 20)
    limit = args.limit or (3.0 if args.quick else 5.0)
    seconds = args.seconds or (5.0 if args.quick else 30.0)

    with rt.LocalServer() as srv:
        base = summary(bench_connect(srv.url, repeat))
        reconnect_times, items = bench_reconnect(srv.url, turns, repeat)
    rec = summary(reconnect_times)
    pauses, turn_times, handover_items = bench_handover(limit, seconds, args.think)
    pause, turn = summary(pauses), summary(turn_times)
    ms = 1000.0
    table(["", "median ms", "p99 ms", "n", "x connect (median)", "x connect (p99)"], [
        ["bare connect (baseline)", base["median"] * ms, base["p99"] * ms, base["n"], 1.0, 1.0],
        [f"reconnect, {items}+ items restored", rec["median"] * ms, rec["p99"] * ms, rec["n"],
         ratio(rec["median"], base["median"]), ratio(rec["p99"], base["p99"])],
        ["hand-over pause", pause["median"] * ms, pause["p99"] * ms, pause["n"],
         ratio(pause["median"], base["median"]), ratio(pause["p99"], base["p99"])],
        ["a say() turn (hand-over run)", turn["median"] * ms, turn["p99"] * ms, turn["n"],
         ratio(turn["median"], base["median"]), ratio(turn["p99"], base["p99"])],
    ], title=f"local server on loopback; hand-over: max_session_s={limit:g}, {seconds:g} s of turns, "
             f"{handover_items} items kept")
    ratios = {"reconnect_over_connect_median": ratio(rec["median"], base["median"]),
              "reconnect_over_connect_p99": ratio(rec["p99"], base["p99"]),
              "handover_pause_over_connect_median": ratio(pause["median"], base["median"]),
              "handover_pause_over_connect_p99": ratio(pause["p99"], base["p99"])}
    data = {
        "config": {"repeat": repeat, "turns": turns, "limit_s": limit, "seconds": seconds, "think_s": args.think,
                   "quick": args.quick,
                   "reconnect_delays": [0.0, 0.1, 0.5]},
        "connect_s": base, "reconnect_s": rec, "items_at_first_drop": items, "handover_pause_s": pause,
        "handover_turn_s": turn, "handover_items": handover_items, "ratios": ratios,
    }
    write_result(NAME, data, args.out_dir)
    return data


if __name__ == "__main__":
    main()
