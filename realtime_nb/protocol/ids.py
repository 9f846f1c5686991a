"""Identifier generation in the service's style: ``<prefix>_`` followed by 21 base62 characters."""

from __future__ import annotations

import secrets
import string

_ALPHABET = string.ascii_letters + string.digits
PREFIXES = ("event", "item", "resp", "call", "sess", "conv")


def new_id(prefix: str) -> str:
    """Return a fresh random id such as ``item_Ct1OXLqYLre7VW2Bz9Eoy``.

    >>> new_id("resp").startswith("resp_")
    True
    """
    return prefix + "_" + "".join(secrets.choice(_ALPHABET) for _ in range(21))


def event_id() -> str:
    return new_id("event")


def item_id() -> str:
    return new_id("item")


def response_id() -> str:
    return new_id("resp")


def call_id() -> str:
    return new_id("call")
