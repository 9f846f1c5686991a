"""HTTP requests to a Realtime target's REST endpoints (client secrets, WebRTC calls), with httpx.

The target's WebSocket base (``ws://host:port/v1``, ``wss://api.openai.com/v1``) names the REST base too
(``http://…/v1``, ``https://…/v1``). The key goes only into the ``Authorization`` header; an error reply
(the service's ``{"error": {...}}`` body) raises ``RealtimeError`` with its code and param.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from ..errors import RealtimeError
from ._target import Target

TIMEOUT = httpx.Timeout(20.0, connect=10.0)


def rest_url(target: Target, path: str) -> str:
    """``<http(s) base>/<path>`` for a target whose base is a ws(s):// or http(s):// URL."""
    parts = urlsplit(target.base_url)
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
    base = parts.path.rstrip("/")
    if base.endswith("/realtime"):
        base = base[: -len("/realtime")]
    return urlunsplit((scheme, parts.netloc, f"{base}/{path.lstrip('/')}", "", ""))


def _is_loopback(url: str) -> bool:
    return (urlsplit(url).hostname or "") in ("127.0.0.1", "localhost", "::1")


def client(url: str) -> httpx.Client:
    # never send loopback traffic through an HTTP proxy from the environment
    return httpx.Client(timeout=TIMEOUT, trust_env=not _is_loopback(url))


def aclient(url: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=TIMEOUT, trust_env=not _is_loopback(url))


def headers(target: Target, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {target.api_key}", **extra}


def check(response: httpx.Response, what: str) -> httpx.Response:
    """``response`` when it succeeded; else ``RealtimeError`` from the error body (or the status)."""
    if response.is_success:
        return response
    err: Any = None
    try:
        err = response.json().get("error")
    except ValueError:
        pass
    if isinstance(err, dict):
        raise RealtimeError(f"{what} failed (HTTP {response.status_code}): {err.get('message', '')}",
                            type=err.get("type"), code=err.get("code"), param=err.get("param"))
    raise RealtimeError(f"{what} failed: HTTP {response.status_code} {response.reason_phrase}: "
                        f"{response.text[:200]}", type="http_error")
