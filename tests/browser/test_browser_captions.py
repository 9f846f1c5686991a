"""The widget's caption mode in a real browser: ``rt.transcribe()`` shown in JupyterLab, Chromium's fake mic
(the looping recording of ``conftest.MIC_SEGMENTS``) → Start talking → live captions with its words.

Checks what a user sees: the caption view (not the conversation transcript), captions of the fake mic's
sentences with the right words, marked final once their transcription completed, the status pill going
through "Transcribing", the controls that do not apply hidden (Stop reply, typed turn, "show my words",
voice, turn mode), and no audio played (the player never got a sample; nothing was sent to it).
"""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.browser

SETUP = '''
import json
import realtime_nb as rt

s = rt.transcribe()
s
'''

SUMMARY = '''
ev = s.events
print(json.dumps({
    "texts": [t for t in s.transcripts["text"]],
    "received": ev[ev.direction == "received"].type.value_counts().to_dict(),
    "errors": ev[ev.type == "error"][["type", "error_code"]].to_dict("records"),
    "captions": s.widget.captions, "status": s.widget.status,
}, default=str))
'''

ROOT = "[data-testid=rtnb-root]"
_DEBUG_JS = """() => {
  const all = window.__realtime_nb_debug || {};
  for (const entry of Object.values(all)) if (entry.owner) return JSON.parse(JSON.stringify(entry.owner));
  return null;
}"""


def _debug(nb):
    return nb.page.evaluate(_DEBUG_JS) or {}


def _final_captions(nb) -> list[str]:
    return nb.page.locator(f"{ROOT} [data-testid=rtnb-caption][data-final=true]").all_inner_texts()


def test_captions_of_the_mic_appear_live_and_nothing_plays(open_notebook, rt_server):
    nb = open_notebook("captions_widget.ipynb", [SETUP, SUMMARY])
    nb.run_cell_and_wait(0, timeout=60)
    root = nb.page.locator(f"{ROOT}[data-ready=true][data-owner=true]")
    root.wait_for(timeout=30_000)
    assert root.get_attribute("data-captions") == "true"
    nb.page.locator(f"{ROOT} [data-testid=rtnb-captions-empty]").wait_for(timeout=5000)
    # the controls of a conversation are not there
    for testid in ("rtnb-stop-reply", "rtnb-composer", "rtnb-transcribe", "rtnb-transcript", "rtnb-out-level"):
        assert nb.page.locator(f"{ROOT} [data-testid={testid}]").is_hidden(), testid
    nb.page.locator(f"{ROOT} [data-testid=rtnb-settings-toggle]").click()
    assert nb.page.locator(f"{ROOT} [data-testid=rtnb-device]").is_visible()  # the mic's settings stay
    for testid in ("rtnb-voice", "rtnb-mode", "rtnb-vad", "rtnb-barge-in", "rtnb-prebuffer"):
        assert nb.page.locator(f"{ROOT} [data-testid={testid}]").is_hidden(), testid
    nb.page.locator(f"{ROOT} [data-testid=rtnb-settings-toggle]").click()

    nb.page.locator(f"{ROOT} [data-testid=rtnb-start]").click()  # the mic opens on this click only
    nb.wait_until(lambda: _debug(nb).get("micChunksSent", 0) > 5, 20, "the widget sends mic chunks")
    # the fake mic's sentences (it loops): "Hello, can you hear me?", "Tell me a story about the sea."
    def heard(*words: str) -> bool:
        return any(all(w in c.lower() for w in words) for c in _final_captions(nb))

    nb.wait_until(lambda: heard("hello", "hear") and heard("story", "sea"), 60,
                  "captions of the mic's first two sentences appear, final")
    nb.screenshot("captions-widget", element=ROOT)
    history = [state for _event, state in _debug(nb).get("statusHistory", [])]
    assert "user_speaking" in history and "transcribing" in history, history
    assert "thinking" not in history and "speaking" not in history, history

    summary = json.loads(nb.run_cell_and_wait(1, timeout=30))
    dbg = _debug(nb)
    assert summary["captions"] is True
    assert summary["received"].get("conversation.item.input_audio_transcription.delta", 0) >= 2, summary
    assert "response.created" not in summary["received"], summary["received"]
    # nothing was played: no audio reached the player, whatever the path
    assert dbg["samplesReceived"] == {} and dbg["samplesPlayed"] == {}, dbg
    assert summary["errors"] == [] and dbg["errors"] == [], (summary["errors"], dbg["errors"])
    assert rt_server.spy.errors() == []
    assert nb.page_errors == [], nb.page_errors
