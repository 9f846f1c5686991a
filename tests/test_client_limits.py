"""What the client refuses from a server: frames too large or too deeply nested (dropped, noted in
``s.events``, the session kept) and malformed ``response.done`` (its response fails, with the reason)."""

from __future__ import annotations

import pytest
from badserver import BadServer, nested

import realtime_nb as rt

KIB = 1024


def test_huge_and_deep_frames_are_dropped_and_noted(server):
    big = '{"type":"rate_limits.updated","rate_limits":[],"pad":"' + "x" * (100 * KIB) + '"}'
    with BadServer(server.url) as bad:
        bad.inject = [big, nested(150), nested(900), nested(5000)]
        with rt.connect(url=bad.url, max_frame_bytes=64 * KIB, reconnect=False) as s:
            assert s.say("still alive?", output_modalities=["text"]).text == "You said: still alive?"
            local = s.events.query("direction == 'local'")
            codes = local[local["type"] == "anomaly"]["error_code"].tolist()
            assert codes == ["frame_too_large", "frame_too_deep", "frame_too_deep"]
            assert "decode_error" in local["type"].tolist()    # 5000 deep: not even JSON we can read
            assert not s.closed


def test_a_frame_beyond_the_hard_limit_closes_with_1009(server):
    with BadServer(server.url) as bad:
        bad.inject = ['{"type":"x","pad":"' + "x" * (300 * KIB) + '"}']
        s = rt.connect(url=bad.url, max_frame_bytes=64 * KIB, reconnect=False)
        try:
            with pytest.raises(rt.ConnectionClosed) as info:
                s.say("hello", output_modalities=["text"])
            assert info.value.code == 1009
        finally:
            s.close()


@pytest.mark.parametrize("mangle", [
    lambda r: {**r, "output": 5},
    lambda r: {**r, "status": None},
    lambda r: {k: v for k, v in r.items() if k != "id"},
    lambda r: "not an object",
])
def test_malformed_response_done_fails_the_response_with_a_reason(server, mangle):
    with BadServer(server.url) as bad:
        bad.rewrite["response.done"] = lambda e: {**e, "response": mangle(e["response"])}
        with rt.connect(url=bad.url, reconnect=False, response_timeout=5) as s:
            with pytest.raises(rt.RealtimeError) as info:
                s.say("hi", output_modalities=["text"])
            assert info.value.code == "malformed_response_done"
            r = s.last_response
            assert r.done and r.status == "failed"
            assert r.status_details["reason"] == "malformed_response_done"
            assert "malformed response.done" in r.status_details["error"]["message"]
            bad.rewrite.clear()
            assert s.say("ok now", output_modalities=["text"]).text == "You said: ok now"
