"""Time to first audio per brain: ``speech_stopped`` → first ``response.output_audio.delta``, over a socket.

A spoken turn (tests/speechgen.py: 500 ms silence, a sentence, 900 ms silence) is appended to a fresh
connection of a ``LocalServer`` (``server_vad`` with automatic responses, fast pace); a reader thread
stamps every event on arrival. Brains:

- ``echo``: the default brain ("I heard N seconds of audio.");
- ``echo+asr``: the same with ``audio.input.transcription`` on, so the response first waits for the
  pocketsphinx transcript ("You said: …");
- ``scripted``: a ScriptedBrain with a two-sentence reply; ``scripted-long``: an eight-sentence reply
  (speech is synthesized per sentence, so the first audio should not wait for the rest);
- ``chat``: the ChatBrain against the local fake chat-completions server (tests/fakellm.py), which
  streams at once; ``chat-slow``: the same server with 300 ms to the first token and 20 ms per token,
  like a small local model.

Baseline, measured in the same run on the same server: a **text-only** response (``response.create`` →
first ``response.output_text.delta``) for the same brain; the table gives TTFA as a ratio to it, and to
the echo brain's text baseline. Medians and p99 over the repeats.

Run: ``python bench/bench_ttfa.py [--quick] [--repeats N]``. Writes ``bench/results/bench_ttfa.json``.
"""

from __future__ import annotations

import contextlib
import json
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from _common import parser, ratio, summary, table, write_result
from fakellm import FakeLLM
from speechgen import make_utterance
from websockets.sync.client import connect

from realtime_nb import audio as au
from realtime_nb.server import LocalServer, ScriptedBrain, stt

TWO = "Sure, here is a scripted answer. It has two sentences."
LONG = " ".join(f"This is sentence number {k} of a long scripted answer." for k in range(1, 9))


class Stamped:
    """A websocket whose reader thread stamps each received event with ``time.perf_counter()``."""

    def __init__(self, url: str) -> None:
        self.ws = connect(f"{url}/realtime?model=gpt-realtime", additional_headers={"Authorization": "Bearer x"},
                          max_size=None)
        self.ws.__enter__()  # websockets >= 17.1 warns about connections used outside a context manager
        self.events: list[tuple[float, dict[str, Any]]] = []
        self.cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        with contextlib.suppress(Exception):
            while True:
                msg = self.ws.recv()
                t = time.perf_counter()
                with self.cond:
                    self.events.append((t, json.loads(msg)))
                    self.cond.notify_all()

    def send(self, event: dict[str, Any]) -> float:
        t = time.perf_counter()
        self.ws.send(json.dumps(event))
        return t

    def wait(self, type_: str, timeout: float = 60.0) -> float:
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for t, e in self.events:
                    if e["type"] == type_:
                        return t
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no {type_}; got {[e['type'] for _, e in self.events][-10:]}")
                self.cond.wait(left)

    def first(self, type_: str) -> float:
        return next(t for t, e in self.events if e["type"] == type_)

    def close(self) -> None:
        self.ws.close()


@contextlib.contextmanager
def servers(quick: bool) -> Iterator[dict[str, tuple[LocalServer, dict[str, Any]]]]:
    """Each brain's server and the session fields its connections set."""
    with contextlib.ExitStack() as stack:
        fast = stack.enter_context(FakeLLM(reply=lambda text: TWO))
        slow = stack.enter_context(FakeLLM(reply=lambda text: TWO, first_delay_s=0.3, delay_s=0.02))
        echo = stack.enter_context(LocalServer())
        out: dict[str, tuple[LocalServer, dict[str, Any]]] = {"echo": (echo, {})}
        if stt.available():
            out["echo+asr"] = (echo, {"audio": {"input": {"transcription": {"model": "gpt-4o-transcribe"}}}})
        out["scripted"] = (stack.enter_context(LocalServer(brain=ScriptedBrain([(r".*", TWO)]))), {})
        if not quick:
            out["scripted-long"] = (stack.enter_context(LocalServer(brain=ScriptedBrain([(r".*", LONG)]))), {})
        out["chat"] = (stack.enter_context(LocalServer(brain="chat", llm_url=fast.url, llm_model="fake")), {})
        if not quick:
            out["chat-slow"] = (stack.enter_context(LocalServer(brain="chat", llm_url=slow.url, llm_model="fake")),
                                {})
        yield out


def spoken_turn(url: str, session: dict[str, Any], pcm: Any) -> float:
    c = Stamped(url)
    try:
        c.wait("session.created")
        if session:
            c.send({"type": "session.update", "session": {"type": "realtime", **session}})
            c.wait("session.updated")
        for i in range(0, len(pcm), 2400):
            c.send({"type": "input_audio_buffer.append", "audio": au.b64encode_pcm16(pcm[i:i + 2400])})
        c.wait("response.done")
        return c.first("response.output_audio.delta") - c.first("input_audio_buffer.speech_stopped")
    finally:
        c.close()


def text_turn(url: str) -> float:
    c = Stamped(url)
    try:
        c.wait("session.created")
        c.send({"type": "conversation.item.create", "item": {
            "type": "message", "role": "user", "content": [{"type": "input_text", "text": "What is the time?"}]}})
        c.wait("conversation.item.done")
        t0 = c.send({"type": "response.create", "response": {"output_modalities": ["text"]}})
        c.wait("response.done")
        return c.first("response.output_text.delta") - t0
    finally:
        c.close()


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = parser(__doc__.split("\n")[0])
    p.add_argument("--repeats", type=int, default=None, help="turns per brain (default 15, --quick 3)")
    args = p.parse_args(argv)
    repeats = args.repeats or (3 if args.quick else 15)
    pcm, _ = make_utterance([("silence", 500), ("speech", "What is my horoscope for Aquarius today"),
                             ("silence", 900)])
    results: dict[str, Any] = {}
    with servers(args.quick) as configs:
        for server, session in configs.values():  # warm up: model loads, first synthesis
            spoken_turn(server.url, session, pcm)
            text_turn(server.url)
        for name, (server, session) in configs.items():
            ttfa, text = [], []
            for _ in range(repeats):  # interleaved, so drift hits both alike
                ttfa.append(1000 * spoken_turn(server.url, session, pcm))
                text.append(1000 * text_turn(server.url))
            results[name] = {"ttfa_ms": summary(ttfa), "text_first_delta_ms": summary(text)}
            print(f"{name:14s} ttfa median {results[name]['ttfa_ms']['median']:7.1f} ms", flush=True)
    echo_text = results["echo"]["text_first_delta_ms"]["median"]
    rows = []
    for name, r in results.items():
        t, b = r["ttfa_ms"], r["text_first_delta_ms"]
        r["ttfa_over_text_baseline"] = ratio(t["median"], b["median"])
        r["ttfa_over_echo_text_baseline"] = ratio(t["median"], echo_text)
        rows.append([name, t["n"], t["median"], t["p99"], b["median"], b["p99"], r["ttfa_over_text_baseline"],
                     r["ttfa_over_echo_text_baseline"]])
    print()
    table(["brain", "turns", "TTFA med ms", "TTFA p99", "text baseline med ms", "text p99", "TTFA/text",
           "TTFA/echo text"], rows, title="Time to first audio: speech_stopped -> first response.output_audio.delta")
    out = {"config": {"quick": args.quick, "repeats": repeats},
           "repeats": repeats, "reply_two_sentences": TWO, "reply_long": LONG, "results": results}
    write_result("bench_ttfa", out, args.out_dir)
    return out


if __name__ == "__main__":
    main()
