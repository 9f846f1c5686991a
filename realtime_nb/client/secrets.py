"""Ephemeral keys: ``rt.client_secret(...)`` mints an ``ek_…`` key for a browser (your own web page).

The key opens Realtime sessions (a WebSocket, or a WebRTC call from the browser) with the session it was
minted for, until ``expires_at``; your regular key never leaves the machine that mints it.

>>> import realtime_nb as rt
>>> secret = rt.client_secret(instructions="Be brief.", voice="marin", expires_after=600)  # doctest: +SKIP
>>> secret.value[:3], secret.expires_at                                  # doctest: +SKIP
('ek_', 1796170000)
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from . import _http, _params, _target

__all__ = ["ClientSecret", "aclient_secret", "client_secret"]


@dataclass(frozen=True)
class ClientSecret:
    """An ephemeral key: ``value`` (``ek_…``, kept out of ``repr``), ``expires_at`` (unix s), ``session``."""

    value: str = field(repr=False)
    expires_at: int
    session: dict[str, Any]


def _request(model: str | None, url: str | None, api_key: str | None, expires_after: int | None,
             fields: dict[str, Any]) -> tuple[_target.Target, dict[str, Any]]:
    target = _target.resolve(url, api_key)
    if target.kind == "local":
        # The key is for connecting later, so the embedded server stays up (until the process exits).
        target = _target.Target(_target.acquire_local(), "local", target.api_key)
    session = _params.session_update(fields)
    if model is not None:
        session["model"] = model
    body: dict[str, Any] = {"session": session}
    if expires_after is not None:
        body["expires_after"] = {"anchor": "created_at", "seconds": int(expires_after)}
    return target, body


def _secret(data: dict[str, Any]) -> ClientSecret:
    return ClientSecret(value=str(data["value"]), expires_at=int(data["expires_at"]), session=data["session"])


def client_secret(model: str | None = None, *, url: str | None = None, api_key: str | None = None,
                  expires_after: int | None = None, **session_fields: Any) -> ClientSecret:
    """Mint an ephemeral key (``POST /v1/realtime/client_secrets``) for a session configured by
    ``session_fields`` (GA or beta names, as ``rt.connect`` takes them).

    Target as for ``rt.connect``: ``url`` > ``REALTIME_NB_URL`` > OpenAI (``api_key`` / ``OPENAI_API_KEY``)
    > the embedded local server. ``expires_after``: seconds, 10 to 7200 (the service's default is 600).
    Raises ``rt.RealtimeError`` with the service's code and param when it refuses.
    """
    target, body = _request(model, url, api_key, expires_after, session_fields)
    endpoint = _http.rest_url(target, "realtime/client_secrets")
    with _http.client(endpoint) as http:
        response = http.post(endpoint, json=body, headers=_http.headers(target))
    return _secret(_http.check(response, "client_secrets").json())


async def aclient_secret(model: str | None = None, *, url: str | None = None, api_key: str | None = None,
                         expires_after: int | None = None, **session_fields: Any) -> ClientSecret:
    """The async ``client_secret``."""
    target, body = await asyncio.to_thread(_request, model, url, api_key, expires_after, session_fields)
    endpoint = _http.rest_url(target, "realtime/client_secrets")
    async with _http.aclient(endpoint) as http:
        response = await http.post(endpoint, json=body, headers=_http.headers(target))
    return _secret(_http.check(response, "client_secrets").json())
