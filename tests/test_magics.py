"""The IPython extension in an in-process shell: usage errors and the happy path."""

from __future__ import annotations

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell


@pytest.fixture
def ip(server, monkeypatch):
    monkeypatch.setenv("REALTIME_NB_URL", server.url)
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "realtime_nb")
    yield shell
    s = shell.user_ns.pop("rt_session", None)
    if s is not None:
        s.close()
    shell.user_ns.pop("other", None)


def test_usage_errors_are_clear(ip):
    with pytest.raises(UsageError, match="Run %rt_connect first"):
        ip.run_cell_magic("rt", "", "hello")
    ip.run_line_magic("rt_connect", "--text")
    with pytest.raises(UsageError, match="needs a message"):
        ip.run_cell_magic("rt", "", "   \n")
    with pytest.raises(UsageError, match="at least two"):
        ip.run_cell_magic("rt_classify", "--labels only", "prompt")
    with pytest.raises(UsageError, match="needs the classification prompt"):
        ip.run_cell_magic("rt_classify", "--labels a,b", "  \n")
    ip.user_ns["other"] = 42
    with pytest.raises(UsageError, match="not a realtime_nb Session"):
        ip.run_cell_magic("rt", "-s other", "hi")


def test_connect_say_and_classify(ip, capsys):
    ip.run_line_magic("rt_connect", "--text --instructions Be-brief")
    assert "Connected: rt_session" in capsys.readouterr().out
    ip.run_cell_magic("rt", "", "I need support with my printer")
    assert ip.user_ns["_rt"].text == "You said: I need support with my printer"
    label = ip.run_cell_magic("rt_classify", "--labels sales,support --last 2", "Sales or support question?")
    assert label == "support"
    assert ip.user_ns["rt_session"].config["instructions"] == "Be-brief"
