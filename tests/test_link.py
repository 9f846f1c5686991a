"""The widget's fast path (``_link``): a real loopback websocket to the loop thread, a real Session and
the local server; the comm side is the fake of ``test_widget``."""

from __future__ import annotations

import contextlib
import json
import struct
import threading
from typing import Any

import numpy as np
import pytest
import test_widget
from test_widget import FakeBrowser, settle, wait_for
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

from realtime_nb.client import _loop
from realtime_nb.notebook import _link
from realtime_nb.notebook.widget import RealtimeWidget

session = test_widget.session   # the same fixtures: a Session on the local server, a widget with a fake comm
browser = test_widget.browser


PAGE = "http://127.0.0.1:8888"   # the notebook page's origin, as a browser sends it


class LinkedView:
    """One view whose messages go over a real websocket link (as js/link.js does)."""

    def __init__(self, browser: FakeBrowser, view: str, origin: str = PAGE) -> None:
        self.browser = browser
        self.view = view
        self.got: list[tuple[dict[str, Any], list[bytes]]] = []
        self.lock = threading.Lock()
        browser.next_id += 1
        rid = browser.next_id
        browser.deliver({"type": "link", "view": view, "id": rid, "origin": origin})
        info = browser.wait_reply(view, rid, 10)
        assert info is not None and info["port"] > 0 and len(info["token"]) >= 24
        self.info = info
        self.stack = contextlib.ExitStack()
        url = f"ws://127.0.0.1:{info['port']}/link/{info['token']}/{view}"
        self.ws: ClientConnection = self.stack.enter_context(connect(url, origin=origin))  # type: ignore[arg-type]
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.next_id = 1000

    def _read(self) -> None:
        try:
            for frame in self.ws:
                content, buffers = _link.decode_frame(frame)
                with self.lock:
                    self.got.append((content, buffers))
                if content.get("type") in ("probe", "interrupt"):
                    result = {"item_id": None, "played_samples": 0} if content["type"] == "interrupt" else None
                    self.send({"type": "reply", "id": content["id"], "ok": True, "result": result})
        except Exception:
            pass

    def send(self, content: dict[str, Any], buffer: bytes | None = None) -> None:
        self.ws.send(_link.encode_frame({**content, "view": self.view}, buffer))

    def messages(self, mtype: str) -> list[tuple[dict[str, Any], list[bytes]]]:
        with self.lock:
            return [(c, b) for c, b in self.got if c.get("type") == mtype]

    def request(self, mtype: str, **content: Any) -> Any:
        self.next_id += 1
        rid = self.next_id
        self.send({"type": mtype, "id": rid, **content})
        found = wait_for(lambda: [c for c, _ in self.messages("reply") if c["id"] == rid], 10)
        assert found[0]["ok"], found
        return found[0]["result"]

    def close(self) -> None:
        self.stack.close()


def test_frames_round_trip_and_reject_garbage():
    assert _link.encode_frame({"type": "ping"}) == '{"type":"ping"}'
    frame = _link.encode_frame({"type": "audio", "samples": 2}, b"\x01\x00\x02\x00")
    assert isinstance(frame, bytes)
    assert _link.decode_frame(frame) == ({"type": "audio", "samples": 2}, [b"\x01\x00\x02\x00"])
    assert _link.decode_frame('{"type":"x"}') == ({"type": "x"}, [])
    for bad in (b"\x00\x00", struct.pack(">I", 99) + b"{}", "[1, 2]", b"\x00\x00\x00\x02[]"):
        with pytest.raises(ValueError):
            _link.decode_frame(bad)


def test_a_wrong_token_is_refused_before_the_upgrade(browser):
    view = LinkedView(browser, "v")
    try:
        with pytest.raises(InvalidStatus) as err:
            connect(f"ws://127.0.0.1:{view.info['port']}/link/not-the-token/v")
        assert err.value.response.status_code == 403
        with pytest.raises(InvalidStatus):
            connect(f"ws://127.0.0.1:{view.info['port']}/link/{view.info['token']}")  # no view id
    finally:
        view.close()


def test_the_token_is_not_in_synced_state(browser):
    view = LinkedView(browser, "v")
    try:
        state = json.dumps(browser.w.get_state(), default=str)
        assert view.info["token"] not in state and str(view.info["port"]) not in state
    finally:
        view.close()


