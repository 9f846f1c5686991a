"""Connection options of ``rt.connect(...)`` that are not session fields: bounds, limits, reconnecting.

``connect`` takes them as keyword arguments beside the session fields; ``Options.pick`` takes them out
of the keywords (so a session field is never mistaken for one: no GA or beta session field has these
names) and checks them, so a typo'd value fails before anything is sent.

>>> opts, rest = Options.pick({"reply_timeout": 5, "voice": "marin"})
>>> opts.reply_timeout, rest
(5.0, {'voice': 'marin'})
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

MiB = 1 << 20


@dataclass(frozen=True)
class Options:
    """What a session waits for, what it accepts, and how it reconnects (``rt.connect`` keywords)."""

    reply_timeout: float = 15.0          # the reply to a client event (session.updated, item added …)
    response_timeout: float = 30.0       # a response with no event for this long is given up
    reconnect: bool = True               # reconnect and restore the conversation after a drop
    reconnect_delays: tuple[float, ...] = (0.1, 0.5, 1.0, 2.0, 4.0)   # one attempt after each delay
    max_frame_bytes: int = 16 * MiB      # a received frame above this is dropped (and noted)
    max_json_depth: int = 100            # a received frame nested deeper is dropped (and noted)
    handover: bool = True                # move to a fresh connection before the server's session limit

    def __post_init__(self) -> None:
        for name in ("reply_timeout", "response_timeout"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and value > 0):
                raise ValueError(f"{name} must be a number of seconds > 0, not {value!r}")
            object.__setattr__(self, name, float(value))
        delays = tuple(float(d) for d in self.reconnect_delays)
        if any(d < 0 for d in delays):
            raise ValueError(f"reconnect_delays must be seconds >= 0, not {self.reconnect_delays!r}")
        object.__setattr__(self, "reconnect_delays", delays)
        for name, low in (("max_frame_bytes", 1024), ("max_json_depth", 8)):
            value = getattr(self, name)
            if not (isinstance(value, int) and value >= low):
                raise ValueError(f"{name} must be an int >= {low}, not {value!r}")

    @classmethod
    def pick(cls, fields: dict[str, Any]) -> tuple[Options, dict[str, Any]]:
        """The options among ``fields`` (keyword arguments of ``connect``), and the rest."""
        names = {f.name for f in dataclasses.fields(cls)}
        mine = {k: v for k, v in fields.items() if k in names}
        return cls(**mine), {k: v for k, v in fields.items() if k not in names}
