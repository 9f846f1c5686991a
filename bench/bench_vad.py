"""Speech boundary accuracy of the local server's VAD backends (webrtc, silero, energy) on known speech.

Each test signal (tests/speechgen.py) is ``700 ms silence, sentence, 1300 ms silence, sentence, 1000 ms
silence`` in one of several GA voices, so the true speech intervals are known to the sample. Three
conditions:

- ``clean``: the TTS level with a -60 dBFS white-noise floor;
- ``noisy``: speech at -25 dBFS RMS in -38 dBFS white noise (about 13 dB SNR);
- ``distractors``: clean speech, plus two loud non-speech sounds in the long gap, a 300 ms 1 kHz
  beep and a 300 ms burst of noise (like a door or a cough into the mic), both at -20 dBFS.

Every backend runs with ``prefix_padding_ms=0`` and ``silence_duration_ms=500`` (so a reported stop
minus 500 ms is the detected end of speech). Per backend and condition: median and p99 of the
absolute onset and end errors (ms), missed sentences, false detections (a detected segment that
overlaps no sentence), and the CPU time per second of audio as a ratio to the ``energy`` backend
(the baseline, measured in the same run).

Run: ``python bench/bench_vad.py [--quick]``. Prints tables, writes ``bench/results/bench_vad.json``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from _common import parser, summary, table, write_result
from speechgen import make_utterance

from realtime_nb.server.vad import VoiceActivityDetector, available_backends

PAIRS = [
    ("What is my horoscope for Aquarius today", "Turn on the lights"),
    ("I would like to order a pizza", "With extra cheese please"),
    ("Set a timer for ten minutes", "Thank you"),
    ("How is the weather in Paris", "And in London"),
    ("Please tell me a joke about cats", "That was funny"),
    ("Remind me to buy milk tomorrow morning", "Yes"),
]
VOICES = ["alloy", "coral", "cedar", "sage"]
SILENCE_MS = 500
RATE = 24000


def distractors(pcm: np.ndarray, at_ms: float) -> np.ndarray:
    """Add a 300 ms 1 kHz beep at ``at_ms`` and a 300 ms noise burst 500 ms later, both at -20 dBFS."""
    out = pcm.astype(np.float64)
    n = int(0.3 * RATE)
    amp = 32768 * 10 ** (-20 / 20)
    t = np.arange(n) / RATE
    beep = np.sin(2 * np.pi * 1000 * t) * amp * np.sqrt(2)
    burst = np.random.default_rng(7).standard_normal(n) * amp
    for sig, start in ((beep, at_ms), (burst, at_ms + 500)):
        i = int(start * RATE / 1000)
        out[i:i + n] += sig * np.hanning(n) ** 0.25
    return np.clip(np.rint(out), -32768, 32767).astype(np.int16)


def signals(condition: str, quick: bool) -> list[tuple[np.ndarray, list[tuple[float, float]]]]:
    out = []
    for v, voice in enumerate(VOICES[:2] if quick else VOICES):
        for k, (a, b) in enumerate(PAIRS[:2] if quick else PAIRS):
            segments = [("silence", 700), ("speech", a), ("silence", 1300), ("speech", b), ("silence", 1000)]
            kwargs: dict[str, Any] = {"voice": voice, "seed": 10 * v + k}
            if condition == "noisy":
                kwargs.update(level_dbfs=-25.0, noise_dbfs=-38.0)
            pcm, truth = make_utterance(segments, **kwargs)
            if condition == "distractors":
                pcm = distractors(pcm, truth[0][1] + 250)
            out.append((pcm, truth))
    return out


def detect(backend: str, pcm: np.ndarray) -> tuple[list[tuple[int, int]], float]:
    """Detected (start_ms, end_ms) segments and the CPU seconds it took (fed in 100 ms chunks)."""
    vad = VoiceActivityDetector(backend=backend, prefix_padding_ms=0, silence_duration_ms=SILENCE_MS)  # type: ignore[arg-type]
    events = []
    t0 = time.process_time()
    for i in range(0, len(pcm), 2400):
        events.extend(vad.feed(pcm[i:i + 2400]))
    cpu = time.process_time() - t0
    segments, start = [], None
    for e in events:
        if e.kind == "speech_started":
            start = e.audio_ms
        elif start is not None:
            segments.append((start, e.audio_ms - SILENCE_MS))
            start = None
    if start is not None:
        segments.append((start, len(pcm) * 1000 // RATE))
    return segments, cpu


def score(truth: list[tuple[float, float]], found: list[tuple[int, int]]) -> dict[str, Any]:
    onsets, ends, missed = [], [], 0
    used = set()
    for t0, t1 in truth:
        hits = [i for i, (s, e) in enumerate(found) if s < t1 and e > t0]
        if not hits:
            missed += 1
            continue
        used.update(hits)
        onsets.append(abs(found[hits[0]][0] - t0))
        ends.append(abs(found[hits[-1]][1] - t1))
    return {"onsets": onsets, "ends": ends, "missed": missed, "false": len(found) - len(used)}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parser(__doc__.split("\n")[0]).parse_args(argv)
    backends = [b for b in ("energy", "webrtc", "silero") if b in available_backends()]
    results: dict[str, Any] = {}
    rows = []
    for condition in ("clean", "noisy", "distractors"):
        data = signals(condition, args.quick)
        audio_s = sum(len(p) for p, _ in data) / RATE
        cpu_energy = None
        for backend in backends:
            onsets: list[float] = []
            ends: list[float] = []
            missed = false = 0
            cpu = 0.0
            for pcm, truth in data:
                found, seconds = detect(backend, pcm)
                cpu += seconds
                s = score(truth, found)
                onsets += s["onsets"]
                ends += s["ends"]
                missed += s["missed"]
                false += s["false"]
            cpu_per_s = cpu / audio_s
            if backend == "energy":
                cpu_energy = cpu_per_s
            so, se = summary(onsets), summary(ends)
            results[f"{condition}/{backend}"] = {
                "onset_abs_error_ms": so, "end_abs_error_ms": se, "sentences": 2 * len(data), "missed": missed,
                "false_detections": false, "cpu_ms_per_audio_s": 1000 * cpu_per_s,
                "cpu_ratio_to_energy": cpu_per_s / cpu_energy if cpu_energy else None}
            rows.append([condition, backend, 2 * len(data), so["median"], so["p99"], se["median"], se["p99"], missed,
                         false, 1000 * cpu_per_s, cpu_per_s / cpu_energy if cpu_energy else float("nan")])
    print()
    table(["condition", "backend", "sentences", "onset med ms", "onset p99", "end med ms", "end p99", "missed",
           "false", "CPU ms/audio s", "CPU x energy"], rows,
          title="VAD boundary errors (absolute, ms) on speech with known boundaries")
    out = {"config": {"quick": args.quick, "backends": backends},
           "silence_duration_ms": SILENCE_MS, "voices": VOICES, "pairs": PAIRS, "results": results}
    write_result("bench_vad", out, args.out_dir)
    return out


if __name__ == "__main__":
    main()
