"""The widget's voice-chat controls in a real browser: a typed turn, "Stop reply" (button and Esc), and
"show my words" (input transcription) showing what the fake microphone said.

The local server streams at real-time pace (``conftest.rt_server``) with its echo brain, so a long typed
message gets a reply of several seconds that can be stopped while it plays.
"""

from __future__ import annotations

import json

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


STATS = "import json; print(json.dumps(s.widget.stats()))"


def _stop_once(nb, spy, how: str) -> None:
    """Type a long message, let its reply play a second, stop it (``how``), check what was cut.

    The reply is truncated at what was heard; when everything the kernel received of it had been
    played (the server's real-time stream ran dry), there is nothing unheard to cut, and the kernel
    rightly sends no truncate: the cancel alone ends it there."""
    before, cancels = _played(nb), len(spy.of_type("response.cancel"))
    interrupts = _debug(nb).get("interrupts", 0)
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
    nb.wait_until(lambda: _debug(nb).get("interrupts", 0) > interrupts, 10, f"Stop reply ({how}) stops the player")
    nb.wait_until(lambda: len(spy.of_type("response.cancel")) > cancels, 10, "the server receives the cancel")
    nb.wait_until(lambda: stop.is_hidden(), 10, "nothing left to stop")
    last = _debug(nb)["lastInterrupt"]
    assert last and last["item_id"], last
    played = _played(nb)
    nb.page.wait_for_timeout(500)
    assert _played(nb) == played, "the player went on after Stop reply"
    stats = json.loads(nb.run_cell_and_wait(1, timeout=30))
    mine = [t for t in stats["truncates"] if t["item_id"] == last["item_id"]]
    if mine:   # truncated at what was heard, never past what was received
        assert abs(mine[-1]["audio_end_ms"] - last["played_samples"] / 24) <= 1, (mine, last)
        nb.wait_until(lambda: nb.page.locator(f"{ROOT} [data-truncated]").count() > 0, 10,
                      "the transcript marks the cut")
    else:      # nothing unheard: all that came was played
        assert stats["received"][last["item_id"]] <= last["played_samples"] + 480, (stats, last)
    nb.screenshot(f"controls-after-stop-{how}", element=ROOT)


def test_stop_reply_by_button_and_by_escape(open_notebook, rt_server):
    nb = open_notebook("controls_stop.ipynb", [SETUP, STATS])
    nb.run_cell_and_wait(0, timeout=60)
    nb.page.locator(f"{ROOT}[data-ready=true][data-owner=true]").wait_for(timeout=30_000)
    _stop_once(nb, rt_server.spy, "button")
    _stop_once(nb, rt_server.spy, "escape")
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


DENY_MIC = """
(() => {
  const md = navigator.mediaDevices;
  const original = md.getUserMedia.bind(md);
  window.__rtnbDenyMic = true;
  md.getUserMedia = async (c) => {
    if (window.__rtnbDenyMic) throw new DOMException("Permission denied", "NotAllowedError");
    return original(c);
  };
})();
"""


def test_a_denied_microphone_says_what_to_do_once_and_retry_works(open_notebook):
    nb = open_notebook("controls_denied.ipynb", [SETUP])
    nb.page.add_init_script(DENY_MIC)
    nb.open()  # again, with the denial in place before any widget code runs
    nb.run_cell_and_wait(0, timeout=60)
    nb.page.locator(f"{ROOT}[data-ready=true][data-owner=true]").wait_for(timeout=30_000)
    nb.page.locator(f"{ROOT} [data-testid=rtnb-start]").click()
    box = nb.page.locator(f"{ROOT} [data-testid=rtnb-mic-error]")
    box.wait_for(timeout=10_000)
    text = box.inner_text()
    assert "Microphone blocked" in text and "Allow" in text and "Retry" in text, text
    nb.page.wait_for_timeout(1000)       # the kernel's copy of the error (last_error) comes back meanwhile
    widget_text = nb.page.locator(ROOT).first.inner_text()
    assert widget_text.count("Microphone blocked") == 1, widget_text   # one message, not two
    assert nb.page.locator(ROOT).first.get_attribute("data-status") == "ready"  # not a green "Listening"
    nb.screenshot("controls-mic-denied", element=ROOT)
    nb.page.evaluate("() => { window.__rtnbDenyMic = false; }")   # the user allowed it
    nb.page.locator(f"{ROOT} [data-testid=rtnb-mic-retry]").click()
    nb.wait_until(lambda: _debug(nb).get("micOn"), 10, "Retry opens the mic")
    assert box.is_hidden()
    assert nb.page_errors == []
