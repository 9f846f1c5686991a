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
from .server import LocalServer

__version__ = "0.1.0"

__all__ = [
    "ClassificationError",
    "ConnectionClosed",
    "LocalServer",
    "RealtimeError",
    "RealtimeNBError",
    "SessionExpired",
    "ToolError",
    "__version__",
]
