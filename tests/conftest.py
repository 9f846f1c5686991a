from __future__ import annotations

import pytest

from realtime_nb.server import LocalServer


@pytest.fixture(scope="session")
def server():
    """One shared local server on a free port (echo brain, fast pace)."""
    with LocalServer(port=0) as srv:
        yield srv


@pytest.fixture(scope="session")
def beta_server():
    """A local server that serves the retired beta dialect to clients sending ``OpenAI-Beta: realtime=v1``."""
    with LocalServer(port=0, beta_dialect=True) as srv:
        yield srv


@pytest.fixture(scope="session")
def slow_server():
    """Streams audio in real time, so responses stay active long enough to interrupt or cancel."""
    with LocalServer(port=0, pace="realtime") as srv:
        yield srv


@pytest.fixture(scope="session")
def speech_wav():
    """One spoken sentence between silences, with its true speech interval in ms: ``(pcm, [(t0, t1)])``."""
    from speechgen import make_utterance

    return make_utterance([("silence", 800), ("speech", "What is my horoscope for Aquarius today"),
                           ("silence", 1500)])


@pytest.fixture
def rt_session(server):
    """A Session connected to the shared fast local server; closed after the test."""
    import realtime_nb as rt

    s = rt.connect(url=server.url)
    yield s
    s.close()
