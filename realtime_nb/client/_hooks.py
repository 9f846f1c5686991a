"""What the client layer uses from the layers above it, handed in by the package's face.

``realtime_nb/__init__.py`` sets these when the package is imported, so the client never imports
``realtime_nb.server`` or ``realtime_nb.notebook`` (the layering contracts in ``pyproject.toml``):

- ``start_local_server()`` starts an embedded local server and returns it (an object with ``.url`` and
  ``.stop()``); ``rt.connect()`` uses it when no URL and no key are given;
- ``widget_for(session)`` returns the session's notebook widget (``Session.widget``);
- ``in_kernel()`` tells whether a widget can be shown (a Jupyter kernel, not a terminal);
- ``transcribe(...)`` is ``client.transcribe.transcribe``, set by that module itself: ``connect(intent=
  "transcription")`` calls it (``transcribe`` builds on ``session``, which cannot import it back).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol


class EmbeddedServer(Protocol):
    @property
    def url(self) -> str: ...

    def stop(self) -> None: ...


def _missing(what: str) -> Callable[..., Any]:
    def fail(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError(f"realtime-nb: {what} is not available (import realtime_nb, not only realtime_nb.client)")

    return fail


start_local_server: Callable[[], EmbeddedServer] = _missing("the embedded local server")
widget_for: Callable[[Any], Any] = _missing("the notebook widget")
in_kernel: Callable[[], bool] = lambda: False  # noqa: E731
transcribe: Callable[..., Any] = _missing("rt.transcribe")
