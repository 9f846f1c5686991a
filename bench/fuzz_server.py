"""Long fuzz run of the local server: N fuzzed client frames, 0 dropped connections, 0 tracebacks.

Not a benchmark (it reports counts, not timings to compare): the opt-in long form of
``tests/test_server_fuzz.py``, with the same strategies (``tests/fuzz_events.py``: every client event
type and field, valid values mixed with nulls, wrong JSON types, lone surrogates, unhashable values and
JSON nested hundreds of levels deep), plus raw frames that are not events at all (binary, non-JSON,
JSON that is not an object).

Each fuzzed frame carries a fresh ``event_id`` and is followed by a probe (``conversation.item.retrieve``
of a missing item) whose ``error`` marks the end of the frame's answer. Counted:

- **dropped**: the connection closed without the client asking (a reconnect follows);
- **tracebacks**: log records with exception info (or at ERROR) under ``realtime_nb.server``;
- **schema_invalid**: server events the openai SDK's ``RealtimeServerEvent`` rejects, or that carry
  fields it does not model (as ``tests/rtclient.py`` checks);
- **error_event_id_mismatch**: ``error`` events that do not name the event that caused them.

A fresh connection every ``--reconnect`` frames keeps conversations (and the cost of responses over
them) bounded. With ``--beta-dialect`` the server serves the beta dialect over beta connections (the schema check is
then skipped: beta events are not the SDK's GA types).
Run: ``python bench/fuzz_server.py --frames 100000`` (heavy: under ``flock /tmp/heavy.lock``).
Writes bench/results/fuzz_server.json.
"""

from __future__ import annotations

import collections
import json
import logging
import sys
import time
import warnings
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import parser, table, write_result
from fuzz_events import any_event
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from rtclient import RawClient, check_schema
from websockets.exceptions import ConnectionClosed

from realtime_nb.server import LocalServer

RAW_FRAMES = [b"\x00\x01binary", "{not json", "[1, 2, 3]", '"text"', "", "{}", '{"type": null}']


