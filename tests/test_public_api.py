"""The public surface of ``realtime_nb`` is pinned: adding or removing a name is a deliberate change."""

from __future__ import annotations

import realtime_nb as rt

PUBLIC = {
    "ClassificationError",
    "ConnectionClosed",
    "LocalServer",
    "RealtimeError",
    "RealtimeNBError",
    "RealtimeTimeout",
    "Response",
    "Session",
    "SessionExpired",
    "ToolError",
    "TranscriptionSession",
    "__version__",
    "aconnect",
    "client_secret",
    "connect",
    "ref",
    "transcribe",
}


def test_all_is_pinned():
    assert set(rt.__all__) == PUBLIC
    assert len(rt.__all__) == len(PUBLIC)            # no duplicates


def test_every_public_name_exists_and_is_documented():
    for name in rt.__all__:
        obj = getattr(rt, name)
        if name != "__version__":
            assert obj.__doc__, f"rt.{name} has no docstring"


def test_exception_tree():
    assert issubclass(rt.SessionExpired, rt.ConnectionClosed)
    assert issubclass(rt.RealtimeTimeout, TimeoutError)
    for exc in (rt.RealtimeError, rt.ConnectionClosed, rt.ClassificationError, rt.ToolError, rt.RealtimeTimeout):
        assert issubclass(exc, rt.RealtimeNBError)


def test_session_contract_names():
    """The names the docs promise on a Session (they may only grow)."""
    promised = {
        "say", "asay", "respond", "arespond", "update", "aupdate", "config", "send_audio", "asend_audio",
        "append_audio", "commit", "clear_audio", "add_audio_message", "add_item", "delete_item", "truncate",
        "retrieve", "cancel", "item_audio", "send", "on", "off", "tool", "classify", "aclassify", "items",
        "events", "responses", "close", "aclose", "__enter__", "__exit__", "__aenter__", "__aexit__",
    }
    assert promised <= set(dir(rt.Session))
    response_fields = {"id", "status", "status_details", "text", "transcript", "audio", "output", "usage",
                       "metadata", "conversation", "wait", "save_wav", "_repr_html_", "_repr_mimebundle_",
                       "created_at", "first_delta_at", "done_at", "time_to_first_delta", "time_to_done"}
    assert response_fields - {"id"} <= set(dir(rt.Response))   # ``id`` is an instance attribute
