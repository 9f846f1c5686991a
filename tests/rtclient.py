"""A tiny synchronous Realtime test client that checks every server event against the openai SDK types.

Tests use it to drive the real local server over a real socket and to assert exact event orders.
"""

from __future__ import annotations

import json
import queue
import threading
from typing import Any

from openai.types.realtime import RealtimeServerEvent
from pydantic import BaseModel, TypeAdapter
from websockets.sync.client import connect

SERVER_EVENT = TypeAdapter(RealtimeServerEvent)
# Fields the live service sends that the SDK does not model: ``obfuscation`` on deltas (docs/protocol.md §3)
# and the server-output fields of the session object (the SDK types ``session`` with its create-request
# model; the recorded live frames in tests/fixtures carry exactly these three as well). Nothing else.
TOLERATED_EXTRA = {"obfuscation", "session.object", "session.id", "session.expires_at"}


def unmodelled_fields(model: Any, path: str = "") -> list[str]:
    """Paths of fields the SDK model did not declare (pydantic keeps them as extras)."""
    found: list[str] = []
    if isinstance(model, BaseModel):
        for key in (model.model_extra or {}):
            where = f"{path}.{key}".lstrip(".")
            if key not in TOLERATED_EXTRA and where not in TOLERATED_EXTRA:
                found.append(where)
        for name in type(model).model_fields:
            found.extend(unmodelled_fields(getattr(model, name), f"{path}.{name}"))
    elif isinstance(model, (list, tuple)):
        for i, v in enumerate(model):
            found.extend(unmodelled_fields(v, f"{path}[{i}]"))
    return found


def check_schema(event: dict[str, Any]) -> None:
    """Raise AssertionError unless the openai SDK accepts ``event`` as a server event, with no extras."""
    parsed = SERVER_EVENT.validate_python(event)
    extra = unmodelled_fields(parsed)
    assert not extra, f"{event['type']} carries fields the SDK does not model: {extra}"


class RawClient:
    """Connect, send dicts (or raw frames), receive events with timeouts."""

    def __init__(self, url: str, model: str | None = "gpt-realtime", *, headers: dict[str, str] | None = None,
                 validate: bool = True, subprotocols: list[str] | None = None, intent: str | None = None) -> None:
        query = "&".join(q for q in (f"model={model}" if model else "", f"intent={intent}" if intent else "") if q)
        target = f"{url}/realtime" + (f"?{query}" if query else "")
        default = {"Authorization": "Bearer test-key"}
        self.ws = connect(target, additional_headers=default if headers is None else headers,
                          max_size=None, subprotocols=subprotocols)  # type: ignore[arg-type]
        self.ws.__enter__()  # websockets ≥ 17.1 warns about connections used outside a context manager
        self.validate = validate
        self.received: list[dict[str, Any]] = []
        self._q: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.close_code: int | None = None
        self.close_reason: str = ""
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            while True:
                event = json.loads(self.ws.recv())
                self._q.put(event)
        except ConnectionClosed:
            pass
        finally:
            self.close_code, self.close_reason = self.ws.close_code, self.ws.close_reason or ""
            self._q.put(None)

    def send(self, event: dict[str, Any] | str | bytes) -> None:
        self.ws.send(event if isinstance(event, (str, bytes)) else json.dumps(event))

    def recv(self, timeout: float = 10.0) -> dict[str, Any]:
        try:
            event = self._q.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no event within {timeout}s; got so far: "
                                 f"{[e['type'] for e in self.received[-15:]]}") from None
        if event is None:
            self._q.put(None)
            raise AssertionError(f"connection closed ({self.close_code} {self.close_reason!r})")
        if self.validate:
            check_schema(event)
        self.received.append(event)
        return event

    def until(self, type_: str, timeout: float = 10.0, **match: Any) -> list[dict[str, Any]]:
        """Events up to and including the first of ``type_`` (whose fields equal ``match``)."""
        got = []
        while True:
            event = self.recv(timeout)
            got.append(event)
            if event["type"] == type_ and all(event.get(k) == v for k, v in match.items()):
                return got

    def quiet(self, seconds: float = 0.3) -> list[dict[str, Any]]:
        """Everything that arrives within ``seconds`` (to check that nothing else is sent)."""
        got = []
        while True:
            try:
                event = self._q.get(timeout=seconds)
            except queue.Empty:
                return got
            if event is None:
                self._q.put(None)
                return got
            if self.validate:
                check_schema(event)
            self.received.append(event)
            got.append(event)

    def wait_closed(self, timeout: float = 10.0) -> tuple[int | None, str]:
        self._reader.join(timeout)
        return self.close_code, self.close_reason

    def close(self) -> None:
        self.ws.close()

    def __enter__(self) -> RawClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def types(events: list[dict[str, Any]]) -> list[str]:
    return [e["type"] for e in events]


def user_text(text: str, **extra: Any) -> dict[str, Any]:
    return {"type": "conversation.item.create",
            "item": {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]},
            **extra}