class _Faults(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info or record.levelno >= logging.ERROR:
            self.records.append(record)


class Run:
    def __init__(self, server: LocalServer, reconnect: int, *, beta: bool = False) -> None:
        self.server, self.reconnect, self.beta = server, reconnect, beta
        self.counts: collections.Counter[str] = collections.Counter()
        self.types: collections.Counter[str] = collections.Counter()
        self.samples: dict[str, list[str]] = collections.defaultdict(list)
        self.client: RawClient | None = None
        self.since_connect = 0

    def _connect(self) -> RawClient:
        headers = {"Authorization": "Bearer x", **({"OpenAI-Beta": "realtime=v1"} if self.beta else {})}
        c = RawClient(self.server.url, validate=False, headers=headers)
        c.recv()
        c.send({"type": "session.update", "session": {"modalities": ["text"]} if self.beta else {
            "type": "realtime", "output_modalities": ["text"]}})
        self.client, self.since_connect = c, 0
        return c

    def _note(self, kind: str, detail: str) -> None:
        self.counts[kind] += 1
        if len(self.samples[kind]) < 5:
            self.samples[kind].append(detail[:400])

    def frame(self, frame: str | bytes, eid: str | None) -> None:
        c = self.client if self.client is not None and self.since_connect < self.reconnect else None
        if c is None:
            if self.client is not None:
                self.client.close()
            c = self._connect()
        self.since_connect += 1
        self.last, previous = frame, getattr(self, "last", None)
        self.counts["frames"] += 1
        probe = f"probe-{self.counts['frames']}"
        try:
            c.send(frame)
            c.send({"type": "conversation.item.retrieve", "item_id": "item_probe", "event_id": probe})
            while True:
                event = c.recv(timeout=60)
                if event["type"] == "error" and event["error"].get("event_id") == probe:
                    break
                self.counts["events"] += 1
                self.types[event["type"]] += 1
                try:
                    if not self.beta:  # beta events are not the SDK's GA types
                        check_schema(event)
                except (AssertionError, ValueError) as exc:
                    first = [ln for ln in str(exc).splitlines() if event.get("type", "?").split(".")[0] in ln.lower()]
                    self._note("schema_invalid", f"{event.get('type')} ({(first or [''])[0][:160]}) after "
                               f"{frame!r:.600}: {json.dumps(event)[:600]}")
                if event["type"] == "error":
                    got = event["error"].get("event_id")
                    if got != eid and not (eid is None and got is None):
                        self._note("error_event_id_mismatch", f"sent {eid!r}, error names {got!r}: {event}")
        except (AssertionError, ConnectionClosed) as exc:  # closed, or no answer within the timeout
            kind = "dropped" if c.close_code is not None or isinstance(exc, ConnectionClosed) else "stalled"
            self._note(kind, f"{exc}: {previous!r:.300} then {frame!r:.300}")
            c.close()
            self.client = None


def main() -> None:
    ap = parser(__doc__ or "")
    ap.add_argument("--frames", type=int, default=100_000, help="fuzzed client frames to send")
    ap.add_argument("--reconnect", type=int, default=2000, help="frames per connection")
    ap.add_argument("--beta-dialect", action="store_true",
                    help="fuzz a beta-dialect server over beta connections (no schema check: beta events)")
    args = ap.parse_args()
    if args.quick:
        args.frames = min(args.frames, 300)
    warnings.simplefilter("ignore")
    faults = _Faults()
    logging.getLogger("realtime_nb.server").addHandler(faults)
    started = time.perf_counter()
    with LocalServer(beta_dialect=args.beta_dialect) as server:
        run = Run(server, args.reconnect, beta=args.beta_dialect)
        counter = iter(range(10**9))
        frames = st.one_of(any_event.map(lambda e: ("event", e)), st.sampled_from(RAW_FRAMES).map(
            lambda f: ("raw", f)))

        @settings(max_examples=args.frames, database=None, deadline=None, phases=[Phase.generate],
                  suppress_health_check=list(HealthCheck))
        @given(drawn=frames)
        def fuzz(drawn: tuple[str, Any]) -> None:
            kind, value = drawn
            if kind == "raw":
                run.frame(value, None)
                return
            eid = f"fz{next(counter)}"
            run.frame(json.dumps({**value, "event_id": eid}), eid)
            if run.counts["frames"] % 10000 == 0:
                print(f"  {run.counts['frames']} frames, {time.perf_counter() - started:.0f} s, "
                      f"{dict((k, v) for k, v in run.counts.items() if k not in ('frames', 'events'))}", flush=True)

        fuzz()
        if run.client is not None:
            run.client.close()
    elapsed = time.perf_counter() - started
    result = {
        "config": {"quick": args.quick, "frames": args.frames, "reconnect": args.reconnect,
                   "beta_dialect": args.beta_dialect},
        "frames": run.counts["frames"], "events_received": run.counts["events"],
        "dropped_connections": run.counts["dropped"], "stalled": run.counts["stalled"],
        "tracebacks": len(faults.records), "schema_invalid_events": run.counts["schema_invalid"],
        "error_event_id_mismatch": run.counts["error_event_id_mismatch"],
        "goal": "100,000 frames: 0 dropped connections, 0 tracebacks, 0 schema-invalid events, 0 errors "
                "without their event_id",
        "meets_goal": run.counts["frames"] >= 100_000 and not (
            run.counts["dropped"] or run.counts["stalled"] or faults.records or run.counts["schema_invalid"]
            or run.counts["error_event_id_mismatch"]),
        "seconds": round(elapsed, 1), "frames_per_s": round(run.counts["frames"] / elapsed, 1),
        "event_types": dict(run.types.most_common()), "samples": dict(run.samples),
        "traceback_samples": [f"{r.name}: {r.getMessage()}" for r in faults.records[:5]],
    }
    table(["frames", "events", "dropped", "stalled", "tracebacks", "schema-invalid", "event_id mismatch", "s"],
                [[result["frames"], result["events_received"], result["dropped_connections"], result["stalled"],
                  result["tracebacks"], result["schema_invalid_events"], result["error_event_id_mismatch"],
                  result["seconds"]]], title="fuzz_server")
    for kind, lines in run.samples.items():
        print(f"{kind}:", *lines, sep="\n  ")
    write_result("fuzz_server", result, args.out_dir)


if __name__ == "__main__":
    main()
