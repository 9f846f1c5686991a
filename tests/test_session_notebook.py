"""The Session's key flows inside a real Jupyter kernel (nbclient + ipykernel): blocking calls from cells,
top-level ``await`` on the kernel's own loop, handlers, tools, classification and rich display.

The kernel finds the test server through ``REALTIME_NB_URL`` (no ``url=`` in the notebook).
"""

from __future__ import annotations

import os

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

CELLS = [
    """
import threading
from typing import Literal
import numpy as np
import realtime_nb as rt
from realtime_nb.server import tts
s = rt.connect()
assert s.url.startswith(os.environ["REALTIME_NB_URL"]), s.url
""",
    # text turn (audio out) and text-only response
    """
r = s.say("What Prince album sold the most copies?")
assert r.transcript == "You said: What Prince album sold the most copies?" and len(r.audio) > 0
t = s.say("text only", output_modalities=["text"])
assert t.text == "You said: text only" and len(t.audio) == 0
r
""",
    # top-level await runs on ipykernel's loop, the session on its own
    """
a = await s.asay("awaited in a cell", output_modalities=["text"])
b = await s.arespond(input=[], output_modalities=["text"])
assert a.text == "You said: awaited in a cell" and b.text.startswith("Hello!")
""",
    # the horoscope tool
    """
Sign = Literal["Aries", "Taurus", "Gemini", "Cancer", "Leo", "Virgo", "Libra", "Scorpio", "Sagittarius",
               "Capricorn", "Aquarius", "Pisces"]

@s.tool
def generate_horoscope(sign: Sign) -> dict:
    '''Give today's horoscope for an astrological sign.'''
    return {"horoscope": f"{sign}: next Tuesday you will befriend a baby otter."}

h = s.say("What is my horoscope? I am an aquarius.", output_modalities=["text"])
assert "baby otter" in h.text and h.previous.tool_calls[0]["name"] == "generate_horoscope", h.text
""",
    # out-of-band: classification (also from threads), item_reference context, metadata
    """
first = s.add_item({"type": "message", "role": "user",
                    "content": [{"type": "input_text", "text": "I need support with my printer"}]})
n = len(s.items)
assert s.classify("support or sales?", ["sales", "support"], metadata={"why": "nb"}) == "support"
results = {}
def worker(i):
    results[i] = s.classify(f"is it yes {i}?" if i % 2 else f"is it no {i}?", ["yes", "no"], context=None)
threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
[t.start() for t in threads]; [t.join() for t in threads]
assert results == {0: "no", 1: "yes", 2: "no", 3: "yes"}, results
o = s.respond(conversation="none", metadata={"topic": "pizza"}, output_modalities=["text"],
              input=[rt.ref(first), "Is pineapple ok?"])
assert o.text == "You said: Is pineapple ok?" and o.metadata == {"topic": "pizza"}
assert len(s.items) == n
""",
    # audio turns: VAD on (server default) and off
    """
speech = np.concatenate([np.zeros(7200, np.int16), tts.synthesize("hello from the notebook"),
                         np.zeros(7200, np.int16)])
v = s.send_audio(speech)
assert v.transcript.startswith("I heard "), v.transcript
s.update(turn_detection=None)
m = s.send_audio(speech, output_modalities=["text"])
assert m.text.startswith("I heard "), m.text
""",
    # errors: the seed's scooby.dooby.doo, and the voice locked after audio
    """
try:
    s.send({"event_id": "my_awesome_event", "type": "scooby.dooby.doo"})
    raise AssertionError("no error")
except rt.RealtimeError as exc:
    assert exc.event_id == "my_awesome_event"
try:
    s.update(voice="cedar")
    raise AssertionError("voice changed after audio")
except rt.RealtimeError as exc:
    assert exc.code == "cannot_update_voice"
""",
    # handlers: a broken one is reported, a blocking call inside one raises a clear error
    """
caught = []
done = threading.Event()
def broken(event):
    raise ValueError("oops")
def nested(event):
    try:
        s.say("nested")
    except RuntimeError as exc:
        caught.append(str(exc))
    done.set()
s.on("response.done", broken)
s.on("response.done", nested)
ok = s.say("handlers", output_modalities=["text"])
assert done.wait(5) and "event loop thread" in caught[0]
assert ok.text == "You said: handlers"
assert (s.events.type == "handler_error").any()
s.off()
""",
    # state as DataFrames, then close
    """
items, events, responses = s.items, s.events, s.responses
assert {"item_id", "role", "text", "audio_ms"} <= set(items.columns)
assert len(events) > 50 and (responses.conversation == "none").sum() >= 6
s.close()
s.close()
print("NOTEBOOK-OK", len(items), len(responses))
""",
]


def test_session_flows_in_a_jupyter_kernel(server, tmp_path, monkeypatch):
    monkeypatch.setenv("REALTIME_NB_URL", server.url)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import os")] + [nbformat.v4.new_code_cell(c.strip()) for c in CELLS]
    client = nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute(env={**os.environ})
    outputs = [o for cell in nb.cells for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    html = [o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    assert html and "<audio controls src='data:audio/wav;base64," in html[0]
    assert "You said: What Prince album sold the most copies?" in html[0]
    assert any("NOTEBOOK-OK" in o.get("text", "") for o in outputs)
