"""A real local HTTP server speaking the OpenAI chat-completions streaming format, for tests and benchmarks.

``FakeLLM()`` listens on 127.0.0.1, port 0, in a daemon thread (``http.server``). ``POST
/v1/chat/completions`` with ``stream: true`` answers with server-sent events, one ``data: {json}``
line per chunk and a final ``data: [DONE]``:

- if tools are offered and the last user message names one of them (its name, ``_`` read as a space)
  or ``tool_choice`` forces one, a tool call streamed in argument fragments (``{"city": "Paris"}`` style
  arguments built from the tool's first string parameter and the user's last word);
- otherwise the text ``reply(last_user_text)`` (by default ``"You asked: <text>. I am the fake model."``)
  streamed a few characters per chunk;
- ``max_tokens`` cuts the reply to that many chunks and finishes with ``finish_reason: "length"``.

Every request body is kept in ``.requests``. ``delay_s`` sleeps before each chunk (a slow model);
``first_delay_s`` before the first one (time to first token).

>>> with FakeLLM() as llm:              # doctest: +SKIP
...     ChatBrain(llm.url, "fake")
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def _last_user_text(messages: list[dict[str, Any]]) -> str:
    for m in reversed(messages):
        if m.get("role") == "user":
            return str(m.get("content") or "")
    return ""


class FakeLLM:
    """See the module docstring."""

    def __init__(self, *, reply: Callable[[str], str] | None = None, chunk_chars: int = 6,
                 delay_s: float = 0.0, first_delay_s: float = 0.0) -> None:
        self.reply = reply or (lambda text: f"You asked: {text}. I am the fake model.")
        self.chunk_chars, self.delay_s, self.first_delay_s = chunk_chars, delay_s, first_delay_s
        self.requests: list[dict[str, Any]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
                if self.path.rstrip("/") != "/v1/chat/completions":
                    self._json(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})
                    return
                fake.requests.append(body)
                if not body.get("model"):
                    self._json(400, {"error": {"message": "you must provide a model parameter"}})
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True
                try:
                    for i, chunk in enumerate(fake.chunks(body)):
                        time.sleep(fake.first_delay_s if i == 0 else fake.delay_s)
                        line = chunk if isinstance(chunk, str) else json.dumps(chunk)  # str: sent as is
                        self.wfile.write(b"data: " + line.encode() + b"\n\n")
                        self.wfile.flush()
                    self.wfile.write(b"data: [DONE]\n\n")
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the brain stopped reading (cancelled, or it had enough tokens)

            def _json(self, status: int, obj: Any) -> None:
                data = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    # -- what the model "says" ------------------------------------------------------------------------
    def _tool_for(self, body: dict[str, Any]) -> dict[str, Any] | None:
        tools = [t["function"] for t in body.get("tools") or []]
        choice = body.get("tool_choice", "auto")
        if not tools or choice == "none" or (body["messages"] and body["messages"][-1].get("role") == "tool"):
            return None
        if isinstance(choice, dict):
            return next((t for t in tools if t["name"] == choice["function"]["name"]), None)
        if choice == "required":
            return tools[0]
        text = _last_user_text(body["messages"]).lower()
        return next((t for t in tools if t["name"].lower() in text or t["name"].replace("_", " ").lower() in text),
                    None)

    def chunks(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        base = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0, "model": body["model"]}

        def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            return {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

        out = [chunk({"role": "assistant", "content": ""})]
        tool = self._tool_for(body)
        if tool is not None:
            props = list((tool.get("parameters") or {}).get("properties") or {})
            words = _last_user_text(body["messages"]).rstrip("?.! ").split()
            args = json.dumps({props[0]: words[-1] if words else ""} if props else {})
            out.append(chunk({"tool_calls": [{"index": 0, "id": "call_fake1", "type": "function",
                                              "function": {"name": tool["name"], "arguments": ""}}]}))
            for i in range(0, len(args), 5):
                out.append(chunk({"tool_calls": [{"index": 0, "function": {"arguments": args[i:i + 5]}}]}))
            out.append(chunk({}, "tool_calls"))
            return out
        messages = body["messages"]
        if messages and messages[-1].get("role") == "tool":
            text = f"The tool said {messages[-1]['content']}."
        else:
            text = self.reply(_last_user_text(messages))
        pieces = [text[i:i + self.chunk_chars] for i in range(0, len(text), self.chunk_chars)]
        limit = body.get("max_tokens")
        finish = "stop"
        if limit is not None and len(pieces) > limit:
            pieces, finish = pieces[:limit], "length"
        out.extend(chunk({"content": p}) for p in pieces)
        out.append(chunk({}, finish))
        return out

    # -- the server -----------------------------------------------------------------------------------
    def __enter__(self) -> FakeLLM:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

