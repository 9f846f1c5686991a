"""Every example notebook runs top to bottom in a real kernel, offline, and says what it should.

Each notebook is executed by nbclient in a scratch copy of ``notebooks/`` with no API key (so sessions use
the embedded local server); then checks run in the same kernel and on the saved outputs.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"

CHECKS = {
    "01_quickstart.ipynb": """
assert r.transcript == "You said: What Prince album sold the most copies?", r.transcript
assert r.audio_seconds > 0.5 and r.status == "completed"
assert r2.text == "You said: And which one came first?"
assert list(s.items.role) == ["user", "assistant", "user", "assistant"]
""",
    "02_audio_files.ipynb": """
import os
assert os.path.getsize("reply.wav") > 44 + 24000
assert r.transcript.startswith("I heard "), r.transcript
assert (s.items.role == "user").sum() == 2 and s.items.audio_ms.max() > 1000
""",
    "03_function_calling.ipynb": """
import json
assert r.previous.tool_calls[0]["name"] == "generate_horoscope"
assert json.loads(r.previous.tool_calls[0]["arguments"]) == {"sign": "Aquarius"}
assert "Aquarius: you will soon meet a new friend." in r.text
assert list(s.items.type) == ["message", "function_call", "function_call_output", "message"]
""",
    "04_out_of_band.ipynb": """
assert label == "support"
assert r.text == "I'm a little teapot, short and stout!"
assert list(rt_session.items.role) == ["user", "assistant", "assistant"]
oob = rt_session.responses[rt_session.responses.conversation == "none"]
assert len(oob) >= 3 and {"topic": "pizza"} in list(oob.metadata)
assert "You said: Is it okay to put pineapple on pizza?" in list(oob.text)
""",
    "05_inspecting_state.ipynb": """
import math
assert len(s.responses) == 3
audio_turn = s.responses.iloc[-1]
assert audio_turn.output_modalities == ["audio"] and not math.isnan(audio_turn.speech_to_first_audio)
assert s.items.loc[s.items.item_id == assistant, "truncated_at_ms"].iloc[0] == 400
assert s.items.loc[s.items.item_id == assistant, "audio_ms"].iloc[0] == 400
assert (s.events.type == "error").sum() == 0
""",
    "07_transcription.ipynb": """
text = " ".join(rows.text).lower()
assert "budget report" in text and "before lunch" in text, text
assert (rows.status == "completed").all() and rows.start_ms.is_monotonic_increasing
assert len(manual) == 3 and (manual.status == "completed").all(), manual
assert "laptop" in manual.text.iloc[1].lower(), manual.text.iloc[1]
assert captions.closed
""",
    "06_local_server.ipynb": """
assert server._server is None  # stopped by the last cell
""",
}

OUTPUT_CHECKS = {
    "01_quickstart.ipynb": ["<audio", "You said: What Prince album sold the most copies?"],
    "04_out_of_band.ipynb": ["My printer is broken", "'support'"],
    "06_local_server.ipynb": ["The echo brain repeats this.", "It is always sunny inside a notebook.",
                              "You said: Hi from the SDK", "France has a lovely capital"],
}


def _text_of(nb) -> str:
    out = []
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            out.append(o.get("text", ""))
            for value in (o.get("data") or {}).values():
                out.append(value if isinstance(value, str) else "")
    return "\n".join(out)


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_notebook_runs_offline(name, tmp_path, monkeypatch):
    for var in ("OPENAI_API_KEY", "REALTIME_NB_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    work = tmp_path / "nb"
    shutil.copytree(NOTEBOOKS, work)
    nb = nbformat.read(work / name, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(CHECKS[name]))
    client = NotebookClient(nb, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(work)}})
    client.execute(env={**os.environ})
    text = _text_of(nb)
    assert "Traceback" not in text
    for needle in OUTPUT_CHECKS.get(name, []):
        assert needle in text, f"{needle!r} not in the outputs of {name}"
