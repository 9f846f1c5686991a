"""Where a session connects, with which key, and the embedded local server shared by sessions.

Resolution order: the ``url`` argument > ``REALTIME_NB_URL`` > OpenAI GA (``wss://api.openai.com/v1``)
when ``api_key`` or ``OPENAI_API_KEY`` is set > an embedded ``LocalServer`` on 127.0.0.1, started on
demand, shared by the sessions of the process and stopped when its last session closes (or at exit).

The key goes only into the ``Authorization`` header. ``OPENAI_API_KEY`` is sent only to OpenAI hosts;
other URLs get the ``api_key`` argument, else ``REALTIME_NB_API_KEY``, else a placeholder. An OpenAI
host without a key is refused before connecting (a placeholder would only earn "Incorrect API key").

The model: the ``model`` argument > ``REALTIME_NB_MODEL`` > ``DEFAULT_MODEL``. ``SHUTDOWN_DATES`` lists
the models with an announced shutdown (from the openai SDK's ``RealtimeSessionCreateRequest.model``
docstring; ``tests/test_connect_options.py`` keeps the table equal to it); choosing one warns once.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import warnings
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ..protocol.redact import RedactKey
from . import _hooks

OPENAI_URL = "wss://api.openai.com/v1"
DEFAULT_MODEL = "gpt-realtime-2.1"
# Models with an announced shutdown date (openai SDK, RealtimeSessionCreateRequest.model, "Deprecated values").
SHUTDOWN_DATES: dict[str, str] = dict.fromkeys(
    ("gpt-realtime", "gpt-realtime-2025-08-28", "gpt-realtime-mini", "gpt-realtime-mini-2025-12-15",
     "gpt-audio-mini", "gpt-audio-mini-2025-12-15"), "2027-01-20")
_warned: set[str] = set()
PLACEHOLDER_KEY = "realtime-nb-local"


@dataclass(frozen=True)
class Target:
    """A resolved connection target. ``api_key`` is excluded from ``repr``."""

    base_url: str
    kind: str                      # "url" | "env" | "openai" | "local"
    api_key: str = field(repr=False)

    def realtime_url(self, model: str, call_id: str | None = None) -> str:
        """``<base>/realtime?model=<model>`` (keeps any query the base had); with ``call_id``,
        ``?call_id=<id>`` instead: the sideband of a WebRTC call."""
        parts = urlsplit(self.base_url)
        path = parts.path.rstrip("/")
        if not path.endswith("/realtime"):
            path += "/realtime"
        query = [(k, v) for k, v in parse_qsl(parts.query) if k not in ("model", "call_id")]
        query.append(("call_id", call_id) if call_id else ("model", model))
        return urlunsplit((parts.scheme, parts.netloc, path, urlencode(query), ""))


def _is_openai(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    return host == "api.openai.com" or host.endswith(".openai.com")


def resolve(url: str | None, api_key: str | None) -> Target:
    """Pick the target (see the module docstring). Starts no server: ``kind == "local"`` means embedded."""
    env = os.environ
    if url:
        base, kind = url, "url"
    elif env.get("REALTIME_NB_URL"):
        base, kind = env["REALTIME_NB_URL"], "env"
    elif api_key or env.get("OPENAI_API_KEY"):
        base, kind = OPENAI_URL, "openai"
    else:
        return Target("", "local", api_key or PLACEHOLDER_KEY)
    if api_key is None:
        api_key = env.get("OPENAI_API_KEY") if _is_openai(base) else env.get("REALTIME_NB_API_KEY")
    if not api_key and _is_openai(base):
        raise ValueError(f"no API key for OpenAI ({base}): set the OPENAI_API_KEY environment variable or pass "
                         "api_key=... to rt.connect(); without a URL and a key, rt.connect() uses the "
                         "embedded local server")
    return Target(base, kind, api_key or PLACEHOLDER_KEY)


def choose_model(model: str | None) -> str:
    """The model to use (``model`` > ``REALTIME_NB_MODEL`` > ``DEFAULT_MODEL``); warns once per process
    (``FutureWarning``) for a model with an announced shutdown date."""
    chosen = model or os.environ.get("REALTIME_NB_MODEL") or DEFAULT_MODEL
    date = SHUTDOWN_DATES.get(chosen)
    if date is not None and chosen not in _warned:
        _warned.add(chosen)
        warnings.warn(f"realtime-nb: the model {chosen!r} has an announced shutdown date of {date}; after it, "
                      f"connecting with it fails. Use e.g. model={DEFAULT_MODEL!r} (or set REALTIME_NB_MODEL)",
                      FutureWarning, stacklevel=4)
    return chosen


# -- the embedded server -------------------------------------------------------------------------------

_lock = threading.Lock()
_server: Any = None
_users = 0


def acquire_local() -> str:
    """Start (or share) the embedded LocalServer; returns its ``ws://127.0.0.1:PORT/v1`` URL."""
    global _server, _users
    with _lock:
        if _server is None:
            _server = _hooks.start_local_server()
            logging.getLogger("realtime_nb").info("realtime-nb: started the embedded local server at %s",
                                                  _server.url)
        _users += 1
        return str(_server.url)


def release_local() -> None:
    """One session of the embedded server closed; the last one stops it."""
    global _server, _users
    with _lock:
        _users = max(0, _users - 1)
        if _users or _server is None:
            return
        server, _server = _server, None
    server.stop()


@atexit.register
def _stop_at_exit() -> None:
    global _server
    with _lock:
        server, _server = _server, None
    if server is not None:
        server.stop()


# -- keeping the key out of logs ------------------------------------------------------------------------

ws_logger = logging.getLogger("realtime_nb.websocket")
ws_logger.addFilter(RedactKey())
