"""``realtime-nb demo``: a whole conversation in the terminal, no browser, no key needed.

Starts the embedded local server (unless ``OPENAI_API_KEY`` or ``REALTIME_NB_URL`` point elsewhere and
``--local`` is not given), then runs a text turn, a spoken turn from a WAV, the horoscope tool call and
an out-of-band classification, and prints a compact transcript and the items table.
"""

from __future__ import annotations

import os
import tempfile
import time
from typing import Any, Literal

SIGNS = Literal["Aries", "Taurus", "Gemini", "Cancer", "Leo", "Virgo", "Libra", "Scorpio", "Sagittarius",
                "Capricorn", "Aquarius", "Pisces"]


def generate_horoscope(sign: SIGNS) -> dict[str, str]:
    """Give today's horoscope for an astrological sign.

    Args:
        sign: The sign for the horoscope.
    """
    return {"sign": sign, "horoscope": f"{sign}: you will soon meet a new friend."}


def _speech_wav(path: str, text: str) -> float:
    import numpy as np

    from . import audio
    from .server import tts

    pcm = tts.synthesize(text, voice="ash")
    pad = np.zeros(24000 // 2, dtype=np.int16)
    audio.write_wav(path, np.concatenate([pad, pcm, pad]))
    return (len(pcm) + 2 * len(pad)) / 24000


def run(*, local: bool = False, out: Any = print) -> int:
    import realtime_nb as rt

    url = None
    server = None
    if local:
        server = rt.LocalServer().start()
        url = server.url
    t0 = time.perf_counter()
    with rt.connect(url=url, output_modalities=["text"]) as s:
        out(f"connected: {s!r}\n")

        r = s.say("What Prince album sold the most copies?")
        took = (r.time_to_done or 0) * 1000
        out(f"you   > What Prince album sold the most copies?\nmodel > {r.text}   [{took:.0f} ms]")

        with tempfile.TemporaryDirectory() as tmp:
            wav = os.path.join(tmp, "question.wav")
            seconds = _speech_wav(wav, "Hello, how are you today")
            # spoken reply; the user's speech is transcribed (offline: pocketsphinx) for the brain to read
            s.update(output_modalities=["audio"], input_audio_transcription={"model": "whisper-1"})
            spoken = s.send_audio(wav)
            s.update(output_modalities=["text"], input_audio_transcription=None)
        if spoken is None:
            raise RuntimeError("the spoken turn produced no response")
        out(f"you   > (spoken, {seconds:.1f} s from a WAV)\nmodel > (spoken, {spoken.audio_seconds:.1f} s) "
            f"{spoken.transcript}")

        s.tool(generate_horoscope)
        r = s.say("What is my horoscope? I am an aquarius.")
        calls = r.previous.tool_calls if r.previous is not None else []
        for call in calls:
            out(f"tool  > {call['name']}({call['arguments']})")
        out(f"you   > What is my horoscope? I am an aquarius.\nmodel > {r.text}")

        label = s.classify("Is the user asking about astrology or about music?", ["astrology", "music"])
        out(f"classify (out-of-band) > {label}\n")

        items = s.items[["item_id", "type", "role", "text", "audio_ms", "name"]]
        with _pandas_wide():
            out(items.to_string(index=False, max_colwidth=48))
        out(f"\n{len(s.items)} items, {len(s.events)} events, {len(s.responses)} responses in "
            f"{time.perf_counter() - t0:.1f} s")
    if server is not None:
        server.stop()
    return 0


class _pandas_wide:
    def __enter__(self) -> None:
        import pandas as pd

        self._ctx = pd.option_context("display.width", 160, "display.max_columns", 20)
        self._ctx.__enter__()

    def __exit__(self, *exc: object) -> None:
        self._ctx.__exit__(*exc)
