"""The widget's voice-chat controls in a real browser: a typed turn, "Stop reply" (button and Esc), and
"show my words" (input transcription) showing what the fake microphone said.

The local server streams at real-time pace (``conftest.rt_server``) with its echo brain, so a long typed
message gets a reply of several seconds that can be stopped while it plays.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

ROOT = "[data-testid=rtnb-root]"

SETUP = '''
import realtime_nb as rt

s = rt.connect()
s
'''

LONG = ("Please tell me a long story about the sea, the wind, the old lighthouse keeper, his grey cat, "
        "the storm that came in the night and the ship that was saved at dawn")

_DEBUG_JS = """() => {
  const all = window.__realtime_nb_debug || {};
  for (const entry of Object.values(all)) if (entry.owner) return JSON.parse(JSON.stringify(entry.owner));
  return null;
}"""


def _debug(nb):
    return nb.page.evaluate(_DEBUG_JS) or {}


def _entries(nb, kind: str) -> list[str]:
    return nb.page.locator(f"{ROOT} [data-testid=rtnb-entry][data-kind={kind}] [data-testid=rtnb-entry-text]") \
        .all_inner_texts()


def _ready(open_notebook, name: str):
    nb = open_notebook(name, [SETUP])
    nb.run_cell_and_wait(0, timeout=60)
    nb.page.locator(f"{ROOT}[data-ready=true][data-owner=true]").wait_for(timeout=30_000)
    return nb


def _type(nb, text: str) -> None:
    box = nb.page.locator(f"{ROOT} [data-testid=rtnb-text-input]")
    box.fill(text)
    box.press("Enter")


def test_a_typed_turn_gets_a_spoken_reply(open_notebook):
    nb = _ready(open_notebook, "controls_text.ipynb")
    _type(nb, "What is the weather like on the coast?")
    nb.wait_until(lambda: "What is the weather like on the coast?" in _entries(nb, "user"), 15,
                  "the typed message is in the transcript")
    nb.wait_until(lambda: any("You said: What is the weather like" in t for t in _entries(nb, "assistant")), 20,
                  "the reply is in the transcript")
    nb.wait_until(lambda: sum(_debug(nb).get("samplesPlayed", {}).values()) > 0, 20, "the reply is played")
    assert nb.page.locator(f"{ROOT} [data-testid=rtnb-text-input]").input_value() == ""
    nb.screenshot("controls-typed-turn", element=ROOT)
    assert nb.page_errors == []


def _played(nb) -> int:
    return sum(_debug(nb).get("samplesPlayed", {}).values())


def _stop_once(nb, spy, n: int, how: str) -> None:
    """Type a long message, let its reply play a second, stop it (``how``), check what was cut."""
    before, cancels, truncates, cut_marks = (_played(nb), len(spy.of_type("response.cancel")),
                                             len(spy.of_type("conversation.item.truncate")),
                                             nb.page.locator(f"{ROOT} [data-truncated]").count())
    stop = nb.page.locator(f"{ROOT} [data-testid=rtnb-stop-reply]")
    _type(nb, LONG)
    nb.wait_until(lambda: _played(nb) > before + 24000, 30, "the long reply plays for a second")
    assert stop.is_visible()
    nb.screenshot(f"controls-before-stop-{how}", element=ROOT)
    if how == "button":
        stop.click()
    else:
        nb.page.locator(f"{ROOT} [data-testid=rtnb-transcript]").click()  # focus inside the widget
        nb.page.keyboard.press("Escape")
    nb.wait_until(lambda: _debug(nb).get("truncates", 0) >= n, 10, f"Stop reply ({how}) truncates")
    nb.wait_until(lambda: len(spy.of_type("conversation.item.truncate")) > truncates, 10,
                  "the server receives the truncate")
    nb.wait_until(lambda: len(spy.of_type("response.cancel")) > cancels, 10, "the server receives the cancel")
    nb.wait_until(lambda: nb.page.locator(f"{ROOT} [data-truncated]").count() > cut_marks, 10,
                  "the transcript marks the cut")
    nb.wait_until(lambda: stop.is_hidden(), 10, "nothing left to stop")
    last = _debug(nb)["lastInterrupt"]
    cut = spy.of_type("conversation.item.truncate")[-1]
    assert cut["item_id"] == last["item_id"]
    assert abs(cut["audio_end_ms"] - last["played_samples"] / 24) <= 1, (cut, last)   # at what was heard
    nb.screenshot(f"controls-after-stop-{how}", element=ROOT)


def test_stop_reply_by_button_and_by_escape(open_notebook, rt_server):
    nb = _ready(open_notebook, "controls_stop.ipynb")
    _stop_once(nb, rt_server.spy, 1, "button")
    _stop_once(nb, rt_server.spy, 2, "escape")
    assert _debug(nb)["errors"] == []
    assert nb.page_errors == []


def test_show_my_words_shows_what_the_user_said(open_notebook):
    nb = _ready(open_notebook, "controls_words.ipynb")
    nb.page.locator(f"{ROOT} [data-testid=rtnb-transcribe]").check()
    nb.page.locator(f"{ROOT} [data-testid=rtnb-start]").click()
    # the fake mic says "Hello, can you hear me?" first; the local recognizer writes it in lower case words
    nb.wait_until(lambda: any(t.strip() and "audio," not in t and t.strip() != "…" for t in _entries(nb, "user")), 40,
                  "the user's words appear in the transcript")
    words = [t for t in _entries(nb, "user") if t.strip() and "audio," not in t]
    assert any(w in words[0].lower() for w in ("hello", "hear", "you", "can")), words
    nb.screenshot("controls-my-words", element=ROOT)
    assert nb.page_errors == []
