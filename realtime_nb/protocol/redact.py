"""A logging filter that keeps API keys out of websockets' handshake debug logs (client and server)."""

from __future__ import annotations

import logging
import re

_SUBPROTOCOL_KEY = re.compile(r"(openai-insecure-api-key\.)[^,\s]+")


def _mask(value: object) -> object:
    if not isinstance(value, str):
        return value
    if value.lower().startswith("bearer "):
        return "Bearer ***"
    return _SUBPROTOCOL_KEY.sub(r"\1***", value)


class RedactKey(logging.Filter):
    """Masks ``Authorization`` values and ``openai-insecure-api-key.*`` subprotocols in log records."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 2 and str(args[0]).lower() == "authorization":
            record.args = (args[0], "***")
        elif isinstance(args, tuple):
            record.args = tuple(_mask(a) for a in args)
        elif isinstance(record.msg, str):
            record.msg = _mask(record.msg)
        return True
