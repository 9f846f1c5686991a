"""Fuzzing the local server over real sockets: every client event type and field, valid and hostile.

Whatever arrives, the server answers with events the openai SDK accepts, every ``error`` names the
client's ``event_id``, the connection stays open and the server logs no traceback. The property tests
use the SDK's own client-event types as the oracle: what the SDK schema rejects, the server rejects
too, and a rejected update leaves the session exactly as it was.
"""

from __future__ import annotations

import itertools
import json
import logging

import pytest
from fuzz_events import any_event, item, response, session
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openai.types.realtime import ConversationItemCreateEvent, ResponseCreateEvent, SessionUpdateEvent
from pydantic import TypeAdapter, ValidationError
from rtclient import RawClient, check_schema

from realtime_nb.protocol.codec import encode
from realtime_nb.server import LocalServer
from realtime_nb.server.brains import make_brain
from realtime_nb.server.transcription_session import TranscriptionEngine

# Derandomized: CI explores the same examples every run (a failure here is a regression, never luck);
# bench/fuzz_server.py is the random long run that looks for new ones.
FUZZ = settings(deadline=None, database=None, derandomize=True, suppress_health_check=[
    HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large])
ORACLE = {
    "session.update": TypeAdapter(SessionUpdateEvent),
    "response.create": TypeAdapter(ResponseCreateEvent),
    "conversation.item.create": TypeAdapter(ConversationItemCreateEvent),
}
_ids = itertools.count()


class _Tracebacks(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info or record.levelno >= logging.ERROR:
            self.records.append(record)


@pytest.fixture(scope="module")
def fuzz_server():
    """A server of its own (text output keeps responses cheap), with a watch on its log."""
    handler = _Tracebacks()
    logger = logging.getLogger("realtime_nb.server")
    logger.addHandler(handler)
    with LocalServer() as srv:
        srv.tracebacks = handler.records  # type: ignore[attr-defined]
        yield srv
    logger.removeHandler(handler)


class Probe:
    """One connection that sends an event, then a probe whose reply shows the connection still serves."""

    def __init__(self, server: LocalServer) -> None:
        self.server = server
        self.client = RawClient(server.url)  # validates every server event with the SDK types
        assert self.client.recv()["type"] == "session.created"
        self.client.send({"type": "session.update", "session": {"type": "realtime", "output_modalities": ["text"]}})
        self.session = self.client.until("session.updated")[-1]["session"]
        self.sent: set[str] = set()
        self.last = ""

    def send(self, event: dict) -> list[dict]:
        """Send ``event`` with a fresh ``event_id``; the events up to the probe's answer."""
        eid = self.last = f"fz{next(_ids)}"
        self.sent.add(eid)
        self.client.send(json.dumps({**event, "event_id": eid}))
        # The probe's answer is an error naming it: proof that the connection still serves, and a marker
        # that nothing the event caused (its own errors included) can be mistaken for.
        probe = f"probe-{eid}"
        self.client.send({"type": "conversation.item.retrieve", "item_id": "item_probe", "event_id": probe})
        events = []
        while not ((e := self.client.recv(timeout=30))["type"] == "error" and e["error"]["event_id"] == probe):
            events.append(e)
        for e in events:
            if e["type"] == "error":
                assert e["error"]["event_id"] in self.sent, e  # each error names the event that caused it
            if e["type"] == "session.updated":
                self.session = e["session"]
        assert not self.server.tracebacks, self.server.tracebacks[0].getMessage()  # type: ignore[attr-defined]
        return events

    def close(self) -> None:
        self.client.close()


@pytest.fixture(scope="module")
def probe(fuzz_server):
    p = Probe(fuzz_server)
    yield p
    p.close()


@settings(FUZZ, max_examples=1000)
@given(event=any_event)
def test_any_client_event_gets_answers_the_sdk_accepts(probe, event):
    probe.send(event)


def _sdk_accepts(event: dict) -> bool:
    try:
        ORACLE[event["type"]].validate_python(event, strict=True)
    except ValidationError:
        return False
    return True


def _session_now(p: Probe) -> dict:
    events = p.send({"type": "session.update", "session": {"type": "realtime"}})
    updated = [e for e in events if e["type"] == "session.updated"]
    assert updated, [(e["type"], e.get("error")) for e in events]
    return updated[-1]["session"]


def _comparable(s: dict) -> dict:
    return {k: v for k, v in s.items() if k != "expires_at"}


@settings(FUZZ, max_examples=200)
@given(event=st.one_of(st.builds(lambda s: {"type": "session.update", "session": s}, session),
                       st.builds(lambda r: {"type": "response.create", "response": r}, response),
                       st.builds(lambda i: {"type": "conversation.item.create", "item": i}, item)))
def test_what_the_sdk_schema_forbids_is_refused_and_changes_nothing(probe, event):
    before = _comparable(_session_now(probe))
    events = probe.send(event)
    mine = [e for e in events if e["type"] == "error" and e["error"]["event_id"] == probe.last]
    if not _sdk_accepts(event):
        assert mine, f"the SDK schema rejects this event but the server accepted it: {event}"
    if mine:
        assert mine[0]["error"]["type"] == "invalid_request_error", mine[0]
        assert _comparable(_session_now(probe)) == before


@settings(FUZZ, max_examples=500)
@given(event=any_event | st.builds(lambda s: {"type": "session.update", "session": {**s, "type": "transcription"}},
                                   session))
def test_a_transcription_session_answers_every_event_validly(event):
    """The same fuzz on the sans-I/O engine of ``?intent=transcription`` sessions: it never raises, and
    whatever it answers the SDK accepts."""
    engine = TranscriptionEngine(brain=make_brain(None))
    for out in engine.receive(json.loads(json.dumps(event))):
        check_schema(json.loads(encode(out)))
