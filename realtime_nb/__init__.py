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
