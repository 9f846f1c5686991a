"""`realtime-nb demo` holds a whole conversation in the terminal, offline, and exits 0."""

from __future__ import annotations

import os
import subprocess
import sys


def test_demo_runs_offline():
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "REALTIME_NB_URL")}
    out = subprocess.run([sys.executable, "-m", "realtime_nb.cli", "demo"], capture_output=True, text=True,
                         timeout=180, env=env)
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "at embedded local server" in text
    assert "model > You said: What Prince album sold the most copies?" in text
    assert "tool  > generate_horoscope({\"sign\": \"Aquarius\"})" in text
    assert "classify (out-of-band) > astrology" in text
    assert "function_call_output" in text and "8 items" in text
