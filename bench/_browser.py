"""Shared pieces of the real-browser benchmarks (bench_relay, bench_bargein, bench_kernel_cpu).

Not a benchmark itself. Built on the browser-test harness (``tests/browser/labharness.py``: the fake-mic
WAV, ``Lab``, ``NotebookPage``), plus what the benchmarks need on top of it:

- ``ServerRecorder``: wall-clock times (``time.time()``, epoch ms) at which the local server received
  each ``input_audio_buffer.append`` / ``conversation.item.truncate`` and sent each
  ``response.output_audio.delta`` / ``input_audio_buffer.speech_started``, per connection (keyed by the
  ``model`` the client asked for, so each path uses its own name), recorded inside the server process.
- The widget's trace (``js/trace.js``): with ``window.__realtime_nb_trace = []`` set before the widget
  starts, the page records when each mic chunk left the capture worklet, when assistant audio reached
  the view and the player worklet, when a chunk's first sample was rendered, and when an interrupt
  arrived and the output went silent. ``WidgetPage`` drives one notebook with the widget and drains it.
- ``DirectPage``: the baseline. A plain page served by a tiny local HTTP server, whose JS captures the
  same fake mic with the same capture worklet, plays with the same player worklet (both loaded as
  modules straight from ``js/``), and talks to the local server over its own WebSocket — no kernel, no
  Jupyter. It writes the same trace rows.
- ``calibrate``: the page's wall clock against this process's (a WebSocket round trip to a tiny
  time server here; the offset of the fastest round trips), and the worklets' clock (Temporal.Now)
  against the page's (performance.timeOrigin + performance.now()).

Everything listens on 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import base64
import bisect
import contextlib
import functools
import http.server
import importlib.util
import json
import os
import shutil
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for _p in (ROOT / "tests" / "browser", ROOT / "tests", ROOT):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

from labharness import (  # noqa: E402  (the harness lives with the browser tests)
    _OPENED_JS,
    CHROMIUM,
    Lab,
    MicScript,
    NotebookPage,
    chromium_args,
    write_fake_mic,
)

SAMPLE_RATE = 24000
NODELAY_EXTENSION = "realtime_nb.notebook._jupyter_server_ext"
ROOT_SEL = "[data-testid=rtnb-root]"
INIT_TRACE = "window.__realtime_nb_trace = [];"


def missing() -> str | None:
    """Why the browser benchmarks cannot run here (None when they can)."""
    if not os.path.exists(CHROMIUM):
        return f"{CHROMIUM} not found (apt-get install -y chromium)"
    for module in ("playwright", "jupyterlab", "nbformat", "anywidget"):
        if importlib.util.find_spec(module) is None:
            return f"python package {module!r} not installed (pip install -e '.[dev]')"
    return None


def now_ms() -> float:
    return time.time() * 1000.0


# -- the local server's side -------------------------------------------------------------------------

class ServerRecorder:
    """Receive/send times inside the ``LocalServer`` (this process), per connection ``model``.

    Frames are kept as they are and parsed after the run, so the server's loop only pays for a
    ``time.time()`` and a prefix check per frame.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.appends: dict[str, list[tuple[float, str]]] = defaultdict(list)
        self.client_events: dict[str, list[tuple[float, str]]] = defaultdict(list)
        self.sends: dict[str, list[tuple[float, str]]] = defaultdict(list)
        self.engines: dict[str, Any] = {}

    @contextlib.contextmanager
    def install(self) -> Iterator[ServerRecorder]:
        from realtime_nb.server import app

        rec = self
        orig_run, orig_handle = app._Connection.run, app._Connection._handle

        async def run(conn: Any) -> None:
            model = str(conn.engine.session.get("model"))
            rec.engines[model] = conn.engine
            sends = rec.sends[model]
            orig_send = conn.ws.send

            async def send(message: Any, *args: Any, **kwargs: Any) -> Any:
                if isinstance(message, str) and ("output_audio.delta" in message[:60]
                                                 or "speech_started" in message[:60]):
                    sends.append((now_ms(), message))
                return await orig_send(message, *args, **kwargs)

            conn.ws.send = send
            await orig_run(conn)

        def handle(conn: Any, frame: Any) -> Any:
            t = now_ms()
            if isinstance(frame, str):
                head = frame[:100]
                model = str(conn.engine.session.get("model"))
                if "input_audio_buffer.append" in head:
                    rec.appends[model].append((t, frame))
                elif "conversation.item.truncate" in head:
                    rec.client_events[model].append((t, frame))
            return orig_handle(conn, frame)

        app._Connection.run, app._Connection._handle = run, handle  # type: ignore[method-assign,assignment]
        try:
            yield self
        finally:
            app._Connection.run, app._Connection._handle = orig_run, orig_handle  # type: ignore[method-assign]

    # -- parsed views (after or between runs) ---------------------------------------------------
    def append_rows(self, model: str) -> list[tuple[float, int, int]]:
        """``(t_ms, start_offset, samples)`` of every append of ``model``'s connection, in order."""
        out, offset = [], 0
        for t, frame in list(self.appends.get(model, [])):
            n = len(base64.b64decode(json.loads(frame)["audio"])) // 2
            out.append((t, offset, n))
            offset += n
        return out

    def delta_rows(self, model: str) -> list[tuple[float, str, int, int]]:
        """``(t_ms, item_id, start_offset, samples)`` of every audio delta sent to ``model``."""
        out: list[tuple[float, str, int, int]] = []
        offsets: dict[str, int] = defaultdict(int)
        for t, frame in list(self.sends.get(model, [])):
            ev = json.loads(frame)
            if ev.get("type") != "response.output_audio.delta":
                continue
            n = len(base64.b64decode(ev["delta"])) // 2
            item = ev["item_id"]
            out.append((t, item, offsets[item], n))
            offsets[item] += n
        return out

    def sent_events(self, model: str, etype: str) -> list[tuple[float, dict[str, Any]]]:
        out = []
        for t, frame in list(self.sends.get(model, [])):
            if etype in frame[:60]:
                ev = json.loads(frame)
                if ev.get("type") == etype:
                    out.append((t, ev))
        return out

    def received_events(self, model: str, etype: str) -> list[tuple[float, dict[str, Any]]]:
        return [(t, ev) for t, ev in ((t, json.loads(f)) for t, f in list(self.client_events.get(model, [])))
                if ev.get("type") == etype]

    def audio_out_samples(self, model: str) -> int:
        return sum(r[3] for r in self.delta_rows(model))

    def inband_active(self, model: str) -> bool:
        engine = self.engines.get(model)
        return engine is not None and engine.inband is not None


