"""The ``chat`` brain: any OpenAI-compatible chat-completions endpoint (Ollama, llama.cpp, vLLM, …).

``ChatBrain(url, model)`` POSTs ``{url}/chat/completions`` with ``stream: true`` and reads the
server-sent events (``data: {...}`` lines, ending with ``data: [DONE]``) with the standard library's
``http.client``, in the response's worker thread. It yields as the model generates:

- ``delta.content`` → ``SayPart`` (text deltas; in audio mode the runner speaks each sentence as soon
  as it is complete);
- ``delta.tool_calls[i]`` → ``CallPart``: the first fragment of call ``i`` (with ``function.name``)
  starts a ``function_call`` item, ``function.arguments`` fragments become argument deltas;
- ``finish_reason: "length"`` → ``Incomplete("max_output_tokens")``.

The request is built from the response's context (``messages_from_context``): ``instructions`` as the
system message; user and assistant messages as text (audio parts through their transcripts); a run of
``function_call`` items as one assistant message with ``tool_calls``; each ``function_call_output`` as a
``tool`` message. ``tools`` / ``tool_choice`` are translated to the chat-completions shape;
``max_output_tokens`` becomes ``max_tokens``. Out-of-band responses (``conversation: "none"``,
``input``, per-response ``instructions``) need nothing special: the engine already put exactly the
right items in the context.

When the endpoint is down or answers with an error, the brain raises ``BrainError`` with a message
naming the URL; the response ends ``failed`` with that message in ``status_details.error``.

>>> brain = ChatBrain("http://127.0.0.1:11434/v1", "llama3.2")     # Ollama  # doctest: +SKIP
>>> LocalServer(brain=brain)                                         # doctest: +SKIP
"""

from __future__ import annotations

import http.client
import json
import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from .brain_api import BrainError, BrainRequest, CallPart, Incomplete, Output, SayPart

__all__ = ["DEFAULT_URL", "ChatBrain", "chat_tools", "messages_from_context"]

DEFAULT_URL = "http://127.0.0.1:11434/v1"
"""Ollama's OpenAI-compatible base URL."""


def _text_of(item: dict[str, Any]) -> str:
    texts = []
    for part in item.get("content") or []:
        kind = part.get("type")
        if kind in ("input_text", "output_text", "text") and part.get("text"):
            texts.append(part["text"])
        elif kind in ("input_audio", "output_audio", "audio"):
            transcript = part.get("transcript")
            texts.append(transcript if transcript else "[inaudible audio]")
    return " ".join(texts)


def messages_from_context(context: list[dict[str, Any]], instructions: str = "") -> list[dict[str, Any]]:
    """Chat-completions ``messages`` for a response's context items (see the module docstring).

    >>> messages_from_context([{"type": "message", "role": "user",
    ...                         "content": [{"type": "input_audio", "transcript": "hi"}]}], "Be brief.")
    [{'role': 'system', 'content': 'Be brief.'}, {'role': 'user', 'content': 'hi'}]
    """
    messages: list[dict[str, Any]] = [{"role": "system", "content": instructions}] if instructions else []
    for item in context:
        kind = item.get("type")
        if kind == "message":
            role = item.get("role", "user")
            messages.append({"role": role if role in ("user", "assistant", "system") else "user",
                             "content": _text_of(item)})
        elif kind == "function_call":
            call = {"id": item.get("call_id") or item.get("id"), "type": "function",
                    "function": {"name": item.get("name", ""), "arguments": item.get("arguments") or "{}"}}
            last = messages[-1] if messages else None
            if last is not None and last["role"] == "assistant" and "tool_calls" in last:
                last["tool_calls"].append(call)  # parallel calls share one assistant message
            else:
                messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
        elif kind == "function_call_output":
            messages.append({"role": "tool", "tool_call_id": item.get("call_id", ""),
                             "content": str(item.get("output", ""))})
    return messages


def chat_tools(tools: list[dict[str, Any]], tool_choice: Any) -> dict[str, Any]:
    """``tools`` and ``tool_choice`` request fields for Realtime function tools ({} when there are none)."""
    functions = [t for t in tools if t.get("type") == "function" and t.get("name")]
    if not functions:
        return {}
    out: dict[str, Any] = {"tools": [
        {"type": "function", "function": {"name": t["name"], "description": t.get("description", ""),
                                          "parameters": t.get("parameters") or {"type": "object",
                                                                                "properties": {}}}}
        for t in functions]}
    if isinstance(tool_choice, dict) and tool_choice.get("type") == "function":
        out["tool_choice"] = {"type": "function", "function": {"name": tool_choice.get("name")}}
    elif tool_choice in ("auto", "none", "required"):
        out["tool_choice"] = tool_choice
    return out