def test_a_linked_view_gets_everything_over_the_link(session, browser):
    view = LinkedView(browser, "v")
    try:
        ready = view.request("ready")
        assert ready["owner"] is True and "snapshot" in ready
        wait_for(lambda: browser.w.stats()["links"] == ["v"])
        before = len(browser.comm.custom())
        r = session.say("Tell me a short story about the moon")
        wait_for(lambda: view.messages("audio_end"), 20)
        audio = [(c, b[0]) for c, b in view.messages("audio")]
        pcm = np.frombuffer(b"".join(b for _, b in audio), "<i2")
        assert np.array_equal(pcm, r.audio)                       # all of it, in order, over the link
        assert [c["samples"] for c, _ in audio] == [len(b) // 2 for _, b in audio]
        wait_for(lambda: any(e.get("entries") for e, _ in view.messages("update")))
        settle()
        custom = browser.comm.custom()[before:]
        assert not custom, f"the comm carried {[c['type'] for c, _ in custom]} for a linked view"

        # mic audio over the link becomes appends, in order
        rng = np.random.default_rng(1)
        chunks = [rng.integers(-300, 300, 960, dtype=np.int16) for _ in range(10)]
        for i, chunk in enumerate(chunks):
            view.send({"type": "audio", "seq": i}, chunk.tobytes())
        wait_for(lambda: browser.w.stats()["mic_samples"] == 9600)
        wait_for(lambda: (session.events.type == "input_audio_buffer.append").sum() == 10)
    finally:
        view.close()


def test_when_the_link_closes_the_comm_takes_over(session, browser):
    view = LinkedView(browser, "v")
    view.request("ready")
    view.close()
    wait_for(lambda: browser.w.stats()["links"] == [])
    r = session.say("Hello there")
    wait_for(lambda: browser.comm.custom("audio_end"), 20)
    pcm = np.frombuffer(b"".join(b for _, b in browser.audio_out("v")), "<i2")
    assert np.array_equal(pcm, r.audio)


def test_broadcasts_reach_linked_and_unlinked_views(session, browser):
    linked = LinkedView(browser, "a")
    try:
        linked.request("ready")
        browser.ready("b")                                        # this one only has the comm
        session.say("Hi")
        wait_for(lambda: linked.messages("update") and browser.comm.custom("update"))
        # the owner is "a": its audio goes over the link, nothing of it over the comm
        wait_for(lambda: linked.messages("audio_end"), 20)
        assert not browser.audio_out()
    finally:
        linked.close()


def test_malformed_frames_are_dropped_not_fatal(session, browser):
    view = LinkedView(browser, "v")
    try:
        view.ws.send(b"\x00\x00\x00\xff{}")
        view.ws.send("not json")
        assert view.request("ready")["owner"] is True             # the link still works
    finally:
        view.close()


def test_turned_off_by_the_environment(browser, monkeypatch):
    monkeypatch.setenv("REALTIME_NB_LINK", "0")
    browser.next_id += 1
    browser.deliver({"type": "link", "view": "v", "id": browser.next_id})
    assert browser.wait_reply("v", browser.next_id, 10) is None


def test_closing_the_widget_closes_its_links(session):
    w = RealtimeWidget(session)
    browser = FakeBrowser(w)
    view = LinkedView(browser, "v")
    view.request("ready")
    token = view.info["token"]
    w.close()
    view.reader.join(5)
    assert not view.reader.is_alive()                             # the kernel closed the socket
    with pytest.raises(InvalidStatus):
        connect(f"ws://127.0.0.1:{view.info['port']}/link/{token}/v")
    assert _loop.get_loop().is_running()


def test_only_the_pages_own_origin_may_use_the_link(browser):
    """The token is not enough: the upgrade's Origin must be the one the page reported over the comm."""
    view = LinkedView(browser, "v")
    url = f"ws://127.0.0.1:{view.info['port']}/link/{view.info['token']}/w"
    try:
        for origin in ("http://evil.example", "http://127.0.0.1:9999", "null", None):
            with pytest.raises(InvalidStatus) as err:
                connect(url, origin=origin)  # type: ignore[arg-type]
            assert err.value.response.status_code == 403, origin
        with connect(url, origin=PAGE):  # type: ignore[arg-type]
            pass                          # the page's own origin, with the token, still gets in
    finally:
        view.close()


def test_a_view_without_a_valid_origin_gets_no_link(browser):
    for origin in (None, "null", "file://", "http://host/path", 7):
        browser.next_id += 1
        rid = browser.next_id
        content = {"type": "link", "view": "v", "id": rid}
        if origin is not None:
            content["origin"] = origin
        browser.deliver(content)
        assert browser.wait_reply("v", rid, 10) is None, origin   # the comm carries everything then