# -- a time server for clock calibration, and the static server of the direct page -------------------

class TimeServer:
    """A WebSocket server answering every message with this process's ``time.time()`` in ms."""

    def __init__(self) -> None:
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/"

    def __enter__(self) -> TimeServer:
        from websockets.asyncio.server import serve

        ready = threading.Event()

        async def handler(ws: Any) -> None:
            async for _msg in ws:
                await ws.send(json.dumps({"t": now_ms()}))

        async def main() -> None:
            self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
            async with serve(handler, "127.0.0.1", 0, compression=None) as server:
                self.port = server.sockets[0].getsockname()[1]
                ready.set()
                await self._stop.wait()

        self._thread = threading.Thread(target=lambda: asyncio.run(main()), daemon=True, name="bench-time")
        self._thread.start()
        ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(5)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, ".js": "text/javascript",
                      ".mjs": "text/javascript"}

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")
        super().end_headers()


class StaticServer:
    """Serves ``folder`` (the direct page, with ``js/`` linked to the repository's ``js/``)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.httpd: http.server.ThreadingHTTPServer | None = None

    @property
    def origin(self) -> str:
        assert self.httpd is not None
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> StaticServer:
        handler = functools.partial(_QuietHandler, directory=str(self.folder))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True, name="bench-static").start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()


# -- clock calibration --------------------------------------------------------------------------------

_CALIBRATE_JS = """async ([url, n]) => {
  const wall = () => performance.timeOrigin + performance.now();
  const ws = new WebSocket(url);
  await new Promise((ok, fail) => { ws.onopen = ok; ws.onerror = () => fail(new Error('time server')); });
  const pings = [];
  for (let i = 0; i < n; i++) {
    const got = new Promise((ok) => { ws.onmessage = (e) => ok(e.data); });
    const t0 = wall();
    ws.send(String(i));
    const t = JSON.parse(await got).t;
    pings.push([t0, t, wall()]);
  }
  ws.close();
  const temporal = [];
  const T = globalThis.Temporal;
  for (let i = 0; i < 50 && T; i++) {
    const a = wall();
    const b = Number(T.Now.instant().epochNanoseconds) / 1e6;
    const c = wall();
    temporal.push(b - (a + c) / 2);
  }
  return {pings, temporal};
}"""


def calibrate(page: Any, time_url: str, n: int = 40) -> dict[str, Any]:
    """Offset to add to the page's wall clock to get this process's clock, from the fastest quarter of
    ``n`` WebSocket round trips (error bound: half their round trip), and the worklet clock's offset
    (Temporal.Now minus performance.timeOrigin + now), which is added to the worklet times on top."""
    import statistics

    r = page.evaluate(_CALIBRATE_JS, [time_url, n])
    rows = sorted(((t1 - t0, t - (t0 + t1) / 2) for t0, t, t1 in r["pings"][2:]), key=lambda x: x[0])
    best = rows[: max(3, len(rows) // 4)]
    temporal = r["temporal"] or [0.0]
    return {"offset_ms": statistics.median(o for _, o in best), "rtt_ms": statistics.median(d for d, _ in best),
            "offset_spread_ms": max(o for _, o in best) - min(o for _, o in best),
            "worklet_minus_page_ms": statistics.median(temporal), "pings": len(rows)}


# -- JupyterLab pages with the widget -------------------------------------------------------------------

# Kernel-side timestamps for the latency breakdown (bench only: patched in the notebook, before the widget
# exists): when a mic message reaches the widget's comm handler, when output audio reaches the bridge, when
# the bridge sends it on to the view, and when ipykernel's IOPub thread puts that message on its socket.
KERNEL_PROBE = '''
import json, os, time
import realtime_nb as rt
from realtime_nb.notebook import widget as _rtw
from realtime_nb.notebook import _bridge as _rtb
_bench = {"mic": [], "out": []}
_bench_on_custom = _rtw.RealtimeWidget._on_custom
def _bench_custom(self, widget, content, buffers):
    if isinstance(content, dict) and content.get("type") == "audio":
        _bench["mic"].append((time.time() * 1000, content.get("samples")))
    return _bench_on_custom(self, widget, content, buffers)
_rtw.RealtimeWidget._on_custom = _bench_custom
_bench_on_audio = _rtb.Bridge.on_audio
def _bench_audio(self, response_id, item_id, pcm):
    _bench["out"].append((time.time() * 1000, item_id, self.received.get(item_id, 0), len(pcm)))
    return _bench_on_audio(self, response_id, item_id, pcm)
_rtb.Bridge.on_audio = _bench_audio
_bench["sent"] = []
_bench_flush_audio = _rtb.Bridge.flush_audio
def _bench_flush(self, item, end=False):
    if self.pending_n.get(item) and self.owner is not None and item not in self.cut:
        _bench["sent"].append((time.time() * 1000, item, self.forwarded.get(item, 0), self.pending_n[item]))
    return _bench_flush_audio(self, item, end)
_rtb.Bridge.flush_audio = _bench_flush
from realtime_nb.notebook import _link as _rtl
_bench_decode = _rtl.decode_frame
def _bench_decode_frame(frame):
    content, buffers = _bench_decode(frame)
    if content.get("type") == "audio":  # a mic message over the widget's link (not the comm)
        _bench["mic"].append((time.time() * 1000, content.get("samples")))
    return content, buffers
_rtl.decode_frame = _bench_decode_frame
_bench["link_sent"] = []
_bench_link_write = _rtl.Link._write
async def _bench_write(self):  # when each audio frame has been handed to the link's socket
    send = self.ws.send
    async def timed(frame):
        await send(frame)
        if isinstance(frame, bytes) and b'"type":"audio"' in frame[:200]:
            c, b = _bench_decode(frame)
            _bench["link_sent"].append((time.time() * 1000, c.get("item_id"), c.get("samples")))
    self.ws.send = timed
    return await _bench_link_write(self)
_rtl.Link._write = _bench_write
_bench_write_now = _rtl.write_now
def _bench_wn(ws, frame):  # the link's frames written at once (no writer task)
    ok = _bench_write_now(ws, frame)
    if ok and isinstance(frame, bytes) and b'"type":"audio"' in frame[:200]:
        c, b = _bench_decode(frame)
        _bench["link_sent"].append((time.time() * 1000, c.get("item_id"), c.get("samples")))
    return ok
_rtl.write_now = _bench_wn
_bench["iopub"] = []
from ipykernel import iostream as _rtios
_bench_really_send = _rtios.IOPubThread._really_send
def _bench_iopub(self, msg, *args, **kwargs):
    t = time.time() * 1000
    for part in msg:
        if isinstance(part, bytes) and part[:1] == b"{" and b'"samples"' in part and b'"audio"' in part:
            c = json.loads(part).get("data", {}).get("content", {})
            if c.get("type") == "audio":
                _bench["iopub"].append((t, c.get("item_id"), c.get("samples")))
            break
    return _bench_really_send(self, msg, *args, **kwargs)
_rtios.IOPubThread._really_send = _bench_iopub
_bench["events"] = []
_bench_on_event = _rtb.Bridge.on_event
def _bench_event(self, event):
    if event.get("type") == "input_audio_buffer.speech_started":
        _bench["events"].append((time.time() * 1000, "speech_started"))
    return _bench_on_event(self, event)
_rtb.Bridge.on_event = _bench_event
_bench_send = _rtb.Bridge.send
def _bench_bridge_send(self, content, buffers=None):
    if content.get("type") == "interrupt":
        _bench["events"].append((time.time() * 1000, "interrupt_sent"))
    return _bench_send(self, content, buffers)
_rtb.Bridge.send = _bench_bridge_send
'''


# Bench-only diagnostic: cProfile on the session's loop thread while the file ``BENCH_PROFILE_FLAG`` exists
# (the bench creates it at the start of each measured window and removes it at the end); a watcher thread
# polls the flag every 0.1 s. The dump cell writes the stats to ``BENCH_PROFILE_OUT``.
LOOP_PROFILER = '''
import cProfile as _cp, threading as _pth
from realtime_nb.client import _loop as _ploop
_prof = _cp.Profile()
def _prof_watch():
    on = False
    while True:
        want = os.path.exists(BENCH_PROFILE_FLAG)
        if want != on:
            _ploop.call_soon(_prof.enable if want else _prof.disable)
            on = want
        time.sleep(0.1)
_pth.Thread(target=_prof_watch, daemon=True, name="bench-profiler").start()
'''


def widget_cells(model: str, dump_path: Path, *, probe: bool = True, settings: str = "",
                 profile: Path | None = None) -> list[str]:
    """Cell 0 connects (printing the kernel's pid) and shows the widget; cell 1 writes the kernel probe,
    the widget's kernel-side stats and the kernel's thread names by native id to ``dump_path``. With
    ``profile`` (a flag file's path), the loop thread is profiled while that file exists
    (``LOOP_PROFILER``); the stats go to ``<profile>.pstats``."""
    prof = ""
    if profile is not None:
        prof = (f"BENCH_PROFILE_FLAG = {str(profile)!r}\nBENCH_PROFILE_OUT = {str(profile) + '.pstats'!r}\n"
                + LOOP_PROFILER)
    setup = (KERNEL_PROBE if probe else "import json, os, time\nimport realtime_nb as rt\n") + prof + f'''
s = rt.connect(model={model!r})
w = s.widget
{settings}
print(json.dumps({{"pid": os.getpid()}}))
w
'''
    dump = f"BENCH_DUMP_PATH = {str(dump_path)!r}\n" + '''
if "_prof" in globals():
    _ploop.call_soon(_prof.disable)
    time.sleep(0.3)
    _prof.dump_stats(BENCH_PROFILE_OUT)
with open(BENCH_DUMP_PATH, "w") as f:
    import threading as _th
    json.dump({"kernel": _bench if "_bench" in globals() else None, "stats": w.stats(),
               "threads": {str(t.native_id): t.name for t in _th.enumerate()}}, f)
print("dumped")
'''
    return [setup, dump]


# Bench-only diagnostic: when the page's kernel WebSocket sends or receives each frame (wall clock), so the
# widget path's time can be split at the browser's socket. Frames are kept as they are and parsed by
# ``_WS_PARSE_JS`` outside the measured windows (jupyter_server's v1 kernel protocol: little-endian
# uint64 count and offsets, then channel, header, parent header, metadata, content, buffers).
WS_TRACE_INIT = """(() => {
  const Native = window.WebSocket;
  const frames = (window.__rtnb_ws_frames = []);
  const wall = () => performance.timeOrigin + performance.now();
  class TracedWebSocket extends Native {
    constructor(url, protocols) {
      super(url, protocols);
      this.__traced = String(url).includes('/api/kernels/');
      if (this.__traced) this.addEventListener('message', (e) => frames.push(['rx', wall(), e.data]));
    }
    send(data) {
      if (this.__traced) frames.push(['tx', wall(), data]);
      return super.send(data);
    }
  }
  window.WebSocket = TracedWebSocket;
})();"""

_WS_PARSE_JS = """() => {
  const frames = (window.__rtnb_ws_frames || []).splice(0);
  const st = (window.__rtnb_ws_state ??= {inOffsets: {}, outOffset: 0, protocols: {}, counts: {}});
  const dec = new TextDecoder();
  const rows = [];
  for (const [dir, at, data] of frames) {
    if (!(data instanceof ArrayBuffer)) { st.protocols.text = (st.protocols.text || 0) + 1; continue; }
    let content;
    try {
      const dv = new DataView(data);
      const n = Number(dv.getBigUint64(0, true));
      const off = [];
      for (let i = 0; i < n; i++) off.push(Number(dv.getBigUint64(8 * (i + 1), true)));
      const part = (i) => dec.decode(new Uint8Array(data, off[i], off[i + 1] - off[i]));
      const mtype = JSON.parse(part(1)).msg_type;
      if (mtype !== 'comm_msg') {
        st.counts[dir + ' ' + mtype] = (st.counts[dir + ' ' + mtype] || 0) + 1;
        if (dir === 'rx') rows.push(['ws_rx', mtype, at]);
        continue;
      }
      content = JSON.parse(part(4));
      const inner = content?.data?.method === 'custom' ? 'custom ' + content.data.content?.type : content?.data?.method;
      st.counts[dir + ' comm_msg ' + inner] = (st.counts[dir + ' comm_msg ' + inner] || 0) + 1;
      if (dir === 'rx') rows.push(['ws_rx', 'comm_msg ' + inner, at]);
      st.protocols.v1 = (st.protocols.v1 || 0) + 1;
    } catch (e) { st.protocols.unparsed = (st.protocols.unparsed || 0) + 1; continue; }
    const c = content?.data?.content;
    if (c && c.type === 'interrupt' && dir === 'rx') rows.push(['ws_interrupt', at]);
    if (!c || c.type !== 'audio' || typeof c.samples !== 'number') continue;
    if (dir === 'rx') {
      const before = st.inOffsets[c.item_id] ?? 0;
      st.inOffsets[c.item_id] = before + c.samples;
      rows.push(['ws_in', c.item_id, before, c.samples, at]);
    } else {
      rows.push(['ws_out', st.outOffset, c.samples, at]);
      st.outOffset += c.samples;
    }
  }
  const counts = st.counts;
  st.counts = {};
  return {rows, protocols: st.protocols, counts};
}"""


_DEBUG_JS = """() => {
  for (const entry of Object.values(window.__realtime_nb_debug || {}))
    if (entry.owner) return JSON.parse(JSON.stringify(entry.owner));
  return null;
}"""


class WidgetPage:
    """A notebook running ``s = rt.connect(model=...)`` with its widget, in its own browser context."""

    def __init__(self, browser: Any, lab: Lab, name: str, model: str, *, probe: bool = True,
                 settings: str = "", ws_trace: bool = False, profile: Path | None = None) -> None:
        self.lab, self.model, self.name = lab, model, name
        self.dump_path = lab.home / f"{Path(name).stem}.dump.json"
        self.profile = profile
        lab.write_notebook(name, widget_cells(model, self.dump_path, probe=probe, settings=settings,
                                              profile=profile))
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.context.grant_permissions(["microphone"], origin=lab.origin)
        self.context.add_init_script(INIT_TRACE)
        if ws_trace:
            self.context.add_init_script(WS_TRACE_INIT)
        self.ws_protocols: dict[str, int] = {}
        self.ws_counts: dict[str, int] = {}
        self.nb = NotebookPage(self.context.new_page(), lab, name)
        self.page = self.nb.page
        self.pid: int | None = None

    def navigate(self) -> None:
        """Start loading the notebook (returns at once; ``wait_open`` waits)."""
        self.page.goto(self.lab.url(f"/lab/tree/{self.name}") + "&reset", wait_until="domcontentloaded")

    def wait_open(self, timeout: float = 90.0) -> None:
        self.page.wait_for_function(_OPENED_JS, arg=self.name, timeout=timeout * 1000, polling=200)

    def start_setup(self) -> None:
        self.nb.run_cell(0)

    def finish_setup(self, timeout: float = 90.0) -> None:
        """Wait for the setup cell (the kernel's pid) and for the widget to own audio."""
        out = self.nb.wait_cell(0, timeout=timeout)
        for line in out.splitlines():
            if line.startswith("{") and '"pid"' in line:
                self.pid = int(json.loads(line)["pid"])
        self.page.locator(f"{ROOT_SEL}[data-ready=true][data-owner=true]").wait_for(timeout=timeout * 1000)

    def debug(self) -> dict[str, Any]:
        return self.page.evaluate(_DEBUG_JS) or {}

    def transport(self) -> str:
        """"link" when the owner view talks to its kernel over the fast path, else "comm"."""
        return str(self.page.locator(f"{ROOT_SEL}[data-owner=true]").first.get_attribute("data-link"))

    def _mic_button(self, on: bool) -> Any:
        # "Start talking" opens the mic (shown while it is off), "Stop mic" closes it
        testid = "rtnb-start" if on else "rtnb-mic-button"
        return self.page.locator(f"{ROOT_SEL} [data-testid={testid}]").first

    def set_mic(self, on: bool, timeout: float = 20.0) -> None:
        if bool(self.debug().get("micOn")) != on:
            self._mic_button(on).click()
        self.nb.wait_until(lambda: bool(self.debug().get("micOn")) == on, timeout,
                           f"the widget's mic turns {'on' if on else 'off'}", poll_ms=50)

    def drain(self) -> list[list[Any]]:
        return self.page.evaluate("() => (window.__realtime_nb_trace || []).splice(0)")  # type: ignore[no-any-return]

    def drain_ws(self) -> list[list[Any]]:
        """Audio comm messages seen at the page's kernel WebSocket since the last call (``ws_trace``):
        ``["ws_in", item, offset, samples, at]`` received, ``["ws_out", offset, samples, at]`` sent,
        ``["ws_interrupt", at]`` interrupt requests received, ``["ws_rx", type, at]`` every message received."""
        r = self.page.evaluate(_WS_PARSE_JS)
        self.ws_protocols = r["protocols"]
        self.ws_counts = r["counts"]  # kernel messages by direction and type since the last call
        return r["rows"]  # type: ignore[no-any-return]

    def dump_kernel(self, timeout: float = 60.0) -> dict[str, Any]:
        """Run the dump cell (the kernel writes its probe and widget stats) and read what it wrote."""
        self.nb.run_cell_and_wait(1, timeout=timeout)
        return json.loads(self.dump_path.read_text())  # type: ignore[no-any-return]

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.page.evaluate("() => window.jupyterapp.shell.currentWidget.sessionContext.shutdown()")
        with contextlib.suppress(Exception):
            self.context.close()


# -- the direct page (baseline) ----------------------------------------------------------------------

DIRECT_HTML = """<!doctype html>
<html><head><meta charset="utf-8"><title>realtime-nb bench: direct path</title></head>
<body><p>Direct WebSocket path (benchmark baseline).</p>
<script type="module" src="./direct.js"></script></body></html>
"""

# Same fake mic, same worklets (js/capture.worklet.js, js/player.worklet.js as modules), same AudioContext
# settings and getUserMedia constraints as the widget; events go straight to the local server.
DIRECT_JS = r"""
import { floatToPcm16, pcm16ToFloat, SAMPLE_RATE } from "./js/pcm.js";

const T = (window.__realtime_nb_trace ??= []);
const wall = () => performance.timeOrigin + performance.now();
const st = {
  ws: null, ctx: null, player: null, capture: null, stream: null, source: null, sink: null,
  micOffset: 0, received: new Map(), ended: new Set(), cut: new Set(), truncates: [], errors: [],
  nextId: 1, pending: new Map(), events: 0, ready: false,
};

function b64encode(bytes) {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  return btoa(s);
}
function b64decode(text) {
  const bin = atob(text);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}
const send = (ev) => st.ws.send(JSON.stringify(ev));

function interrupt() {
  return new Promise((resolve) => {
    const id = st.nextId++;
    st.pending.set(id, resolve);
    st.player.port.postMessage({ type: "interrupt", id });
  });
}

async function onEvent(ev) {
  st.events += 1;
  switch (ev.type) {
    case "response.output_audio.delta": {
      const at = wall();
      const bytes = b64decode(ev.delta);
      const pcm = new Int16Array(bytes.buffer, 0, bytes.length >> 1);
      const before = st.received.get(ev.item_id) ?? 0;
      T.push(["in", ev.item_id, before, pcm.length, at]);
      st.received.set(ev.item_id, before + pcm.length);
      if (st.cut.has(ev.item_id)) return;
      const data = pcm16ToFloat(pcm);
      st.player.port.postMessage({ type: "push", item: ev.item_id, data }, [data.buffer]);
      break;
    }
    case "response.output_audio.done":
      st.ended.add(ev.item_id);
      st.player.port.postMessage({ type: "end", item: ev.item_id });
      break;
    case "input_audio_buffer.speech_started": {
      T.push(["interrupt_msg", wall()]);
      for (const item of st.received.keys()) if (!st.ended.has(item)) st.cut.add(item);
      const r = await interrupt();
      const got = r.item_id ? (st.received.get(r.item_id) ?? 0) : 0;
      if (r.item_id && !(st.ended.has(r.item_id) && r.played_samples >= got)) {
        const audio_end_ms = Math.floor(Math.min(r.played_samples, got) * 1000 / SAMPLE_RATE);
        st.truncates.push({ item_id: r.item_id, audio_end_ms });
        send({ type: "conversation.item.truncate", item_id: r.item_id, content_index: 0, audio_end_ms });
      }
      break;
    }
    case "error":
      st.errors.push(ev.error);
      break;
  }
}

async function start(url) {
  st.ctx = new AudioContext({ sampleRate: SAMPLE_RATE, latencyHint: "interactive" });
  await st.ctx.audioWorklet.addModule("./js/player.worklet.js");
  await st.ctx.audioWorklet.addModule("./js/capture.worklet.js");
  st.player = new AudioWorkletNode(st.ctx, "realtime-nb-player", {
    numberOfInputs: 0, numberOfOutputs: 1, outputChannelCount: [1],
    processorOptions: { prebuffer: Math.round(0.1 * st.ctx.sampleRate), trace: true },
  });
  st.player.port.onmessage = (e) => {
    const m = e.data;
    if (m.type === "tick" && m.trace) for (const row of m.trace) T.push(row);
    else if (m.type === "interrupted") {
      const done = st.pending.get(m.id);
      st.pending.delete(m.id);
      done?.(m);
    }
  };
  st.player.connect(st.ctx.destination);
  await st.ctx.resume();
  st.ws = new WebSocket(url);
  await new Promise((ok, fail) => { st.ws.onopen = ok; st.ws.onerror = () => fail(new Error("websocket")); });
  st.ws.onmessage = (e) => onEvent(JSON.parse(e.data));
  st.ready = true;
  return { sampleRate: st.ctx.sampleRate, baseLatency: st.ctx.baseLatency, outputLatency: st.ctx.outputLatency };
}

async function startMic() {
  if (st.stream) return;
  const stream = await navigator.mediaDevices.getUserMedia({ audio: {
    echoCancellation: true, noiseSuppression: true, autoGainControl: true, channelCount: 1 }, video: false });
  const node = new AudioWorkletNode(st.ctx, "realtime-nb-capture", {
    numberOfInputs: 1, numberOfOutputs: 1, outputChannelCount: [1],
    processorOptions: { chunk: Math.round(0.04 * st.ctx.sampleRate), trace: true },
  });
  node.port.onmessage = (e) => {
    const m = e.data;
    if (m.type !== "chunk" || !st.ws || st.ws.readyState !== 1) return;
    const pcm = floatToPcm16(m.data);
    T.push(["mic", st.micOffset, pcm.length, m.at]);
    st.micOffset += pcm.length;
    send({ type: "input_audio_buffer.append", audio: b64encode(new Uint8Array(pcm.buffer)) });
  };
  const source = st.ctx.createMediaStreamSource(stream);
  const sink = st.ctx.createGain();
  sink.gain.value = 0;
  source.connect(node);
  node.connect(sink);
  sink.connect(st.ctx.destination);
  Object.assign(st, { stream, capture: node, source, sink });
}

function stopMic() {
  for (const t of st.stream?.getTracks() ?? []) t.stop();
  st.capture?.port.postMessage({ type: "stop" });
  if (st.capture) st.capture.port.onmessage = null;
  st.source?.disconnect();
  st.capture?.disconnect();
  st.sink?.disconnect();
  st.stream = st.capture = st.source = st.sink = null;
}

function stats() {
  return { micOn: Boolean(st.stream), micOffset: st.micOffset, events: st.events, truncates: st.truncates,
           errors: st.errors, ctxState: st.ctx?.state };
}

window.rtDirect = { start, startMic, stopMic, stats };
window.rtDirectLoaded = true;
"""


class DirectPage:
    """The baseline: a plain page talking straight to the local server (see ``DIRECT_JS``)."""

    def __init__(self, browser: Any, folder: Path, static: StaticServer | None = None) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "index.html").write_text(DIRECT_HTML)
        (folder / "direct.js").write_text(DIRECT_JS)
        link = folder / "js"
        if not link.exists():
            try:
                link.symlink_to(ROOT / "js", target_is_directory=True)
            except OSError:
                shutil.copytree(ROOT / "js", link)
        self.static = static or StaticServer(folder).__enter__()
        self._own_static = static is None
        self.context = browser.new_context()
        self.context.grant_permissions(["microphone"], origin=self.static.origin)
        self.context.add_init_script(INIT_TRACE)
        self.page = self.context.new_page()
        self.console: list[str] = []
        self.page.on("console", lambda m: self.console.append(f"[{m.type}] {m.text}"))
        self.page.on("pageerror", lambda e: self.console.append(f"[pageerror] {e}"))

    def open(self, server_ws_base: str, model: str, timeout: float = 30.0) -> dict[str, Any]:
        self.model = model
        self.page.goto(self.static.origin + "/index.html", wait_until="load")
        self.page.wait_for_function("() => window.rtDirectLoaded === true", timeout=timeout * 1000)
        return self.page.evaluate("(url) => window.rtDirect.start(url)",  # type: ignore[no-any-return]
                                  f"{server_ws_base}/realtime?model={model}")

    def set_mic(self, on: bool) -> None:
        self.page.evaluate("() => window.rtDirect.startMic()" if on else "() => window.rtDirect.stopMic()")

    def stats(self) -> dict[str, Any]:
        return self.page.evaluate("() => window.rtDirect.stats()")  # type: ignore[no-any-return]

    def drain(self) -> list[list[Any]]:
        return self.page.evaluate("() => (window.__realtime_nb_trace || []).splice(0)")  # type: ignore[no-any-return]

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.context.close()
        if self._own_static:
            self.static.__exit__(None, None, None)


# -- labs ------------------------------------------------------------------------------------------------

# Bench-only diagnostic loaded into a lab's jupyter_server (a Python config file in its temporary config
# dir): when the server takes each widget audio / interrupt message off the kernel's ZMQ socket and has
# written it to the browser's WebSocket, and when it takes each mic message off the WebSocket.
_SERVER_PROBE = '''
import json, time
from jupyter_server.services.kernels.connection.base import deserialize_msg_from_ws_v1
from jupyter_server.services.kernels.connection.channels import ZMQChannelsWebsocketConnection as _Conn

_bench_file = open(BENCH_PROBE_PATH, "a", buffering=1)


def _bench_content(parts):
    for part in parts:
        b = part if isinstance(part, bytes) else bytes(part)
        if b[:1] == b"{" and b'"comm_id"' in b and (b'"audio"' in b or b'"interrupt"' in b):
            c = json.loads(b).get("data", {}).get("content", {})
            if isinstance(c, dict) and c.get("type") in ("audio", "interrupt"):
                return c
    return None


_bench_out = _Conn.handle_outgoing_message
def _bench_handle_outgoing(self, stream, outgoing_msg):
    t0 = time.time() * 1000
    result = _bench_out(self, stream, outgoing_msg)
    t1 = time.time() * 1000
    c = _bench_content(outgoing_msg)
    if c is not None:
        _bench_file.write(json.dumps(["out", t0, t1, c["type"], c.get("item_id"), c.get("samples")]) + "\\n")
    return result
_Conn.handle_outgoing_message = _bench_handle_outgoing

_bench_in = _Conn.handle_incoming_message
def _bench_handle_incoming(self, incoming_msg):
    t = time.time() * 1000
    result = _bench_in(self, incoming_msg)
    try:
        if isinstance(incoming_msg, bytes) and b'"audio"' in incoming_msg:
            c = _bench_content(deserialize_msg_from_ws_v1(incoming_msg)[1])
            if c is not None and c["type"] == "audio":
                _bench_file.write(json.dumps(["in", t, c.get("samples")]) + "\\n")
    except Exception:
        pass
    return result
_Conn.handle_incoming_message = _bench_handle_incoming
'''


def server_probe_rows(path: Path) -> list[list[Any]]:
    """What ``make_lab(..., probe=True)``'s jupyter_server recorded."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def make_lab(home: Path, server_url: str, *, nodelay: bool = True, probe: bool = False) -> Lab:
    """A ``Lab`` whose kernels use ``server_url``; ``nodelay=False`` disables the package's TCP_NODELAY
    server extension in the lab's own (temporary) Jupyter config directory (``nodelay_state`` checks
    the lab's log once it runs)."""
    lab = Lab(home, env_extra={"REALTIME_NB_URL": server_url})
    env = lab._prepare()
    if not nodelay:
        # The user-level config (the lab's own temporary JUPYTER_CONFIG_DIR) overrides the environment's
        # sys.prefix file that enables the extension. (`jupyter server extension disable` would write to
        # sys.prefix in this environment: the shared config every other Jupyter here reads.)
        path = Path(env["JUPYTER_CONFIG_DIR"]) / "jupyter_server_config.json"
        config = json.loads(path.read_text()) if path.exists() else {}
        config.setdefault("ServerApp", {}).setdefault("jpserver_extensions", {})[NODELAY_EXTENSION] = False
        path.write_text(json.dumps(config, indent=2))
    if probe:  # lab.home / "server_probe.jsonl", read with server_probe_rows
        (Path(env["JUPYTER_CONFIG_DIR"]) / "jupyter_server_config.py").write_text(
            f"BENCH_PROBE_PATH = {str(home / 'server_probe.jsonl')!r}\n" + _SERVER_PROBE)
    return lab


def start_labs(labs: Sequence[Lab], timeout: float = 120.0) -> None:
    """Start several labs at once (each ``start`` blocks until ``/api/status`` answers)."""
    errors: list[BaseException] = []

    def run(lab: Lab) -> None:
        try:
            lab.start(timeout)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(lab,)) for lab in labs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        for lab in labs:
            lab.stop()
        raise errors[0]


def nodelay_state(lab: Lab) -> str:
    """What the lab's log says about the TCP_NODELAY extension: "enabled", "disabled" or "not loaded"."""
    log = lab.log_path.read_text(errors="replace") if lab.log_path.exists() else ""
    if "TCP_NODELAY on kernel websockets enabled" in log:
        return "enabled"
    if "TCP_NODELAY on kernel websockets disabled" in log:
        return "disabled"
    return "not loaded"


def launch_browser(pw: Any, mic_wav: Path) -> Any:
    return pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=chromium_args(mic_wav))