class ChatBrain:
    """Answers with a chat-completions model, streaming (see the module docstring).

    ``url`` is the API base (``…/v1``); ``api_key`` is sent as ``Authorization: Bearer``; ``timeout``
    bounds connecting and each read; ``extra`` is merged into every request body (e.g.
    ``{"temperature": 0}``).
    """

    name = "chat"

    def __init__(self, url: str = DEFAULT_URL, model: str = "", *, api_key: str | None = None,
                 timeout: float = 60.0, extra: dict[str, Any] | None = None) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"llm url must be http(s)://host[:port]/path, got {url!r}")
        if not model:
            raise ValueError("ChatBrain needs a model name (the one the chat-completions server serves)")
        self.url, self.model, self.api_key, self.timeout = url.rstrip("/"), model, api_key, timeout
        self.extra = dict(extra or {})
        self.endpoint = f"{self.url}/chat/completions"

    def __repr__(self) -> str:
        return f"ChatBrain({self.url!r}, {self.model!r})"

    def request_body(self, request: BrainRequest) -> dict[str, Any]:
        """The JSON body POSTed for ``request``."""
        body: dict[str, Any] = {"model": self.model, "stream": True,
                                "messages": messages_from_context(request.context, request.instructions)}
        body.update(chat_tools(request.tools, request.tool_choice))
        if request.max_output_tokens not in (None, "inf"):
            body["max_tokens"] = int(request.max_output_tokens)
        body.update(self.extra)
        return body

    def respond(self, request: BrainRequest) -> Iterator[Output]:
        body = json.dumps(self.request_body(request)).encode()
        conn, resp = self._post(body)
        try:
            yield from self._read(resp)
        finally:
            conn.close()

    def _post(self, body: bytes) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
        parts = urlsplit(self.endpoint)
        cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        conn = cls(parts.hostname or "", parts.port, timeout=self.timeout)
        headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        try:
            conn.request("POST", path, body, headers)
            resp = conn.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            raise BrainError(f"chat brain: cannot reach the LLM at {self.endpoint}: {_reason(exc)}") from exc
        if resp.status != 200:
            detail = resp.read(2000).decode("utf-8", "replace").strip()
            conn.close()
            raise BrainError(f"chat brain: the LLM at {self.endpoint} answered HTTP {resp.status} "
                             f"{resp.reason}: {_error_message(detail)}")
        return conn, resp

    def _read(self, resp: http.client.HTTPResponse) -> Iterator[Output]:
        current: int | None = None   # index of the tool call being streamed
        seen: set[int] = set()
        try:
            for data in _sse_data(resp):
                if data == "[DONE]":
                    return
                try:
                    chunk = json.loads(data)
                except ValueError:
                    raise BrainError(f"chat brain: {self.endpoint} sent a stream line that is not JSON: "
                                     f"{data[:200]!r}") from None
                if chunk.get("error"):
                    raise BrainError(f"chat brain: the LLM at {self.endpoint} reported an error: "
                                     f"{_error_message(json.dumps(chunk))}")
                for choice in chunk.get("choices") or []:
                    if choice.get("index", 0) != 0:
                        continue
                    delta = choice.get("delta") or {}
                    if delta.get("content"):
                        yield SayPart(delta["content"])
                    for call in delta.get("tool_calls") or []:
                        index = call.get("index", 0)
                        fn = call.get("function") or {}
                        if index != current:
                            if index in seen:
                                raise BrainError("chat brain: interleaved tool-call deltas are not supported")
                            seen.add(index)
                            current = index
                            yield CallPart(fn.get("arguments") or "", name=fn.get("name") or "")
                        elif fn.get("arguments"):
                            yield CallPart(fn["arguments"])
                    if choice.get("finish_reason") == "length":
                        yield Incomplete("max_output_tokens")
        except (OSError, http.client.HTTPException) as exc:
            raise BrainError(f"chat brain: the stream from {self.endpoint} broke: {_reason(exc)}") from exc


def _sse_data(resp: http.client.HTTPResponse) -> Iterator[str]:
    """The ``data:`` payloads of a server-sent event stream, one per line as soon as it arrives.

    Chat-completions servers put one JSON object on each ``data:`` line, so lines are not joined
    (SSE's multi-line data is not used by them, and some omit the blank separator lines).
    """
    while True:
        raw = resp.readline()
        if not raw:
            return
        line = raw.decode("utf-8", "replace").strip()
        if line.startswith("data:"):
            yield line[5:].strip()


def _reason(exc: BaseException) -> str:
    if isinstance(exc, socket.timeout):
        return "timed out"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _error_message(body: str) -> str:
    """The ``error.message`` of an OpenAI-style error body, else the body itself (shortened)."""
    try:
        err = json.loads(body).get("error")
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])
        if isinstance(err, str):
            return err
    except (ValueError, AttributeError):
        pass
    return body[:300] or "(empty body)"
