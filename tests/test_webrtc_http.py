"""POST /v1/realtime/calls in both forms (the official SDK's ``realtime.calls.create``, a bare
``application/sdp`` offer with an ``ek_`` key), its errors, hang-up, and the sideband of an unknown call."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from openai import AsyncOpenAI
from rtclient import check_schema
from websockets.asyncio.client import connect as ws_connect

import realtime_nb as rt
from realtime_nb.client.calls import acreate_call, create_call
from realtime_nb.server import LocalServer

KEY = "sk-calls-test"
pytest.importorskip("aiortc")

from rtcpeer import Browser  # noqa: E402


@pytest.fixture(scope="module")
def keyed():
    with LocalServer(api_key=KEY) as srv:
        yield srv


def http_base(server: LocalServer) -> str:
    return server.url.replace("ws://", "http://")


def run(coro, timeout: float = 60.0):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def test_sdk_calls_create_unified_and_an_ephemeral_key_with_a_bare_offer(keyed):
    async def main():
        sdk = AsyncOpenAI(api_key=KEY, base_url=http_base(keyed), max_retries=0)
        b = Browser()
        raw = await sdk.realtime.calls.with_raw_response.create(
            sdp=await b.offer(), session={"type": "realtime", "model": "gpt-realtime", "instructions": "From the SDK."})
        assert raw.status_code == 201
        assert raw.headers["content-type"].startswith("application/sdp")
        assert raw.headers["location"].startswith("/v1/realtime/calls/rtc_")
        await b.accept(raw.http_response.text)
        created = await b.until("session.created")
        assert created["session"]["instructions"] == "From the SDK."
        await b.close()

        # a browser holding only an ek_ key posts its offer as application/sdp; the key's session applies
        secret = await sdk.realtime.client_secrets.create(
            session={"type": "realtime", "instructions": "From the key.", "audio": {"output": {"voice": "ash"}}})
        b2 = Browser()
        async with httpx.AsyncClient(trust_env=False, timeout=20) as http:
            r = await http.post(http_base(keyed) + "/realtime/calls", content=await b2.offer(),
                                headers={"Authorization": f"Bearer {secret.value}", "Content-Type": "application/sdp"})
        assert r.status_code == 201, r.text
        await b2.accept(r.text)
        created = await b2.until("session.created")
        assert created["session"]["instructions"] == "From the key."
        assert created["session"]["audio"]["output"]["voice"] == "ash"
        # the SDK with the ek_ key and no session sends the same bare offer
        b3 = Browser()
        ek_sdk = AsyncOpenAI(api_key=secret.value, base_url=http_base(keyed), max_retries=0)
        raw = await ek_sdk.realtime.calls.with_raw_response.create(sdp=await b3.offer())
        assert raw.status_code == 201
        await b3.accept(raw.http_response.text)
        assert (await b3.until("session.created"))["session"]["instructions"] == "From the key."
        # the unified form with an ek_ key: the form's session goes on top of the key's
        b4 = Browser()
        async with httpx.AsyncClient(trust_env=False, timeout=20) as http:
            r = await http.post(http_base(keyed) + "/realtime/calls",
                                headers={"Authorization": f"Bearer {secret.value}"},
                                files={"sdp": (None, (await b4.offer()).encode(), "application/sdp"),
                                       "session": (None, b'{"type": "realtime", "instructions": "From the form."}',
                                                   "application/json")})
        assert r.status_code == 201, r.text
        await b4.accept(r.text)
        created = (await b4.until("session.created"))["session"]
        assert created["instructions"] == "From the form." and created["audio"]["output"]["voice"] == "ash"
        for peer in (b2, b3, b4):
            await peer.close()

    run(main())


def test_calls_errors_are_json_and_leave_the_server_serving(keyed, monkeypatch):
    url = http_base(keyed) + "/realtime/calls"
    auth = {"Authorization": f"Bearer {KEY}"}
    with httpx.Client(trust_env=False, timeout=20) as http:
        r = http.post(url, content=b"v=0\r\nnot an offer\r\n", headers={**auth, "Content-Type": "application/sdp"})
        assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_offer"
        r = http.post(url, json={"sdp": "x"}, headers=auth)
        assert r.status_code == 400 and "Content-Type" in r.json()["error"]["message"]
        r = http.post(url, files={"session": (None, b"{}", "application/json")}, headers=auth)
        assert r.status_code == 400 and r.json()["error"]["param"] == "sdp"
        r = http.post(url, files={"sdp": (None, b"v=0", "application/sdp"),
                                  "session": (None, b'{"type": "realtime", "voice": 1}', "application/json")},
                      headers=auth)
        assert r.status_code == 400 and r.json()["error"]["code"] == "unknown_parameter"
        r = http.post(url, content=b"v=0", headers={"Authorization": "Bearer nope", "Content-Type": "application/sdp"})
        assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"
        r = http.post(url + "/rtc_nope/hangup", headers=auth)
        assert r.status_code == 404
        # without aiortc, a clear error (simulated: the server checks for the packages per request)
        from realtime_nb.server import calls

        reason = "WebRTC calls need aiortc: pip install 'realtime-nb[webrtc]'"
        monkeypatch.setattr(calls, "webrtc_missing", lambda: reason)
        r = http.post(url, content=b"v=0", headers={**auth, "Content-Type": "application/sdp"})
        assert r.status_code == 501 and "realtime-nb[webrtc]" in r.json()["error"]["message"]
        assert http.get(http_base(keyed).replace("/v1", "/health")).status_code == 200
    with pytest.raises(rt.RealtimeError) as info:
        create_call("v=0\r\n", url=keyed.url, api_key=KEY)
    assert info.value.code == "webrtc_unavailable"


def test_unknown_call_sideband_and_hangup(keyed):
    async def main():
        headers = {"Authorization": f"Bearer {KEY}"}
        async with ws_connect(keyed.url + "/realtime?call_id=rtc_unknown", additional_headers=headers) as ws:
            err = json.loads(await asyncio.wait_for(ws.recv(), 5))
            check_schema(err)
            assert err["type"] == "error" and err["error"]["param"] == "call_id"
            await asyncio.wait_for(ws.wait_closed(), 5)
            assert ws.close_code == 4000

        b = Browser()
        answer = await acreate_call(await b.offer(), url=keyed.url, api_key=KEY)
        await b.accept(answer.sdp)
        await b.until("session.created")
        # a client secret opens sessions and calls, but cannot join a call as its sideband
        async with httpx.AsyncClient(trust_env=False, timeout=10) as http:
            minted = (await http.post(f"{http_base(keyed)}/realtime/client_secrets", json={},
                                      headers=headers)).json()["value"]
        async with ws_connect(f"{keyed.url}/realtime?call_id={answer.call_id}",
                              additional_headers={"Authorization": f"Bearer {minted}"}) as ws:
            err = json.loads(await asyncio.wait_for(ws.recv(), 5))
            assert err["error"]["code"] == "invalid_api_key"
            await asyncio.wait_for(ws.wait_closed(), 5)
            assert ws.close_code == 3000
        async with ws_connect(f"{keyed.url}/realtime?call_id={answer.call_id}", additional_headers=headers) as ws:
            created = json.loads(await asyncio.wait_for(ws.recv(), 5))
            assert created["type"] == "session.created"
            async with httpx.AsyncClient(trust_env=False, timeout=10) as http:
                r = await http.post(f"{http_base(keyed)}/realtime/calls/{answer.call_id}/hangup", headers=headers)
            assert r.status_code == 200
            await asyncio.wait_for(ws.wait_closed(), 5)          # the sideband ends with the call
            assert ws.close_code == 1000
        assert answer.call_id not in keyed.calls.calls
        await b.close()

    run(main())


def test_stopping_the_server_ends_its_calls_and_their_sidebands():
    async def main(server: LocalServer):
        b = Browser()
        answer = await acreate_call(await b.offer(), url=server.url)
        await b.accept(answer.sdp)
        await b.until("session.created")
        s = await rt.aconnect(url=server.url, call_id=answer.call_id)
        closed = asyncio.Event()
        b.channel.on("close", closed.set)
        await asyncio.to_thread(server.stop)
        await asyncio.wait_for(closed.wait(), 10)               # the browser's channel closes
        assert s.closed and not server.calls.calls
        await s.aclose()
        await b.close()

    server = LocalServer().start()
    try:
        run(main(server))
    finally:
        server.stop()
