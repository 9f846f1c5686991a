"""Loading recorded Realtime event fixtures, including the beta recording printed by Node's util.inspect.

The recordings live outside the package (``REALTIME_NB_FIXTURES``, else ``tests/fixtures``, else the
shared workspace folder); tests that need them skip when none is found.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

GA_JSONL = "ga_sip_gateway_examples__unordered.jsonl"
BETA_GLOB = "beta_text_response__*.md"


def fixtures_dir() -> Path | None:
    """The first folder that holds the GA fixture, or ``None``."""
    candidates = [
        os.environ.get("REALTIME_NB_FIXTURES"),
        str(Path(__file__).parent / "fixtures"),
        "/work/shared/fixtures",
    ]
    for c in candidates:
        if c and (Path(c) / GA_JSONL).is_file():
            return Path(c)
    return None


def load_ga_events() -> list[dict[str, Any]]:
    """Every line of the GA JSONL fixture, in file order."""
    d = fixtures_dir()
    assert d is not None
    lines = (d / GA_JSONL).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def load_beta_events() -> list[dict[str, Any]]:
    """The objects of the beta recording, parsed from its util.inspect text."""
    d = fixtures_dir()
    assert d is not None
    (path,) = sorted(d.glob(BETA_GLOB))
    return parse_inspect_log(path.read_text(encoding="utf-8"))


# -- a small parser for Node util.inspect output ---------------------------------------------------------

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<placeholder>\[(?:Object|Array)\])
      | (?P<punct>[{}\[\]:,+])
      | (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|`(?:[^`\\]|\\.)*`)
      | (?P<number>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)
      | (?P<word>[A-Za-z_$][\w$]*)
    )""",
    re.VERBOSE | re.DOTALL,
)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "v": "\v", "0": "\0"}
_WORDS: dict[str, Any] = {"null": None, "undefined": None, "true": True, "false": False}


def _unquote(lit: str) -> str:
    def esc(m: re.Match[str]) -> str:
        s = m.group(1)
        if s[0] == "u":
            return chr(int(s[1:], 16))
        if s[0] == "x":
            return chr(int(s[1:], 16))
        return _ESCAPES.get(s, s)

    return re.sub(r"\\(u[0-9a-fA-F]{4}|x[0-9a-fA-F]{2}|.)", esc, lit[1:-1], flags=re.DOTALL)


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise ValueError(f"cannot tokenize near {text[pos:pos + 40]!r}")
        kind = m.lastgroup
        assert kind is not None
        tokens.append((kind, m.group(kind)))
        pos = m.end()
    return tokens


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens = tokens
        self.i = 0

    def peek(self) -> tuple[str, str]:
        return self.tokens[self.i]

    def take(self, value: str | None = None) -> tuple[str, str]:
        tok = self.tokens[self.i]
        if value is not None and tok[1] != value:
            raise ValueError(f"expected {value!r}, got {tok[1]!r}")
        self.i += 1
        return tok

    def value(self) -> Any:
        kind, text = self.peek()
        if text == "{":
            return self.obj()
        if text == "[" and kind == "punct":
            return self.arr()
        self.take()
        if kind == "placeholder":
            return {} if text == "[Object]" else []  # util.inspect's depth cut-off: content lost
        if kind == "string":
            s = _unquote(text)
            while self.i < len(self.tokens) and self.peek()[1] == "+":  # 'a' +\n 'b'
                self.take("+")
                s += _unquote(self.take()[1])
            return s
        if kind == "number":
            return json.loads(text)
        if kind == "word" and text in _WORDS:
            return _WORDS[text]
        raise ValueError(f"unexpected token {text!r}")

    def obj(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        self.take("{")
        while self.peek()[1] != "}":
            kind, key = self.take()
            out[_unquote(key) if kind == "string" else key] = (self.take(":"), self.value())[1]
            if self.peek()[1] == ",":
                self.take(",")
        self.take("}")
        return out

    def arr(self) -> list[Any]:
        out: list[Any] = []
        self.take("[")
        while self.peek()[1] != "]":
            out.append(self.value())
            if self.peek()[1] == ",":
                self.take(",")
        self.take("]")
        return out


def parse_inspect(text: str) -> Any:
    """Parse one value printed by ``util.inspect`` (``[Object]`` cut-offs become ``{}``)."""
    p = _Parser(_tokenize(text))
    value = p.value()
    if p.i != len(p.tokens):
        raise ValueError("trailing tokens")
    return value


def parse_inspect_log(text: str) -> list[dict[str, Any]]:
    """Every top-level object in a log: blocks from a line ``{`` to the next line ``}``; other lines
    (log messages, code fences) are skipped."""
    events: list[dict[str, Any]] = []
    block: list[str] | None = None
    for line in text.splitlines():
        if block is None:
            if line.rstrip() == "{":
                block = [line]
        else:
            block.append(line)
            if line.rstrip() == "}":
                events.append(parse_inspect("\n".join(block)))
                block = None
    return events
