"""Brains: what the local server says. A brain turns a response request into text and tool calls.

The interface is small on purpose: ``respond(request) -> Iterable[Say | Call]``. The response runner
turns that into the protocol's event stream (text or speech, function-call items, usage).

Streaming brains (``chat``) yield as they go, and the runner consumes the iterable lazily in a worker
thread, emitting deltas as pieces arrive and speaking sentence by sentence:

- ``Say(text)``: one whole assistant message; ``Call(name, arguments)``: one whole function call;
- ``SayPart(text)``: a piece of a message being generated; consecutive parts form one message item;
- ``CallPart(arguments, name=...)``: a piece of a function call's JSON arguments; a part with a
  ``name`` starts a new function_call item, parts without one continue it;
- ``Incomplete(reason)``: the brain stopped early (``"max_output_tokens"``): the response ends
  ``incomplete`` with that reason.

Any other output type ends an open streamed item. A brain that raises fails only its response
(``response.done`` with ``status: "failed"`` and the message in ``status_details.error``).

``EchoBrain`` (the default) is deterministic and its rules are part of the product, so tests and
classroom demos can rely on them:

1. **Say exactly.** If the response instructions contain ``Say exactly the following:`` (any case), the
   reply is the text after it, verbatim (stripped).
2. **Label choice.** If the instructions list allowed labels — two or more double-quoted words or
   phrases (``output "support"``), or a line ``Labels: a, b, c`` — the reply is exactly one label: the
   one mentioned last in the context's user text, else the first label. User messages that mention two
   or more of the labels are questions about the labels, not evidence, and are skipped. Matching
   ignores case and surrounding spaces/punctuation.
3. **Tool call.** If tools are available and ``tool_choice`` is not ``"none"``, and the last user input
   names a tool (its name, or its name with ``_`` read as spaces) or contains one of the string ``enum``
   values of a tool's parameters (whole word, any case), the reply is a call of that tool. Enum
   parameters get the matched value (in the schema's spelling); other required parameters get: the
   first enum value, ``0`` for numbers, ``false`` for booleans, ``[]``/``{}``, or the user's text for
   strings. ``tool_choice: "required"`` (or naming a function) forces a call of the first/named tool.
4. **After a tool.** If the last context item is a ``function_call_output``, the reply reports it:
   ``"<name> returned: <output>"``.
5. **Echo.** Otherwise the reply is ``"You said: <last user text>"``; for user audio with no
   transcript, ``"I heard <N.N> seconds of audio."``; with no user input at all, ``"Hello! I am the
   realtime-nb local echo brain."``.

``ScriptedBrain`` answers from user rules (regex → reply text or tool call) or a callable, for
teaching and tests.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from .brain_api import Brain, BrainRequest, Call, CallPart, Incomplete, Output, Say, SayPart
from .chat_brain import DEFAULT_URL, ChatBrain

_SAY_EXACTLY = re.compile(r"say\s+exactly\s+the\s+following\s*:\s*(.+)", re.IGNORECASE | re.DOTALL)
_QUOTED = re.compile(r"[\"“]([^\"”\n]{1,60})[\"”]")
_LABEL_LINE = re.compile(r"^\s*labels?\s*:\s*(.+)$", re.IGNORECASE | re.MULTILINE)


def _norm(s: str) -> str:
    return re.sub(r"[\s\W_]+", " ", s).strip().lower()


def find_labels(instructions: str) -> list[str]:
    """Allowed labels listed in instructions (``Labels: a, b`` line, else quoted words), or []."""
    m = _LABEL_LINE.search(instructions or "")
    if m:
        labels = [x.strip().strip("\"'“”") for x in re.split(r"[,|]", m.group(1))]
        labels = [x for x in labels if x]
        if len(labels) >= 2:
            return labels
    quoted: list[str] = []
    for q in _QUOTED.findall(instructions or ""):
        q = q.strip()
        if q and q not in quoted:
            quoted.append(q)
    return quoted if len(quoted) >= 2 else []


def _mentions(text: str, phrase: str) -> int:
    """Position (end) of the last whole-word mention of ``phrase`` in ``text``, or -1."""
    pat = r"(?<![a-z0-9])" + re.escape(_norm(phrase)) + r"(?![a-z0-9])"
    last = -1
    for m in re.finditer(pat, _norm(text)):
        last = m.end()
    return last


def _default_for(schema: dict[str, Any], user_text: str) -> Any:
    if schema.get("enum"):
        return schema["enum"][0]
    kind = schema.get("type")
    if kind in ("number", "integer"):
        return 0
    if kind == "boolean":
        return False
    if kind == "array":
        return []
    if kind == "object":
        return {}
    return user_text


class EchoBrain:
    """The deterministic default brain; its rules are in this module's docstring."""

    name = "echo"

    def respond(self, request: BrainRequest) -> Iterable[Output]:
        instructions = request.instructions or ""
        m = _SAY_EXACTLY.search(instructions)
        if m:
            return [Say(m.group(1).strip())]
        labels = find_labels(instructions)
        if labels:
            return [Say(self._choose_label(labels, request))]
        call = self._tool_call(request)
        if call is not None:
            return [call]
        last = request.context[-1] if request.context else None
        if last is not None and last.get("type") == "function_call_output":
            name = self._call_name(request, last.get("call_id")) or "the tool"
            return [Say(f"{name} returned: {last.get('output', '')}")]
        user = request.last_user()
        text = request.user_text(user)
        if text:
            return [Say(f"You said: {text}")]
        if user is not None:
            ms = request.audio_ms.get(user.get("id", ""), 0.0)
            return [Say(f"I heard {ms / 1000:.1f} seconds of audio.")]
        return [Say("Hello! I am the realtime-nb local echo brain.")]

    @staticmethod
    def _choose_label(labels: list[str], request: BrainRequest) -> str:
        texts = [t for t in (request.user_text(i) for i in request.context
                             if i.get("type") == "message" and i.get("role") == "user") if t]
        text = " ".join(t for t in texts if sum(_mentions(t, label) >= 0 for label in labels) < 2)
        best, best_pos = labels[0], -1
        for label in labels:
            pos = _mentions(text, label)
            if pos > best_pos:
                best, best_pos = label, pos
        return best

    @staticmethod
    def _call_name(request: BrainRequest, call_id: Any) -> str | None:
        for item in request.context:
            if item.get("type") == "function_call" and item.get("call_id") == call_id:
                return str(item.get("name"))
        return None

    def _tool_call(self, request: BrainRequest) -> Call | None:
        tools = [t for t in request.tools if t.get("type") == "function" and t.get("name")]
        choice = request.tool_choice
        if not tools or choice == "none":
            return None
        last = request.context[-1] if request.context else None
        if last is not None and last.get("type") == "function_call_output" and choice != "required":
            return None
        user_text = request.user_text(request.last_user()) or ""
        forced = None
        if isinstance(choice, dict) and choice.get("type") == "function":
            forced = next((t for t in tools if t["name"] == choice.get("name")), None)
        elif choice == "required":
            forced = tools[0]
        for tool in ([forced] if forced else tools):
            params = tool.get("parameters") or {}
            props: dict[str, Any] = params.get("properties") or {}
            matched: dict[str, Any] = {}
            for pname, schema in props.items():
                for value in schema.get("enum") or []:
                    if isinstance(value, str) and _mentions(user_text, value) >= 0:
                        matched[pname] = value
                        break
            named = _mentions(user_text, tool["name"]) >= 0 or _mentions(
                user_text, tool["name"].replace("_", " ")) >= 0
            if matched or named or forced:
                args = {}
                for pname in params.get("required") or []:
                    if pname in matched:
                        args[pname] = matched[pname]
                    else:
                        args[pname] = _default_for(props.get(pname, {}), user_text)
                args.update(matched)
                return Call(tool["name"], json.dumps(args))
        return None


