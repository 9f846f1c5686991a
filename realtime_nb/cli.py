"""The ``realtime-nb`` command: ``serve`` runs the local Realtime server in the foreground."""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import logging
import os
import sys


def _pace(value: str) -> str | float:
    if value in ("fast", "realtime"):
        return value
    try:
        return float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--pace must be fast, realtime or a number, not {value!r}") from None


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` listens on this machine only (``localhost`` or a loopback address).

    Anything else counts as reachable from other machines: ``0.0.0.0``, ``::``, ``""``, a LAN address
    or a host name (which may resolve to one).
    """
    if host.strip().lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _check_bind(args: argparse.Namespace) -> str | None:
    """The refusal to print for a non-loopback bind without a key (``None``: go ahead)."""
    if is_loopback(args.host) or args.api_key or args.insecure:
        return None
    return (f"refusing to listen on {args.host!r} without --api-key: that address is reachable from other "
            "machines, and anyone who can reach it could use this server (and the LLM behind --brain chat). "
            "Give --api-key KEY, bind 127.0.0.1, or pass --insecure to do it anyway.")


def _serve(args: argparse.Namespace) -> int:
    from .server import LocalServer
    from .server.vad import default_backend

    refusal = _check_bind(args)
    if refusal is not None:
        print(f"realtime-nb serve: {refusal}", file=sys.stderr)
        return 2
    if not is_loopback(args.host):
        print(f"realtime-nb serve: WARNING: listening on {args.host!r}, reachable from other machines "
              + ("(clients must send the --api-key)." if args.api_key else "WITHOUT an API key (--insecure)."),
              file=sys.stderr, flush=True)
    try:
        server = LocalServer(args.host, args.port, api_key=args.api_key, pace=args.pace, beta_dialect=args.beta_dialect,
                             max_session_s=args.max_session_minutes * 60, chunk_ms=args.chunk_ms, vad=args.vad,
                             brain=args.brain, llm_url=args.llm_url, llm_model=args.llm_model,
                             llm_api_key=args.llm_api_key or os.environ.get("REALTIME_NB_LLM_API_KEY"),
                             stt_model=args.stt_model)
    except (ValueError, ImportError) as exc:
        print(f"realtime-nb serve: {exc}", file=sys.stderr)
        return 2

    async def main() -> None:
        task = asyncio.create_task(server.serve())
        while server._server is None and not task.done():
            await asyncio.sleep(0.01)
        if server._server is not None:
            brain = server.brain.name + (f" {server.brain.model} at {server.brain.url}"  # type: ignore[attr-defined]
                                         if server.brain.name == "chat" else "")
            print(f"realtime-nb local Realtime server on {server.url}  (brain: {brain}; vad: "
                  f"{server.vad or default_backend()}; Ctrl-C stops)", flush=True)
            print(f"  openai SDK:  AsyncOpenAI(api_key=..., websocket_base_url={server.url!r})", flush=True)
        await task

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        print(f"realtime-nb serve: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="realtime-nb", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the local GA Realtime server in the foreground")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback only)")
    serve.add_argument("--port", type=int, default=8765, help="port (0 picks a free one; default 8765)")
    serve.add_argument("--api-key", default=None, help="require this bearer key from clients")
    serve.add_argument("--insecure", action="store_true",
                       help="allow a non-loopback --host (0.0.0.0, ::, a LAN address) without --api-key")
    serve.add_argument("--beta-dialect", action="store_true",
                       help="serve the retired beta dialect to clients sending 'OpenAI-Beta: realtime=v1' "
                            "(default: refuse them as the live service does, beta_api_shape_disabled)")
    serve.add_argument("--pace", default="fast", type=_pace,
                       help="stream audio: fast (as fast as possible), realtime, or a factor (1.0 = real time)")
    serve.add_argument("--chunk-ms", type=int, default=None,
                       help="audio per output_audio.delta (default 100 at --pace fast, 40 when paced)")
    serve.add_argument("--brain", default="echo", choices=["echo", "chat"],
                       help="echo (deterministic rules) or chat (an OpenAI-compatible chat-completions LLM)")
    serve.add_argument("--llm-url", default=None,
                       help="chat brain: API base URL, e.g. http://127.0.0.1:11434/v1 (Ollama; the default)")
    serve.add_argument("--llm-model", default=None, help="chat brain: model name (required with --brain chat)")
    serve.add_argument("--llm-api-key", default=None,
                       help="chat brain: bearer key for the LLM (default: $REALTIME_NB_LLM_API_KEY)")
    serve.add_argument("--vad", default=None, choices=["webrtc", "silero", "energy"],
                       help="voice activity detector for server_vad (default: webrtc when installed)")
    serve.add_argument("--max-session-minutes", type=float, default=60.0,
                       help="maximum session length before session_expired (default 60)")
    serve.add_argument("--stt-model", default=None,
                       help="speech recognizer: pocketsphinx, a CTranslate2 Whisper model directory or a Whisper "
                            "model name (default: $REALTIME_NB_STT_MODEL, else Whisper base from the speech extra)")
    serve.add_argument("-v", "--verbose", action="store_true", help="log connections and errors")
    demo = sub.add_parser("demo", help="a text turn, a spoken turn, a tool call and a classification, in the terminal")
    demo.add_argument("--local", action="store_true",
                      help="use a fresh embedded server even if OPENAI_API_KEY or REALTIME_NB_URL is set")
    lab = sub.add_parser("lab", help="open JupyterLab on the quickstart notebook (embedded server by default)")
    lab.add_argument("--dir", default="realtime-nb-notebooks", help="where to put the example notebooks")
    lab.add_argument("--no-browser", action="store_true", help="do not open a browser")
    lab.add_argument("jupyter_args", nargs="*", help="more JupyterLab options, after --, e.g. -- --port 9999")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if getattr(args, "verbose", False) else logging.WARNING)
    if args.command == "serve":
        return _serve(args)
    if args.command == "demo":
        from .demo import run

        return run(local=args.local)
    if args.command == "lab":
        from .notebook.lab import run_lab

        return run_lab(args.dir, browser=not args.no_browser, extra=args.jupyter_args)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
