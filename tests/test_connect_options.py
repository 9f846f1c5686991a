"""Connect-time choices: the key for OpenAI, the model (default, env, shutdown dates), GA leaf names,
``reasoning``, text that cannot be sent, and the option values."""

from __future__ import annotations

import re
import warnings

import pytest

import realtime_nb as rt
from realtime_nb.client import _target


@pytest.mark.parametrize("how", ["url", "env"])
def test_openai_without_a_key_is_refused_before_connecting(monkeypatch, how):
    for var in ("OPENAI_API_KEY", "REALTIME_NB_URL", "REALTIME_NB_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    kwargs = {"url": "wss://api.openai.com/v1"}
    if how == "env":
        monkeypatch.setenv("REALTIME_NB_URL", "wss://api.openai.com/v1")
        kwargs = {}
    with pytest.raises(ValueError) as info:
        rt.connect(**kwargs)
    assert "OPENAI_API_KEY" in str(info.value) and "api_key=" in str(info.value)


def test_default_model_and_env_override(server, monkeypatch):
    monkeypatch.delenv("REALTIME_NB_MODEL", raising=False)
    assert _target.choose_model(None) == "gpt-realtime-2.1"
    monkeypatch.setenv("REALTIME_NB_MODEL", "gpt-realtime-2")
    with rt.connect(url=server.url) as s:
        assert s.model == "gpt-realtime-2" and s.config["model"] == "gpt-realtime-2"
    with rt.connect("gpt-realtime-2.1-mini", url=server.url) as s:   # the argument wins
        assert s.model == "gpt-realtime-2.1-mini"


def test_magics_use_the_env_model(server, monkeypatch):
    from IPython.core.interactiveshell import InteractiveShell

    monkeypatch.setenv("REALTIME_NB_URL", server.url)
    monkeypatch.setenv("REALTIME_NB_MODEL", "gpt-realtime-2")
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "realtime_nb")
    shell.run_line_magic("rt_connect", "--text")
    s = shell.user_ns.pop("rt_session")
    try:
        assert s.model == "gpt-realtime-2"
    finally:
        s.close()


def test_shutdown_dates_match_the_openai_sdk():
    from openai.types.realtime.realtime_session_create_request import RealtimeSessionCreateRequest

    doc = RealtimeSessionCreateRequest.model_fields["model"].description or ""
    if not doc:  # pydantic keeps attribute docstrings only with use_attribute_docstrings; read the source
        import inspect

        src = inspect.getsource(RealtimeSessionCreateRequest)
        doc = src[src.index("model:"):src.index("output_modalities")]
    announced: dict[str, str] = {}
    for block, date in re.findall(r"-\s+((?:\"[^\"]+\",?\s*)+):\s*Announced shutdown date:\s*(\d{4}-\d\d-\d\d)", doc):
        for name in re.findall(r'"([^"]+)"', block):
            announced[name] = date
    assert announced and announced == _target.SHUTDOWN_DATES
    assert _target.DEFAULT_MODEL not in announced


def test_a_model_with_a_shutdown_date_warns_once(server, monkeypatch):
    monkeypatch.setattr(_target, "_warned", set())
    with pytest.warns(FutureWarning, match="2027-01-20"):
        rt.connect("gpt-realtime-mini-2025-12-15", url=server.url).close()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rt.connect("gpt-realtime-mini-2025-12-15", url=server.url).close()


def test_ga_leaf_names_go_into_audio(server):
    with rt.connect(url=server.url, transcription={"model": "whisper-1"}, voice="marin", speed=1.25,
                    turn_detection=None) as s:
        audio = s.config["audio"]
        assert audio["input"]["transcription"]["model"] == "whisper-1"
        assert audio["output"]["voice"] == "marin" and audio["output"]["speed"] == 1.25
        assert audio["input"]["turn_detection"] is None
        config = s.update(noise_reduction={"type": "near_field"}, audio={"output": {"speed": 1.0}})
        assert config["audio"]["input"]["noise_reduction"] == {"type": "near_field"}
        assert config["audio"]["output"]["speed"] == 1.0
        assert config["audio"]["input"]["transcription"]["model"] == "whisper-1"
        with pytest.raises(TypeError, match=r"ambiguous.*input_audio_format"):
            s.update(format={"type": "audio/pcmu"})
        with pytest.raises(TypeError, match="both given"):
            s.update(noise_reduction=None, audio={"input": {"noise_reduction": None}})


def test_reasoning_passes_through(server):
    with rt.connect(url=server.url, reasoning={"effort": "low"}) as s:
        assert s.config["reasoning"] == {"effort": "low"}
        r = s.say("think", output_modalities=["text"], reasoning={"effort": "high"})
        assert r.request["reasoning"] == {"effort": "high"} and r.text == "You said: think"


def test_lone_surrogates_are_refused_before_anything_is_sent(rt_session):
    before_events, before_items = len(rt_session.events), len(rt_session.items)
    with pytest.raises(ValueError) as info:
        rt_session.say("bad \ud800 text")
    message = str(info.value)
    assert "surrogate" in message and "item.content[0].text" in message and "nothing was sent" in message
    assert len(rt_session.events) == before_events and len(rt_session.items) == before_items
    with pytest.raises(ValueError, match="instructions"):
        rt_session.update(instructions="\udfff")
    assert rt_session.say("good text", output_modalities=["text"]).text == "You said: good text"


def test_option_values_are_checked():
    with pytest.raises(ValueError, match="reply_timeout"):
        rt.connect(url="ws://127.0.0.1:9/v1", reply_timeout=0)
    with pytest.raises(ValueError, match="max_json_depth"):
        rt.connect(url="ws://127.0.0.1:9/v1", max_json_depth="deep")
