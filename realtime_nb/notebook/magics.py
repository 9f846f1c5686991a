"""IPython extension: ``%load_ext realtime_nb`` adds ``%rt_connect``, ``%%rt`` and ``%%rt_classify``.

::

    %load_ext realtime_nb
    %rt_connect --text                       # binds a session to `rt_session` (embedded server by default)

    %%rt
    What Prince album sold the most copies?  # the reply streams into the cell output

    %%rt_classify --labels support,sales
    Is the user asking for help or trying to buy something?
"""

from __future__ import annotations

import time
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from IPython.display import display

from ..client.session import Session, connect

DEFAULT_NAME = "rt_session"
_POLL_S = 0.05


def _parse(fn: Any, line: str) -> Any:
    try:
        return parse_argstring(fn, line)
    except UsageError:
        raise
    except SystemExit:  # argparse's way of saying "bad arguments"
        raise UsageError(f"bad arguments: {line!r}; see %{fn.__name__}? for usage") from None


@magics_class
class RealtimeMagics(Magics):
    """The realtime-nb magics; see the module docstring."""

    @property
    def _ns(self) -> dict[str, Any]:
        assert self.shell is not None, "the realtime_nb magics need a running IPython shell"
        ns: dict[str, Any] = self.shell.user_ns
        return ns

    def _session(self, name: str) -> Any:
        s = self._ns.get(name)
        if s is None:
            raise UsageError(f"No realtime session named {name!r}. Run %rt_connect first "
                             f"(or pass -s NAME to use another variable).")
        if not isinstance(s, Session):
            raise UsageError(f"{name!r} is a {type(s).__name__}, not a realtime_nb Session.")
        return s

    @magic_arguments()
    @argument("-n", "--name", default=DEFAULT_NAME, help="variable to bind the session to (default rt_session)")
    @argument("--url", default=None, help="server URL (ws://…/v1); default: REALTIME_NB_URL, OpenAI, or embedded")
    @argument("--model", default=None, help="model name (default: REALTIME_NB_MODEL, else gpt-realtime-2.1)")
    @argument("--voice", default=None, help="voice, e.g. marin")
    @argument("--instructions", default=None, help="system instructions")
    @argument("--text", action="store_true", help="text-only replies (output_modalities ['text'])")
    @argument("--no-vad", action="store_true", help="turn server VAD off (push-to-talk style)")
    @line_magic
    def rt_connect(self, line: str) -> Any:
        """Connect a realtime session and bind it to a variable (default ``rt_session``)."""
        args = _parse(self.rt_connect, line)
        fields: dict[str, Any] = {}
        if args.voice:
            fields["voice"] = args.voice
        if args.instructions:
            fields["instructions"] = args.instructions
        if args.text:
            fields["output_modalities"] = ["text"]
        if args.no_vad:
            fields["turn_detection"] = None
        old = self._ns.get(args.name)
        if old is not None and hasattr(old, "close") and type(old).__name__ == "Session":
            old.close()
        s = connect(args.model, url=args.url, **fields)
        self._ns[args.name] = s
        print(f"Connected: {args.name} = {s!r}")
        return None

    @magic_arguments()
    @argument("-s", "--session", default=DEFAULT_NAME, help="session variable (default rt_session)")
    @argument("--text", action="store_true", help="ask for a text-only reply")
    @cell_magic
    def rt(self, line: str, cell: str) -> None:
        """Send the cell as a user message and stream the reply into the output."""
        args = _parse(self.rt, line)
        text = cell.strip()
        if not text:
            raise UsageError("%%rt needs a message in the cell body.")
        s = self._session(args.session)
        params: dict[str, Any] = {"output_modalities": ["text"]} if args.text else {}
        response = s.say(text, wait=False, **params)
        handle = display({"text/plain": ""}, raw=True, display_id=True)
        shown = ""
        current = response
        while True:
            live = current.text or current.transcript
            if live != shown:
                shown = live
                handle.update({"text/plain": shown}, raw=True)
            if current.done:
                nxt = current.follow_up
                if nxt is None:
                    break
                current = nxt
                continue
            time.sleep(_POLL_S)
        final = response.final()
        handle.update(final)
        self._ns["_rt"] = final

    @magic_arguments()
    @argument("--labels", required=True, help="comma-separated allowed labels, e.g. support,sales")
    @argument("-s", "--session", default=DEFAULT_NAME, help="session variable (default rt_session)")
    @argument("--last", type=int, default=None, help="use only the last N conversation items as context")
    @cell_magic
    def rt_classify(self, line: str, cell: str) -> str:
        """Out-of-band classification of the conversation with the cell as the prompt; returns the label."""
        args = _parse(self.rt_classify, line)
        labels = [x.strip() for x in args.labels.split(",") if x.strip()]
        if len(labels) < 2:
            raise UsageError("--labels needs at least two comma-separated labels, e.g. --labels support,sales")
        prompt = cell.strip()
        if not prompt:
            raise UsageError("%%rt_classify needs the classification prompt in the cell body.")
        s = self._session(args.session)
        context: Any = args.last if args.last is not None else "conversation"
        label: str = s.classify(prompt, labels, context=context)
        return label


def load_ipython_extension(ipython: Any) -> None:
    """Called by ``%load_ext realtime_nb``."""
    ipython.register_magics(RealtimeMagics)


__all__ = ["RealtimeMagics", "load_ipython_extension"]
