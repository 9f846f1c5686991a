"""WebRTC calls from the kernel's side: post a browser's SDP offer with the key the kernel holds.

``create_call(offer_sdp, ...)`` posts the offer to ``/v1/realtime/calls`` in the "unified" form (a
multipart body with the ``sdp`` and the ``session`` config, the regular key in the header), so the key
never reaches the browser; it returns the SDP answer for the browser and the call id. The kernel then
attaches a ``Session`` as the call's sideband — ``rt.connect(call_id=answer.call_id)`` — for events,
tools, DataFrames and classification, while the audio flows between the browser and the server.

>>> answer = create_call(offer_sdp, url=server.url, instructions="Be brief.")   # doctest: +SKIP
>>> s = rt.connect(url=server.url, call_id=answer.call_id)                      # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from . import _http, _params, _target

__all__ = ["CallAnswer", "acreate_call", "ahangup_call", "create_call"]


@dataclass(frozen=True)
class CallAnswer:
    """The server's reply to an offer: the SDP ``answer`` and the ``call_id`` (``rtc_…``)."""

    call_id: str
    sdp: str


def _request(offer_sdp: str, model: str | None, url: str | None, api_key: str | None,
             fields: dict[str, Any]) -> tuple[_target.Target, str, dict[str, Any]]:
    if not isinstance(offer_sdp, str) or not offer_sdp.strip():
        raise ValueError("create_call() needs the SDP offer (a non-empty string)")
    target = _target.resolve(url, api_key)
    if target.kind == "local":
        target = _target.Target(_target.acquire_local(), "local", target.api_key)
    session = _params.session_update(fields)
    session["model"] = _target.choose_model(model)
    return target, _http.rest_url(target, "realtime/calls"), session


def _files(offer_sdp: str, session: dict[str, Any]) -> dict[str, Any]:
    return {"sdp": (None, offer_sdp.encode(), "application/sdp"),
            "session": (None, json.dumps(session).encode(), "application/json")}


def _answer(response: Any) -> CallAnswer:
    location = response.headers.get("Location", "")
    call_id = location.rstrip("/").rsplit("/", 1)[-1]
    if not call_id.startswith("rtc_"):
        raise RuntimeError(f"the calls endpoint answered without a call id (Location: {location!r})")
    return CallAnswer(call_id=call_id, sdp=response.text)


def create_call(offer_sdp: str, model: str | None = None, *, url: str | None = None, api_key: str | None = None,
                **session_fields: Any) -> CallAnswer:
    """Create a WebRTC call from ``offer_sdp`` (``POST /v1/realtime/calls``, unified form).

    Target and key as for ``rt.connect``; ``session_fields`` configure the call's session (GA or beta
    names). Raises ``rt.RealtimeError`` when the server refuses (a bad offer, a bad key, no WebRTC).
    """
    target, endpoint, session = _request(offer_sdp, model, url, api_key, session_fields)
    with _http.client(endpoint) as http:
        response = http.post(endpoint, files=_files(offer_sdp, session),
                             headers=_http.headers(target, Accept="application/sdp"))
    return _answer(_http.check(response, "calls"))


async def acreate_call(offer_sdp: str, model: str | None = None, *, url: str | None = None,
                       api_key: str | None = None, **session_fields: Any) -> CallAnswer:
    """The async ``create_call``."""
    target, endpoint, session = await asyncio.to_thread(_request, offer_sdp, model, url, api_key, session_fields)
    async with _http.aclient(endpoint) as http:
        response = await http.post(endpoint, files=_files(offer_sdp, session),
                                   headers=_http.headers(target, Accept="application/sdp"))
    return _answer(_http.check(response, "calls"))


async def ahangup_call(call_id: str, *, url: str | None = None, api_key: str | None = None) -> None:
    """End the call ``call_id`` (``POST /v1/realtime/calls/{call_id}/hangup``, the regular key): the
    server closes its peer connection and its sidebands."""
    target = _target.resolve(url, api_key)
    endpoint = _http.rest_url(target, f"realtime/calls/{call_id}/hangup")
    async with _http.aclient(endpoint) as http:
        response = await http.post(endpoint, headers=_http.headers(target))
    _http.check(response, "hangup")
