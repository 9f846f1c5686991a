"""Ephemeral keys: the local server's POST /v1/realtime/client_secrets, the keys on the WebSocket, and
``rt.client_secret``; the official SDK's ``realtime.client_secrets.create`` against ``LocalServer``."""

from __future__ import annotations

import time

import httpx
import pytest
from openai import OpenAI
from openai.types.realtime import ClientSecretCreateResponse
from rtclient import RawClient, check_schema

import realtime_nb as rt
from realtime_nb.server import LocalServer

KEY = "sk-local-test-key"


@pytest.fixture(scope="module")
def keyed():
    """A server that requires ``KEY``: a minted ``ek_`` key must pass where a wrong key does not."""
    with LocalServer(api_key=KEY) as srv:
        yield srv


def _http(server: LocalServer) -> str:
    return server.url.replace("ws://", "http://")


def _sdk(server: LocalServer, key: str = KEY) -> OpenAI:
    return OpenAI(api_key=key, base_url=_http(server), websocket_base_url=server.url, max_retries=0)


def test_sdk_mints_a_key_that_opens_a_session_with_its_config(keyed):
    secret = _sdk(keyed).realtime.client_secrets.with_raw_response.create(
        expires_after={"anchor": "created_at", "seconds": 120},
        session={"type": "realtime", "model": "gpt-realtime", "instructions": "Speak like a pirate.",
                 "audio": {"output": {"voice": "marin"}}},
    )
    data = secret.http_response.json()
    parsed = ClientSecretCreateResponse.model_validate(data)   # the SDK's type, strictly validated
    assert parsed.value.startswith("ek_")
    assert abs(parsed.expires_at - (time.time() + 120)) < 5
    assert parsed.session.instructions == "Speak like a pirate."  # type: ignore[union-attr]

    # the key opens a WebSocket session (no ?model=: it comes from the key) configured as minted
    with RawClient(keyed.url, model=None, headers={"Authorization": f"Bearer {parsed.value}"}) as c:
        created = c.recv()
        check_schema(created)
        assert created["type"] == "session.created"
        assert created["session"]["model"] == "gpt-realtime"
        assert created["session"]["instructions"] == "Speak like a pirate."
        assert created["session"]["audio"]["output"]["voice"] == "marin"
    # … several times until it expires
    with RawClient(keyed.url, headers={"Authorization": f"Bearer {parsed.value}"}) as c:
        assert c.recv()["type"] == "session.created"


def test_expired_and_unknown_keys_are_refused(keyed):
    value = _sdk(keyed).realtime.client_secrets.create(expires_after={"anchor": "created_at", "seconds": 10}).value
    clock = keyed.secrets.clock
    keyed.secrets.clock = lambda: clock() + 11
    try:
        for key in (value, "ek_not_minted_here"):
            with RawClient(keyed.url, headers={"Authorization": f"Bearer {key}"}) as c:
                err = c.recv()
                assert err["type"] == "error" and err["error"]["code"] == "invalid_api_key"
                assert c.wait_closed()[0] == 3000
    finally:
        keyed.secrets.clock = clock


def test_bad_requests_get_json_errors_and_only_the_regular_key_mints(keyed):
    url = _http(keyed) + "/realtime/client_secrets"
    auth = {"Authorization": f"Bearer {KEY}"}
    with httpx.Client(trust_env=False, timeout=10) as http:
        r = http.post(url, json={"expires_after": {"seconds": 5}}, headers=auth)
        assert r.status_code == 400
        assert r.json()["error"]["param"] == "expires_after.seconds"
        r = http.post(url, json={"session": {"type": "realtime", "audio": {"output": {"voice": 7}}}}, headers=auth)
        assert r.status_code == 400 and r.json()["error"]["param"].startswith("session.audio.output.voice")
        r = http.post(url, content=b"{not json", headers={**auth, "Content-Type": "application/json"})
        assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_json"
        assert http.post(url, json={}, headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert http.post(url, json={}).status_code == 401
        minted = http.post(url, json={}, headers=auth).json()["value"]
        r = http.post(url, json={}, headers={"Authorization": f"Bearer {minted}"})
        assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"
        # the server keeps serving after all that
        assert http.get(_http(keyed).replace("/v1", "/health")).status_code == 200


def test_rt_client_secret_against_the_local_server(keyed):
    secret = rt.client_secret(url=keyed.url, api_key=KEY, instructions="Answer in French.", voice="coral",
                              expires_after=60)
    assert secret.value.startswith("ek_") and secret.value not in repr(secret)
    assert secret.session["instructions"] == "Answer in French."
    with rt.connect(url=keyed.url, api_key=secret.value) as s:
        assert s.config["instructions"] == "Answer in French."
        assert s.config["audio"]["output"]["voice"] == "coral"
        assert s.say("Bonjour").transcript == "You said: Bonjour"
    with pytest.raises(rt.RealtimeError) as info:
        rt.client_secret(url=keyed.url, api_key="wrong")
    assert info.value.code == "invalid_api_key"
    with pytest.raises(rt.RealtimeError) as info:
        rt.client_secret(url=keyed.url, api_key=KEY, expires_after=99999)
    assert info.value.param == "expires_after.seconds"


def test_async_client_secret(keyed):
    import asyncio

    from realtime_nb.client.secrets import aclient_secret

    secret = asyncio.run(aclient_secret(url=keyed.url, api_key=KEY, expires_after=30))
    assert secret.value.startswith("ek_") and abs(secret.expires_at - time.time() - 30) < 5
