"""realtime-nb: Realtime speech-to-speech conversations in Jupyter, with an offline local server.

>>> import realtime_nb as rt
>>> with rt.LocalServer() as server:       # doctest: +SKIP
...     print(server.url)
"""

from __future__ import annotations

from .errors import (
    ClassificationError,
    ConnectionClosed,
    RealtimeError,
    RealtimeNBError,
    SessionExpired,
    ToolError,
)
from .response import Response, ref
from .server import LocalServer
from .session import Session, aconnect, connect

__version__ = "0.1.0"


def load_ipython_extension(ipython: object) -> None:
    """``%load_ext realtime_nb``: registers ``%rt_connect``, ``%%rt`` and ``%%rt_classify``."""
    from .magics import load_ipython_extension as load

    load(ipython)


def __getattr__(name: str) -> object:
    # ``rt.plots`` imports matplotlib, so it is loaded on first use only.
    if name == "plots":
        import importlib

        return importlib.import_module(".plots", __name__)
    raise AttributeError(f"module 'realtime_nb' has no attribute {name!r}")

__all__ = [
    "ClassificationError",
    "ConnectionClosed",
    "LocalServer",
    "RealtimeError",
    "RealtimeNBError",
    "Response",
    "Session",
    "SessionExpired",
    "ToolError",
    "__version__",
    "aconnect",
    "connect",
    "ref",
]
