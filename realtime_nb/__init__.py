"""realtime-nb: Realtime speech-to-speech conversations in Jupyter, with an offline local server.

The package's face. Its layers (``docs/architecture.md``; contracts in ``pyproject.toml``):
``protocol`` (sans-I/O core) < ``client`` (``Session``) < ``notebook`` (widget, magics); ``server`` (the
local server) sits beside ``client`` on top of ``protocol``. This module wires the client to the two
things it uses from above without importing them: the embedded server and the notebook widget.

>>> import realtime_nb as rt
>>> with rt.LocalServer() as server:       # doctest: +SKIP
...     print(server.url)
"""

from __future__ import annotations

from . import notebook as _notebook
from .client import _hooks
from .client.response import Response, ref
from .client.secrets import client_secret
from .client.session import Session, aconnect, connect
from .client.transcribe import TranscriptionSession, transcribe
from .errors import (
    ClassificationError,
    ConnectionClosed,
    RealtimeError,
    RealtimeNBError,
    RealtimeTimeout,
    SessionExpired,
    ToolError,
)
from .server import LocalServer

__version__ = "0.1.0"


def _embedded_server() -> LocalServer:
    return LocalServer("127.0.0.1", 0).start()


def _widget_for(session: Session) -> object:
    from .notebook.widget import widget_for  # anywidget loads only when a widget is wanted

    return widget_for(session)


_hooks.start_local_server = _embedded_server
_hooks.widget_for = _widget_for
_hooks.in_kernel = lambda: _notebook.in_kernel()


def load_ipython_extension(ipython: object) -> None:
    """``%load_ext realtime_nb``: registers ``%rt_connect``, ``%%rt`` and ``%%rt_classify``."""
    from .notebook.magics import load_ipython_extension as load

    load(ipython)


def __getattr__(name: str) -> object:
    # ``rt.plots`` imports matplotlib, so it is loaded on first use only.
    if name == "plots":
        import importlib

        return importlib.import_module(".notebook.plots", __name__)
    raise AttributeError(f"module 'realtime_nb' has no attribute {name!r}")

__all__ = [
    "ClassificationError",
    "ConnectionClosed",
    "LocalServer",
    "RealtimeError",
    "RealtimeNBError",
    "RealtimeTimeout",
    "Response",
    "Session",
    "SessionExpired",
    "ToolError",
    "TranscriptionSession",
    "__version__",
    "aconnect",
    "client_secret",
    "connect",
    "ref",
    "transcribe",
]
