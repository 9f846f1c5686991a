"""Each speech engine's time to first audio, synthesis speed and round-trip intelligibility, in one run.

For every engine (hibari's "heart" renderings, espeak-ng; the babble fallback as the floor) and 30 sentences
of everyday speech: the time to synthesize the first sentence of a reply (the server speaks sentence by
sentence, so that is its time to first audio on top of the brain), the real-time factor, and the word error
rate of Whisper (the server's recognizer) on the audio: a round trip text -> speech -> text, with the same
normalisation as ``bench_asr.py``. Caches off: every call synthesizes.

Run: ``python bench/bench_tts.py [--quick]``; writes ``bench/results/bench_tts.json``. Asserts nothing.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import parser, summary, table, write_result
from bench_asr import UTTERANCES, edit_ops

from realtime_nb.server import hibari_tts, stt, tts

EXTRA = ["Sure, I can help with that.", "The meeting starts at half past nine on Tuesday.",
         "Please hold the line while I check your booking.", "It is twenty degrees and sunny in Lisbon.",
         "Your package will arrive tomorrow before noon.", "Let me read that back to you."]
SENTENCES = [u + "." for u in UTTERANCES] + EXTRA  # 30


def run(engine: str, voice: str, sentences: list[str]) -> dict[str, Any]:
    tts.synthesize("Warm up.", voice=voice, engine=engine)  # models loaded outside the timings
    first, rtf, errors, words = [], [], 0, 0
    for text in sentences:
        t0 = time.perf_counter()
        pcm = tts.synthesize(text, voice=voice, engine=engine)
        took = time.perf_counter() - t0
        first.append(took * 1000)
        rtf.append(took / max(len(pcm) / 24000, 1e-9))
        if engine != "fallback" and stt.backend() == "whisper":
            subs, dels, ins, n = edit_ops(text, stt.transcribe(pcm))
            errors, words = errors + subs + dels + ins, words + n
    return {"engine": engine, "voice": voice, "ttfa_ms": summary(first), "rtf": summary(rtf),
            "round_trip_wer": errors / words if words else None}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parser(__doc__.split("\n")[0]).parse_args(argv)
    sentences = SENTENCES[:5] if args.quick else SENTENCES
    old = tts.CACHE_MAX_ENTRIES
    tts.CACHE_MAX_ENTRIES = 0
    try:
        cases = []
        if hibari_tts.available():
            cases += [("hibari", v) for v in (["alloy"] if args.quick else hibari_tts.HIBARI_VOICES)]
        if tts.available():
            cases += [("espeak-ng", v) for v in (["coral"] if args.quick else ["alloy", "coral", "cedar"])]
        cases.append(("fallback", "alloy"))
        results = [run(engine, voice, sentences) for engine, voice in cases]
    finally:
        tts.CACHE_MAX_ENTRIES = old
    base = next(r for r in results if r["engine"] == "fallback")["ttfa_ms"]["median"]
    table(["engine", "voice", "first sentence ms (median)", "p99", "x fallback", "RTF median", "round-trip WER"],
          [[r["engine"], r["voice"], r["ttfa_ms"]["median"], r["ttfa_ms"]["p99"], r["ttfa_ms"]["median"] / base,
            r["rtf"]["median"], r["round_trip_wer"] if r["round_trip_wer"] is not None else float("nan")]
           for r in results],
          title=f"Speech synthesis per engine, {len(sentences)} sentences, caches off (one run)")
    data = {"config": {"quick": args.quick, "sentences": len(sentences)}, "results": results}
    write_result("bench_tts", data, args.out_dir)
    return data


if __name__ == "__main__":
    main()
