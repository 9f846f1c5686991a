"""pocketsphinx recognition (the en-us model its wheel ships), decoded in a worker process.

pocketsphinx holds the GIL for a whole decode (2.1 s for 7.9 s of speech): in the server's process it
would freeze every thread, the event loop and every other session with it. So ``SphinxRecognizer`` runs
it in one worker process (started on first use, restarted if it dies or hangs) and the calling thread
only waits for the answer, without the GIL.

How it decodes (in the worker):

- the audio arrives at 16 kHz, the acoustic model's rate;
- a faint, seeded white noise is added 30 dB below the speech level (the 90th percentile of the 20 ms
  frame levels). Digital silence and the sharp, empty spectra of synthesized speech make the log
  filter-bank features of an MFCC front end swing wildly; a noise floor like a real microphone's tames
  them (WER on noise-free espeak-ng audio 0.89 → 0.64). The same input gives the same transcript;
- the whole utterance is decoded in one pass (batch cepstral mean normalization), with the feature
  extraction reset first, so a transcript does not depend on what was decoded before.
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import select
import struct
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Callable
from typing import IO, Any

import numpy as np

__all__ = ["DECODER_OPTIONS", "DITHER_DB", "SphinxRecognizer", "available", "decode"]

RATE = 16000
DITHER_DB = 30.0
"""How far below the speech level (dB) the added noise floor sits."""
DECODER_OPTIONS: dict[str, Any] = {"fwdflat": False}
"""pocketsphinx options: skip the flat-lexicon second pass (WER 0.586 → 0.608 on the bench set, decode
time 102 s → 64 s)."""
_FRAME = RATE // 50  # 20 ms

_decoder: Any = None  # in the worker process


def available() -> bool:
    """Whether the pocketsphinx package is installed (its model ships inside the wheel)."""
    return importlib.util.find_spec("pocketsphinx") is not None


def _frame_levels(x: np.ndarray) -> np.ndarray:
    n = len(x) // _FRAME
    return np.sqrt(np.mean(x[: n * _FRAME].reshape(n, _FRAME) ** 2, axis=1)) if n else np.zeros(1)


def _with_noise_floor(pcm16k: np.ndarray, dither_db: float) -> np.ndarray:
    x = pcm16k.astype(np.float64)
    speech = float(np.percentile(_frame_levels(x), 90))
    noise = np.random.default_rng(len(x)).standard_normal(len(x)) * speech * 10 ** (-dither_db / 20)
    return np.clip(np.rint(x + noise), -32768, 32767).astype(np.int16)


def decode(pcm16k: bytes, dither_db: float = DITHER_DB) -> str:
    """Recognize 16 kHz int16 audio (runs in the worker process); returns lower-case words."""
    global _decoder
    if _decoder is None:
        from pocketsphinx import Decoder

        _decoder = Decoder(samprate=RATE, loglevel="FATAL", **DECODER_OPTIONS)
    data = _with_noise_floor(np.frombuffer(pcm16k, np.int16), dither_db).tobytes()
    _decoder.reinit_feat()  # forget the previous utterance's noise statistics: same input, same words
    _decoder.start_utt()
    _decoder.process_raw(data, False, True)
    _decoder.end_utt()
    hyp = _decoder.hyp()
    words = (hyp.hypstr if hyp is not None else "").split()
    # alternative pronunciations look like word(2); fillers like <sil> or [noise]
    return " ".join(w.split("(")[0] for w in words if not w.startswith(("<", "[")))


def sentence_case(words: list[str]) -> str:
    """``["i", "think", "so"]`` → ``"I think so"`` (the model writes lower case, no punctuation)."""
    words = ["I" if w == "i" else "I" + w[1:] if w.startswith("i'") else w for w in words]
    text = " ".join(words)
    return text[:1].upper() + text[1:]


class SphinxRecognizer:
    """pocketsphinx in one worker process; ``transcribe`` blocks only the calling thread (no GIL held).

    The worker is ``python -m realtime_nb.server.sphinx``, talking length-prefixed frames over its stdin
    and stdout: a plain subprocess rather than ``multiprocessing``, whose ``spawn`` re-imports the
    user's main script (a script that starts a server at top level would start it again in the worker).
    """

    name = "pocketsphinx"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        _ALIVE.add(self)

    def _worker(self) -> subprocess.Popen[bytes]:
        if self._proc is not None and self._proc.poll() is not None:
            self._kill()  # it died: close its pipes, start another
        if self._proc is None:
            self._proc = subprocess.Popen([sys.executable, "-m", "realtime_nb.server.sphinx"], stdin=subprocess.PIPE,
                                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        return self._proc

    def _call(self, payload: bytes, timeout: float) -> str:
        with self._lock:
            proc = self._worker()
            assert proc.stdin is not None and proc.stdout is not None
            try:
                proc.stdin.write(struct.pack("<I", len(payload)) + payload)
                proc.stdin.flush()
                reply = _read_frame(proc.stdout, time.monotonic() + timeout)
            except (OSError, TimeoutError, EOFError) as exc:
                self._kill()
                raise RuntimeError(f"the pocketsphinx worker failed ({type(exc).__name__}: {exc})") from None
        text = reply.decode("utf-8")
        if text.startswith("!"):
            raise RuntimeError(text[1:])
        return text

    def load(self, timeout: float = 60.0) -> None:
        """Start the worker and load the model (about a second); raises what loading raised."""
        self._call(np.zeros(RATE // 10, np.int16).tobytes(), timeout)

    def supports(self, language: str) -> bool:
        return language.lower().replace("_", "-") in ("en", "en-us", "en-gb")

    def transcribe(self, pcm16k: np.ndarray, *, language: str | None = None, prompt: str | None = None,
                   logprobs: bool = False, on_start: Callable[[], None] | None = None,
                   on_segment: Callable[[Any], None] | None = None) -> str:
        """Decode in the worker; at most 60 s plus three times the audio's length (a stuck worker is restarted)."""
        if on_start is not None:
            on_start()
        words = self._call(pcm16k.astype("<i2").tobytes(), 60 + 3 * len(pcm16k) / RATE)
        return sentence_case(words.split())

    def _kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                pipe.close()

    def close(self) -> None:
        with self._lock:
            self._kill()


_ALIVE: weakref.WeakSet[SphinxRecognizer] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    """End the workers at exit (they would end anyway when their stdin closes, but not before Python warns)."""
    for rec in list(_ALIVE):
        rec.close()


def _read_frame(stream: IO[bytes], deadline: float) -> bytes:
    fd = stream.fileno()
    buf = b""
    need = 4
    header = True
    while True:
        while len(buf) < need:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise TimeoutError("no answer in time")
            chunk = os.read(fd, need - len(buf))
            if not chunk:
                raise EOFError("the worker exited")
            buf += chunk
        if not header:
            return buf
        need, buf, header = struct.unpack("<I", buf)[0], b"", False
        if need == 0:
            return b""


def _serve_stdio() -> None:
    """The worker's loop: frames of 16 kHz int16 audio in, frames of words (or ``!error``) out."""
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    while True:
        header = stdin.read(4)
        if len(header) < 4:
            return
        payload = stdin.read(struct.unpack("<I", header)[0])
        try:
            text = decode(payload)
        except Exception as exc:  # report, keep serving
            text = f"!pocketsphinx failed: {type(exc).__name__}: {exc}"
        out = text.encode("utf-8")
        stdout.write(struct.pack("<I", len(out)) + out)
        stdout.flush()


if __name__ == "__main__":
    _serve_stdio()
