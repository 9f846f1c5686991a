"""The LocalServer's response worker threads: reused, grown on demand, idle ones exit, errors contained."""

from __future__ import annotations

import threading
import time

from realtime_nb.server.app import _Workers


def run(workers: _Workers, job=None) -> threading.Thread:
    """Submit a job and return the thread that ran it."""
    ran: list[threading.Thread] = []
    done = threading.Event()

    def task() -> None:
        if job is not None:
            job()
        ran.append(threading.current_thread())
        done.set()

    workers.submit(task)
    assert done.wait(5)
    return ran[0]


def wait_for(condition, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return False


def test_a_finished_thread_runs_the_next_job():
    workers = _Workers()
    first = run(workers)
    assert wait_for(lambda: workers._idle == 1)
    assert run(workers) is first and first.daemon
    workers.close()


def test_a_busy_thread_does_not_hold_up_the_next_job():
    workers = _Workers()
    release = threading.Event()
    started = threading.Event()

    def stuck() -> None:  # a response whose LLM stream hangs
        started.set()
        release.wait(5)

    workers.submit(stuck)
    assert started.wait(5)
    other = run(workers)
    assert other.is_alive()
    release.set()
    assert wait_for(lambda: workers._idle == 2)
    workers.close()


def test_idle_threads_exit_after_idle_s_or_on_close():
    workers = _Workers(idle_s=0.05)
    thread = run(workers)
    thread.join(5)
    assert not thread.is_alive() and workers._idle == 0
    assert run(workers) is not thread  # a new thread for the next job

    workers = _Workers()
    thread = run(workers)
    assert wait_for(lambda: workers._idle == 1)
    workers.close()
    thread.join(5)
    assert not thread.is_alive() and workers._idle == 0


def test_a_failing_job_leaves_the_thread_working(caplog):
    workers = _Workers()

    def boom() -> None:
        raise RuntimeError("boom")

    workers.submit(boom)
    assert wait_for(lambda: workers._idle == 1)
    assert "response worker job failed" in caplog.text
    run(workers)
    workers.close()


def test_many_jobs_at_once_all_run():
    workers = _Workers()
    count = 0
    lock = threading.Lock()
    done = threading.Event()

    def job() -> None:
        nonlocal count
        with lock:
            count += 1
            if count == 200:
                done.set()

    for _ in range(200):
        workers.submit(job)
    assert done.wait(10)
    assert wait_for(lambda: workers._idle >= 1)
    workers.close()
