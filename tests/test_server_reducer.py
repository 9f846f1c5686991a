"""The conversation reducer in the client role reproduces the server engine's own state."""

from __future__ import annotations

import numpy as np
from rtclient import RawClient, user_text
from test_server_audio import append

from realtime_nb.protocol.reducer import ConversationState


def test_client_reducer_matches_server_conversation(server, speech_wav):
    pcm, _ = speech_wav
    with RawClient(server.url) as c:
        state = ConversationState()
        state.apply(c.recv())
        engine = server.engines[-1]
        c.send(user_text("first question"))
        c.send({"type": "response.create"})
        c.until("rate_limits.updated", timeout=30)
        append(c, pcm)
        for chunk in np.array_split(pcm, 10):
            state.apply_client({"type": "input_audio_buffer.append"}, pcm=chunk)
        c.until("rate_limits.updated", timeout=30)
        c.send({"type": "response.create", "response": {"conversation": "none", "output_modalities": ["text"]}})
        c.until("rate_limits.updated", timeout=30)
        for event in c.received:
            state.apply(event)
        assert state.conversation.ids() == engine.conversation.ids()
        for item_id in engine.conversation.ids():
            assert np.array_equal(state.item_audio(item_id), engine.conversation.audio(item_id)), item_id
        oob = list(state.responses.values())[-1]
        assert oob.out_of_band and oob.full_text().startswith("I heard ")
        assert all(r.status == "completed" for r in state.responses.values())


def test_root_insert_lands_first_in_the_client_view(server):
    with RawClient(server.url) as c:
        state = ConversationState()
        state.apply(c.recv())
        c.send(user_text("second"))
        c.until("conversation.item.done")
        c.send(user_text("first", previous_item_id="root"))
        c.until("conversation.item.done")
        for event in c.received:
            state.apply(event)
        texts = [state.item_text(i) for i in state.conversation.ids()]
        assert texts == ["first", "second"]
        assert state.conversation.ids() == server.engines[-1].conversation.ids()