Rule = tuple[str, str | Call | Callable[[re.Match[str], BrainRequest], str | Output]]


class ScriptedBrain:
    """Replies from rules: ``[(regex, reply), ...]`` matched against the last user text, or a callable.

    A reply is a string (said), a ``Call``, or a function ``(match, request) -> str | Say | Call``.
    ``respond_fn(request) -> str | Say | Call | list`` replaces the rules entirely; a generator
    ``respond_fn`` streams (it may yield ``SayPart``/``CallPart`` pieces, see the module docstring).
    Without a match the ``fallback`` brain (echo by default) answers.

    >>> brain = ScriptedBrain([(r"\\bweather\\b", "It is sunny in the notebook.")])
    """

    name = "scripted"

    def __init__(self, rules: Sequence[Rule] | None = None, *,
                 respond_fn: Callable[[BrainRequest], Any] | None = None,
                 fallback: Brain | None = None) -> None:
        if rules is None and respond_fn is None:
            raise ValueError("ScriptedBrain needs rules=[(regex, reply), ...] or respond_fn=callable")
        self.rules = [(re.compile(p, re.IGNORECASE), r) for p, r in (rules or [])]
        self.respond_fn = respond_fn
        self.fallback: Brain = fallback or EchoBrain()

    def respond(self, request: BrainRequest) -> Iterable[Output]:
        if self.respond_fn is not None:
            value = self.respond_fn(request)
            if isinstance(value, Iterator):  # a generator streams: the runner reads it lazily
                return value
            return _as_outputs(value)
        text = request.user_text(request.last_user()) or ""
        for pattern, reply in self.rules:
            m = pattern.search(text)
            if m:
                value = reply(m, request) if callable(reply) and not isinstance(reply, Call) else reply
                return _as_outputs(value)
        return self.fallback.respond(request)


def _as_outputs(value: Any) -> list[Output]:
    if isinstance(value, (Say, Call, SayPart, CallPart, Incomplete)):
        return [value]
    if isinstance(value, str):
        return [Say(value)]
    if isinstance(value, (list, tuple)):
        out: list[Output] = []
        for v in value:
            out.extend(_as_outputs(v))
        return out
    raise TypeError(f"a brain reply must be str, Say, Call or a list of them, not {type(value).__name__}")


def make_brain(spec: Any, *, llm_url: str | None = None, llm_model: str | None = None,
               llm_api_key: str | None = None) -> Brain:
    """``None``/``"echo"`` → EchoBrain; ``"chat"`` → ChatBrain(llm_url, llm_model, llm_api_key); a Brain
    instance as is; a list of rules or a callable → scripted."""
    if spec is None or spec == "echo":
        return EchoBrain()
    if spec == "chat":
        if not llm_model:
            raise ValueError("brain='chat' needs llm_model (the model name the chat-completions server knows)")
        return ChatBrain(llm_url or DEFAULT_URL, llm_model, api_key=llm_api_key)
    if isinstance(spec, str):
        raise ValueError(f"unknown brain {spec!r}: use 'echo', 'chat', a Brain object, rules or a callable")
    if hasattr(spec, "respond"):
        return spec  # type: ignore[no-any-return]
    if callable(spec):
        return ScriptedBrain(respond_fn=spec)
    return ScriptedBrain(list(spec))
