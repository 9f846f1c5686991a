"""Does listening stall the server? The gaps between one session's real-time audio deltas while another is transcribed.

Session A asks the local server (``pace="realtime"``: one 100 ms ``response.output_audio.delta`` every
100 ms) for about 12 s of speech and timestamps each audio delta as its frame arrives. Meanwhile session B
sends a 7.9 s spoken utterance and commits it, with transcription on, again and again until A's response
is done. The figure is the gap between A's consecutive deltas: its p99 and maximum with B transcribing,
against the same with B idle (the baseline), in the same run, per recognizer:

- ``whisper``: the default, decoded in a worker thread (CTranslate2 releases the GIL);
- ``pocketsphinx``: decoded in its worker process;
- ``pocketsphinx-in-process``: the old way, for reference: the same decoder in a worker thread of the
  server's process, where it holds the GIL for the whole decode.

The client runs in the server's process, as with the notebook's embedded server. Goal (issue 16): at most
20 ms added at p99. Run: ``python bench/bench_stt_stall.py [--quick]``; writes
``bench/results/bench_stt_stall.json``. Asserts nothing.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from _common import parser, percentile, table, write_result
from speechgen import make_utterance
from websockets.sync.client import connect

from realtime_nb import audio as au
from realtime_nb.server import LocalServer, sphinx, stt

SPEECH = ("The quick brown fox jumps over the lazy dog near the river bank. She sells sea shells by the sea shore "
          "every single summer morning. Peter Piper picked a peck of pickled peppers from the garden. How much "
          "wood would a woodchuck chuck if a woodchuck could chuck wood all day long.")
UTTERANCE = ("What is my horoscope for Aquarius today, and will it rain in Paris this afternoon, or should I "
             "take the train to the seaside instead")


class InProcessSphinx(sphinx.SphinxRecognizer):
    """pocketsphinx decoded in the calling thread of the server's process: the old way (holds the GIL)."""

    name = "pocketsphinx-in-process"

    def transcribe(self, pcm16k: np.ndarray, **options: Any) -> str:  # type: ignore[override]
        return sphinx.sentence_case(sphinx.decode(pcm16k.astype("<i2").tobytes()).split())


def _open(url: str) -> Any:
    ws = connect(f"{url}/realtime?model=gpt-realtime", additional_headers={"Authorization": "Bearer x"},
                 max_size=None)
    json.loads(ws.recv())  # session.created
    return ws


def _speaker(url: str, arrivals: list[float], done: threading.Event) -> None:
    ws = _open(url)
    try:
        ws.send(json.dumps({"type": "response.create", "response": {
            "instructions": f"Say exactly the following: {SPEECH}"}}))
        while True:
            event = json.loads(ws.recv(timeout=60))
            if event["type"] == "response.output_audio.delta":
                arrivals.append(time.monotonic())
            elif event["type"] == "response.done":
                return
    finally:
        done.set()
        ws.close()


def _listener(url: str, pcm: np.ndarray, done: threading.Event, transcripts: list[str]) -> None:
    ws = _open(url)
    try:
        ws.send(json.dumps({"type": "session.update", "session": {"type": "realtime", "audio": {"input": {
            "turn_detection": None, "transcription": {"model": "whisper-1"}}}}}))
        while not done.is_set():
            for i in range(0, len(pcm), 24000):
                chunk = au.b64encode_pcm16(pcm[i:i + 24000])
                ws.send(json.dumps({"type": "input_audio_buffer.append", "audio": chunk}))
            ws.send(json.dumps({"type": "input_audio_buffer.commit"}))
            while True:
                event = json.loads(ws.recv(timeout=120))
                if event["type"] == "conversation.item.input_audio_transcription.completed":
                    transcripts.append(event["transcript"])
                    break
                if event["type"] == "conversation.item.input_audio_transcription.failed":
                    raise RuntimeError(event["error"]["message"])
    finally:
        ws.close()


def condition(server: LocalServer, pcm: np.ndarray | None) -> dict[str, Any]:
    arrivals: list[float] = []
    transcripts: list[str] = []
    done = threading.Event()
    threads = [threading.Thread(target=_speaker, args=(server.url, arrivals, done))]
    if pcm is not None:
        threads.append(threading.Thread(target=_listener, args=(server.url, pcm, done, transcripts)))
    for t in reversed(threads):
        t.start()
    if pcm is not None:
        time.sleep(0.3)  # the first utterance is on its way when the speech starts
    for t in threads:
        t.join(180)
    gaps = np.diff(arrivals) * 1000 if len(arrivals) > 1 else np.zeros(1)
    return {"deltas": len(arrivals), "gap_p99_ms": percentile(list(gaps), 99), "gap_max_ms": float(gaps.max()),
            "gap_median_ms": float(np.median(gaps)), "transcriptions": len(transcripts),
            "transcript": transcripts[0] if transcripts else None}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = parser(__doc__.split("\n")[0])
    args = p.parse_args(argv)
    pcm, _ = make_utterance([("silence", 200), ("speech", UTTERANCE), ("silence", 200)], voice="ash")
    backends = ["whisper", "pocketsphinx", "pocketsphinx-in-process"]
    if stt.backend() != "whisper":
        backends.remove("whisper")
    if not sphinx.available():
        backends = [b for b in backends if not b.startswith("pocketsphinx")]
    if args.quick:
        backends = backends[:1]
    stt._loaded["pocketsphinx-in-process"] = InProcessSphinx()
    results: dict[str, Any] = {}
    rows = []
    rounds = 1 if args.quick else 2
    for backend in backends:
        model = None if backend == "whisper" else backend
        stt.transcribe(pcm[:24000], model=model)  # loaded before the clock runs
        with LocalServer(pace="realtime", chunk_ms=100,
                         stt_model="pocketsphinx" if backend == "pocketsphinx" else None) as server:
            if backend == "pocketsphinx-in-process":
                server.stt_model = "pocketsphinx-in-process"  # a recognizer registered above, not a setting
            runs = []
            for _ in range(rounds):  # baseline and load interleaved, so drift hits both
                runs.append(("baseline", condition(server, None)))
                runs.append(("transcribing", condition(server, pcm)))
        base = [r for k, r in runs if k == "baseline"]
        load = [r for k, r in runs if k == "transcribing"]
        b99 = float(np.median([r["gap_p99_ms"] for r in base]))
        l99 = float(np.median([r["gap_p99_ms"] for r in load]))
        results[backend] = {"baseline": base, "transcribing": load, "added_p99_ms": l99 - b99}
        rows.append([backend, b99, l99, l99 - b99, max(r["gap_max_ms"] for r in base),
                     max(r["gap_max_ms"] for r in load), sum(r["transcriptions"] for r in load)])
        print(f"{backend}: {load[0]['transcript']!r}", flush=True)
    print()
    table(["recognizer", "gap p99 idle", "gap p99 transcribing", "added p99", "max idle", "max transcribing",
           "transcriptions"], rows,
          title="Gaps between one session's real-time audio deltas (ms) while another session is transcribed")
    data = {"config": {"quick": args.quick, "rounds": rounds, "utterance_s": len(pcm) / 24000}, "results": results}
    write_result("bench_stt_stall", data, args.out_dir)
    return data


if __name__ == "__main__":
    main()
