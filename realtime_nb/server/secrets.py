"""Keys of the local server: the regular key and ephemeral client secrets (``ek_…``), sans-I/O.

``POST /v1/realtime/client_secrets`` (``http.py``) calls ``ClientSecrets.mint`` with the request body;
the WebSocket handshake and ``POST /v1/realtime/calls`` call ``check`` with the bearer key. A minted key
carries the session it was made for (the model, instructions, voice …): a connection that presents it
starts with that session. It opens any number of sessions until ``expires_at``; a session keeps running
after its key expired (as on the live service).

Who may do what: with ``api_key=None`` (the default of ``LocalServer``) any key that is not an ``ek_…``
key passes as the regular key, as before; with an ``api_key``, only that key. An ``ek_…`` key must be one
this server minted and not expired, whatever ``api_key`` is. Only the regular key mints client secrets.
"""

from __future__ import annotations

import hmac
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..protocol import session_config as sc
from ..protocol.errors import EventError, invalid_type, invalid_value, unknown_parameter
from ..protocol.ids import new_id

DEFAULT_MODEL = "gpt-realtime-2.1"  # as the client's default (gpt-realtime has a shutdown date)
EPHEMERAL_PREFIX = "ek_"
DEFAULT_SECONDS, MIN_SECONDS, MAX_SECONDS = 600, 10, 7200


@dataclass(frozen=True)
class Grant:
    """What a presented key allows. ``session``: the ``ek_`` key's session update (None: regular key)."""

    ephemeral: bool
    model: str | None = None
    session: dict[str, Any] | None = None


REGULAR = Grant(ephemeral=False)


def _auth_error(message: str) -> EventError:
    return EventError("invalid_api_key", message)


class ClientSecrets:
    """Mints and checks the keys of one server. Thread-safe (HTTP and WebSocket handlers share it)."""

    def __init__(self, api_key: str | None, clock: Callable[[], float] = time.time) -> None:
        self.api_key = api_key
        self.clock = clock
        self._keys: dict[str, tuple[float, Grant]] = {}
        self._lock = threading.Lock()

    def check(self, key: str | None, *, ephemeral: bool = True) -> Grant:
        """The grant of ``key``; raises ``EventError`` (``invalid_api_key``) when it may not connect.

        ``ephemeral=False``: only the regular key passes (minting client secrets).
        """
        if key is not None and key.startswith(EPHEMERAL_PREFIX):
            if not ephemeral:
                raise _auth_error("Client secrets cannot be used for this request; use your API key.")
            now = self.clock()
            with self._lock:
                self._prune(now)
                found = self._keys.get(key)
            if found is None:
                raise _auth_error("Incorrect or expired client secret provided.")
            return found[1]
        if self.api_key is None:
            return REGULAR
        if key is None:
            raise _auth_error("Missing bearer or basic authentication in header.")
        # surrogatepass: a key with a lone surrogate is a wrong key, not an encoding error
        if not hmac.compare_digest(key.encode("utf-8", "surrogatepass"), self.api_key.encode("utf-8", "surrogatepass")):
            raise _auth_error("Incorrect API key provided.")
        return REGULAR

    def mint(self, body: Any) -> dict[str, Any]:
        """The ``client_secrets`` response for a request body; ``EventError`` names the bad ``param``."""
        if body is None:
            body = {}
        if not isinstance(body, dict):
            raise invalid_type("body", "an object", body)
        for key in body:
            if key not in ("expires_after", "session"):
                raise unknown_parameter(key)
        seconds = _seconds(body.get("expires_after"))
        model, update, session = session_for(body.get("session"), "session")
        now = self.clock()
        value = new_id("ek")
        expires_at = int(now + seconds)
        with self._lock:
            self._prune(now)
            self._keys[value] = (expires_at, Grant(ephemeral=True, model=model, session=update))
        return {"value": value, "expires_at": expires_at, "session": session}

    def _prune(self, now: float) -> None:
        for key in [k for k, (expires_at, _) in self._keys.items() if expires_at <= now]:
            del self._keys[key]


def _seconds(value: Any) -> int:
    if value is None:
        return DEFAULT_SECONDS
    if not isinstance(value, dict):
        raise invalid_type("expires_after", "an object", value)
    for key in value:
        if key not in ("anchor", "seconds"):
            raise unknown_parameter(f"expires_after.{key}")
    if value.get("anchor", "created_at") != "created_at":
        raise invalid_value("expires_after.anchor", value.get("anchor"), ["created_at"])
    seconds = value.get("seconds", DEFAULT_SECONDS)
    if isinstance(seconds, bool) or not isinstance(seconds, int):
        raise invalid_type("expires_after.seconds", "an integer", seconds)
    if not MIN_SECONDS <= seconds <= MAX_SECONDS:
        raise EventError("integer_out_of_range", f"Invalid 'expires_after.seconds': integer out of range. Expected "
                         f"a value between {MIN_SECONDS} and {MAX_SECONDS}, got {seconds}.", "expires_after.seconds")
    return seconds


def session_for(given: Any, path: str, base: Grant = REGULAR) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """Validate a session config (a ``client_secrets`` or ``calls`` request's ``session``), applied on top
    of what ``base`` (the presented key) already configures.

    Returns the model, the update that gives a new connection this session (for ``session.update``), and
    the full session object. Raises ``EventError`` with the ``param`` path, as ``session.update`` would.
    """
    if given is not None and not isinstance(given, dict):
        raise invalid_type(path, "an object", given)
    given = dict(given or {})
    if given.get("type", "realtime") == "transcription":
        raise EventError("invalid_value", "The local server does not serve transcription sessions through "
                         "client secrets or calls; use type 'realtime'.", f"{path}.type")
    model = given.pop("model", None) or base.model or DEFAULT_MODEL
    if not isinstance(model, str):
        raise invalid_type(f"{path}.model", "a string", model)
    session = sc.default_session(model, new_id("sess"))
    if base.session:
        session = sc.apply_update(session, base.session, path=path)
    if given:
        session = sc.apply_update(session, {**given, "type": "realtime"}, path=path)
    update = {k: v for k, v in session.items() if k not in ("object", "id", "model", "expires_at")}
    return model, update, session
