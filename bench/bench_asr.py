"""Word error rate of the local server's speech recognizer (pocketsphinx, en-us) on generated speech.

24 everyday utterances (commands, questions, numbers, names) are spoken by the project's own TTS
(espeak-ng) in several GA voices, put between short silences with a -60 dBFS noise floor
(tests/speechgen.py), and recognized with ``realtime_nb.server.stt.transcribe``. In the same run the
recognizer is also measured **without** its added noise floor (the baseline the preprocessing is
judged against), and the decode time is reported as a real-time factor.

Formant-synthesized speech is hard for an acoustic model trained on human voices, so these figures
are a floor, not what a person speaking into a microphone gets; what they do show is how the voices
and the preprocessing compare. WER = (substitutions + deletions + insertions) / reference words,
case-insensitive, on words only.

Run: ``python bench/bench_asr.py [--quick] [--voices alloy,ash]``. Prints tables, writes
``bench/results/bench_asr.json``. Asserts nothing.
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

from realtime_nb.server import stt

UTTERANCES = [
    "What is my horoscope for Aquarius today",
    "Turn on the lights in the kitchen",
    "I would like to order a pizza",
    "Set a timer for ten minutes",
    "How is the weather in Paris",
    "Please tell me a joke about cats",
    "Can you read me the news",
    "The quick brown fox jumps over the lazy dog",
    "Call my mother on her mobile phone",
    "What time is it in New York",
    "Play some music in the living room",
    "Remind me to buy milk tomorrow morning",
    "How many days are there in a year",
    "Book a table for two at seven",
    "Send a message to John",
    "What is the capital of France",
    "Turn the volume down a little",
    "I need help with my account",
    "Where is the nearest train station",
    "Close the door and open the window",
    "My favorite color is blue",
    "Thank you very much for your help",
    "Start the car and drive home",
    "Is it going to rain this afternoon",
]
VOICES = ["alloy", "ash", "coral", "sage", "cedar"]


def edit_ops(reference: str, hypothesis: str) -> tuple[int, int, int, int]:
    """(substitutions, deletions, insertions, reference words) of the best word alignment."""
    r, h = reference.lower().split(), hypothesis.lower().split()
    # cost table holding (total, subs, dels, ins), filled row by row
    prev = [(j, 0, 0, j) for j in range(len(h) + 1)]
    for i in range(1, len(r) + 1):
        cur = [(i, 0, i, 0)]
        for j in range(1, len(h) + 1):
            same = r[i - 1] == h[j - 1]
            d, s_, i_ = prev[j - 1], prev[j], cur[j - 1]
            options = [(d[0] + (not same), d[1] + (not same), d[2], d[3]),
                       (s_[0] + 1, s_[1], s_[2] + 1, s_[3]),
                       (i_[0] + 1, i_[1], i_[2], i_[3] + 1)]
            cur.append(min(options))
        prev = cur
    _, subs, dels, ins = prev[-1]
    return subs, dels, ins, len(r)


def run(voices: list[str], texts: list[str]) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    for voice in voices:
        for k, text in enumerate(texts):
            pcm, _ = make_utterance([("silence", 300), ("speech", text), ("silence", 300)], voice=voice, seed=k)
            row: dict[str, Any] = {"voice": voice, "reference": text, "audio_s": len(pcm) / 24000}
            for mode, dither in (("ours", stt.DITHER_DB), ("no_noise_floor", None)):
                original = stt.DITHER_DB
                stt.DITHER_DB = dither if dither is not None else 300.0  # 300 dB below: effectively none
                try:
                    t0 = time.perf_counter()
                    hyp = stt.transcribe(pcm)
                    seconds = time.perf_counter() - t0
                finally:
                    stt.DITHER_DB = original
                subs, dels, ins, n = edit_ops(text, hyp)
                row[mode] = {"hypothesis": hyp, "subs": subs, "dels": dels, "ins": ins, "words": n,
                             "decode_s": seconds}
            rows.append(row)
            print(f"{voice:7s} {row['ours']['hypothesis']!r:55s} <- {text!r}", flush=True)
    return {"rows": rows}


def wer(rows: list[dict[str, Any]], mode: str) -> float:
    errors = sum(r[mode]["subs"] + r[mode]["dels"] + r[mode]["ins"] for r in rows)
    return errors / max(1, sum(r[mode]["words"] for r in rows))


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = parser(__doc__.split("\n")[0])
    p.add_argument("--voices", default=",".join(VOICES), help="comma-separated GA voices")
    args = p.parse_args(argv)
    if not stt.available():
        raise SystemExit("pocketsphinx is not installed: pip install realtime-nb[speech]")
    voices = args.voices.split(",")[: 2 if args.quick else None]
    texts = UTTERANCES[:4] if args.quick else UTTERANCES
    stt.transcribe(np.zeros(24000, np.int16))  # load the model outside the timings
    result = run(voices, texts)
    rows = result["rows"]
    per_voice = []
    for voice in voices:
        mine = [r for r in rows if r["voice"] == voice]
        per_voice.append([voice, len(mine), sum(r["ours"]["words"] for r in mine), wer(mine, "ours"),
                          wer(mine, "no_noise_floor"), wer(mine, "ours") / max(1e-9, wer(mine, "no_noise_floor"))])
    per_voice.append(["all", len(rows), sum(r["ours"]["words"] for r in rows), wer(rows, "ours"),
                      wer(rows, "no_noise_floor"), wer(rows, "ours") / max(1e-9, wer(rows, "no_noise_floor"))])
    print()
    table(["voice", "utterances", "words", "WER", "WER no floor (baseline)", "ratio"], per_voice,
          title="Word error rate, pocketsphinx en-us on espeak-ng speech")
    rtf = [r["ours"]["decode_s"] / r["audio_s"] for r in rows]
    perfect = sum(1 for r in rows if r["ours"]["subs"] + r["ours"]["dels"] + r["ours"]["ins"] == 0)
    s = summary(rtf)
    print(f"\nreal-time factor (decode s / audio s): median {s['median']:.3f}, p99 {s['p99']:.3f}; "
          f"{perfect}/{len(rows)} utterances recognized exactly")
    totals = {k: sum(r["ours"][k] for r in rows) for k in ("subs", "dels", "ins", "words")}
    data = {"config": {"quick": args.quick, "voices": voices, "dither_db": stt.DITHER_DB,
                       "decoder_options": stt.DECODER_OPTIONS},
            "voices": voices, "utterances": texts, "wer": wer(rows, "ours"),
            "wer_without_noise_floor": wer(rows, "no_noise_floor"), "per_voice": per_voice, "totals": totals,
            "exact": perfect, "real_time_factor": s, "rows": rows}
    write_result("bench_asr", data, args.out_dir)
    return data


if __name__ == "__main__":
    main()