def proc_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process (all its threads) from ``/proc/<pid>/stat``."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- matching trace rows to server records -------------------------------------------------------------

def match_by_offset(starts: Sequence[int], lengths: Sequence[int], offset: int) -> int | None:
    """Index of the span (sorted ``starts`` with ``lengths``) that contains sample ``offset``."""
    i = bisect.bisect_right(starts, offset) - 1
    if i >= 0 and offset < starts[i] + lengths[i]:
        return i
    return None


def latencies_in(browser_rows: Sequence[Sequence[Any]], server_rows: Sequence[tuple[float, int, int]],
                 offset_ms: float) -> list[float]:
    """Mic chunk → server: for each browser ``["mic", offset, n, at]`` row, the arrival time of the
    append holding its first sample minus ``at`` (browser time + ``offset_ms`` = server clock)."""
    starts = [r[1] for r in server_rows]
    lengths = [r[2] for r in server_rows]
    out = []
    for _kind, offset, _n, at in browser_rows:
        i = match_by_offset(starts, lengths, int(offset))
        if i is not None and at is not None:
            out.append(server_rows[i][0] - (at + offset_ms))
    return out


def latencies_out(server_rows: Sequence[tuple[float, str, int, int]], browser_rows: Sequence[Sequence[Any]],
                  offset_ms: float, *, t_index: int = 4, start: float = -1e300, end: float = 1e300) -> list[float]:
    """Server delta → browser: for each delta sent in ``[start, end)``, the time the browser row
    (``[kind, item, offset, n, at, ...]``) holding the delta's first sample arrived, minus the send time."""
    spans: dict[str, tuple[list[int], list[int], list[float]]] = {}
    for row in sorted(browser_rows, key=lambda r: (r[1], r[2])):
        s = spans.setdefault(row[1], ([], [], []))
        s[0].append(int(row[2]))
        s[1].append(int(row[3]))
        s[2].append(float(row[t_index]))
    out = []
    for t, item, offset, _n in server_rows:
        if not (start <= t < end) or item not in spans:
            continue
        starts, lengths, times = spans[item]
        i = match_by_offset(starts, lengths, offset)
        if i is not None:
            out.append(times[i] + offset_ms - t)
    return out


def make_mic(path: Path, segments: Sequence[tuple[str, Any]]) -> MicScript:
    return write_fake_mic(path, segments)

