"""The one background event loop that every Session of the process runs on.

Why a thread of its own (docs/architecture.md, "Threads and loops"): a notebook cell that blocks (``s.say``)
must not stop the websocket, audio playback or handlers, and IPython/ipykernel already run a loop of
their own that we must not re-enter (no nest-asyncio: it drops kernel messages under ipykernel 7).

- ``run_sync(coro, timeout)`` runs a coroutine on the loop and blocks the calling thread for the result.
  Called *from* the loop thread (inside an event handler) it raises a clear ``RuntimeError`` instead of
  deadlocking.
- ``submit(coro)`` schedules it and returns a ``concurrent.futures.Future``; ``wrap_future`` turns that
  into something the caller's own loop can await (ipykernel's loop, ``asyncio.run``).

>>> async def answer():
...     return 42
>>> run_sync(answer())
42
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from ..errors import RealtimeTimeout

__all__ = ["call_soon", "get_loop", "in_loop_thread", "run_sync", "submit", "wrap_future"]

T = TypeVar("T")

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_thread: threading.Thread | None = None

LOOP_THREAD_MESSAGE = (
    "{what} was called from the realtime-nb event loop thread (e.g. inside an event handler registered "
    "with s.on(...)); a blocking call there would deadlock the session. Use the async method instead "
    "(e.g. `await s.asay(...)` in an async handler), or schedule the work with "
    "`asyncio.get_running_loop().create_task(s.asay(...))` from the handler."
)


def _run(loop: asyncio.AbstractEventLoop, ready: threading.Event) -> None:
    asyncio.set_event_loop(loop)
    loop.call_soon(ready.set)
    loop.run_forever()


def get_loop() -> asyncio.AbstractEventLoop:
    """The shared loop, started on first use in a daemon thread named ``realtime-nb-loop``."""
    global _loop, _thread
    with _lock:
        if _loop is not None and _thread is not None and _thread.is_alive():
            return _loop
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        thread = threading.Thread(target=_run, args=(loop, ready), name="realtime-nb-loop", daemon=True)
        thread.start()
        ready.wait()
        _loop, _thread = loop, thread
        return loop


def in_loop_thread() -> bool:
    """True when the caller runs on the shared loop's thread (inside a handler or a task of ours)."""
    return _thread is not None and threading.current_thread() is _thread


def check_not_loop_thread(what: str = "A blocking realtime-nb method") -> None:
    """Raise the clear ``RuntimeError`` when a blocking call is attempted from the loop thread."""
    if in_loop_thread():
        raise RuntimeError(LOOP_THREAD_MESSAGE.format(what=what))


def submit(coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
    """Schedule ``coro`` on the shared loop from any thread; returns a thread-safe future."""
    return asyncio.run_coroutine_threadsafe(coro, get_loop())


def run_sync(coro: Coroutine[Any, Any, T], timeout: float | None = None, *, what: str | None = None) -> T:
    """Run ``coro`` on the shared loop and wait for its result (``TimeoutError`` after ``timeout`` s).

    On timeout the coroutine is cancelled. From the loop thread itself this raises ``RuntimeError``.
    """
    if in_loop_thread():
        coro.close()  # never started: avoid the "coroutine was never awaited" warning
        raise RuntimeError(LOOP_THREAD_MESSAGE.format(what=what or "A blocking realtime-nb method"))
    future = submit(coro)
    try:
        return future.result(timeout)
    except concurrent.futures.TimeoutError:
        if future.done():  # the coroutine itself raised TimeoutError (the same class since 3.11)
            raise
        future.cancel()
        raise RealtimeTimeout(f"result of {what or 'the call'}", timeout,
                              hint="the operation was cancelled; the session is still usable") from None
    except KeyboardInterrupt:
        future.cancel()  # Ctrl-C / "interrupt kernel" stops the operation, not just the wait
        raise


async def wrap_future(future: concurrent.futures.Future[T]) -> T:
    """Await a future of the shared loop from another running loop (cancelling it cancels the work)."""
    if in_loop_thread():
        return await asyncio.wrap_future(future)
    wrapped = asyncio.wrap_future(future)
    try:
        return await wrapped
    except asyncio.CancelledError:
        future.cancel()
        raise


async def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """Await ``coro`` on the shared loop from any loop: directly when already on it, else via a future."""
    if in_loop_thread():
        return await coro
    return await wrap_future(submit(coro))


def call_soon(fn: Callable[..., Any], *args: Any) -> None:
    """Call ``fn(*args)`` on the loop thread soon (thread-safe; for tiny hand-offs like comm buffers)."""
    get_loop().call_soon_threadsafe(fn, *args)
