"""Hand-over at the session limit: with the local server's ``max_session_s=5``, a 20-second conversation
moves to a fresh connection several times between turns and keeps every item."""

from __future__ import annotations

import time

import realtime_nb as rt
from realtime_nb.server import ScriptedBrain

TEXT = {"output_modalities": ["text"]}


def test_a_conversation_outlives_the_session_limit():
    seen_context: list[int] = []

    def brain(request):
        seen_context.append(len(request.context))
        return f"turn with {len(request.context)} items in context"

    with rt.LocalServer(max_session_s=5, brain=ScriptedBrain(respond_fn=brain)) as srv:
        s = rt.connect(url=srv.url, instructions="Count along.")
        notices: list[dict] = []
        s.on("reconnected", notices.append)
        try:
            start, turns = time.monotonic(), 0
            while time.monotonic() - start < 20:
                turns += 1
                r = s.say(f"turn {turns}", **TEXT)     # back to back: the hand-over must find the pauses
                assert r.text == f"turn with {2 * turns - 1} items in context"
            items = s.items
            assert len(items) == 2 * turns
            assert list(items["text"][::2]) == [f"turn {i}" for i in range(1, turns + 1)]
            assert seen_context == [2 * i - 1 for i in range(1, turns + 1)]   # the server always knew them all
            handovers = [n for n in notices if n["cause"] == "handover"]
            assert len(handovers) >= 3 and s._client.connection == 1 + len(handovers)
            assert items["connection"].nunique() >= 3 and items["connection"].is_monotonic_increasing
            assert all(n["not_replayed"] == [] and "pause_s" in n for n in handovers)
            assert "SessionExpired" not in repr(s.events["error_code"].tolist())
            assert s.config["instructions"] == "Count along."
            assert not s.closed
        finally:
            s.close()
