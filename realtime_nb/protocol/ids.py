"""Identifier generation in the service's style: ``<prefix>_`` followed by 21 base62 characters."""

from __future__ import annotations

import secrets
import string

_ALPHABET = string.ascii_letters + string.digits
PREFIXES = ("event", "item", "resp", "call", "sess", "conv")


def new_id(prefix: str) -> str:
    """Return a fresh random id such as ``item_Ct1OXLqYLre7VW2Bz9Eoy``.

    The 21 characters are uniform over base62 from one ``secrets.token_bytes`` call (bytes >= 248 are
    skipped so that ``byte % 62`` stays uniform), not 21 ``secrets.choice`` calls (one ``os.urandom``
    each): the local server makes an id for every event it sends (~3 µs instead of ~26 µs).

    >>> new_id("resp").startswith("resp_")
    True
    """
    chars: list[str] = []
    while len(chars) < 21:
        chars.extend(_ALPHABET[b % 62] for b in secrets.token_bytes(32) if b < 248)
    return prefix + "_" + "".join(chars[:21])


def event_id() -> str:
    return new_id("event")


def item_id() -> str:
    return new_id("item")


def response_id() -> str:
    return new_id("resp")


def call_id() -> str:
    return new_id("call")
