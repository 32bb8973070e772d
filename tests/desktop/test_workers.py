"""The app's background pool: work off the GUI thread, and a shutdown that waits for it."""

from __future__ import annotations

import logging
import threading

from desktop.workers import Workers


def test_shutdown_waits_for_running_work_and_drops_what_has_not_started():
    workers = Workers(threads=1, name="test-worker")
    log: list[str] = []
    started, release = threading.Event(), threading.Event()

    def long_task():
        started.set()
        release.wait(30)
        log.append("long task finished")

    assert workers.run(long_task)
    assert workers.run(log.append, "queued task ran")  # behind the long task on the one thread
    assert started.wait(30)
    assert workers.shutdown(timeout=0.0) is False  # still running: reported, not forgotten
    assert workers.run(log.append, "after shutdown") is False
    release.set()
    assert workers.shutdown(timeout=30) is True  # returns once the running task has ended...
    assert log == ["long task finished"]  # ...and the one that had not started never does
    assert not [t for t in threading.enumerate() if t.name.startswith("test-worker")]


def test_a_task_that_does_not_end_in_time_is_reported_not_waited_on_forever(caplog):
    workers = Workers(threads=1, name="test-stuck")
    release = threading.Event()
    workers.run(release.wait)
    with caplog.at_level(logging.WARNING):
        assert workers.shutdown(timeout=0.0) is False
    assert "still running" in caplog.text
    [thread] = [t for t in threading.enumerate() if t.name.startswith("test-stuck")]
    assert thread.daemon  # never holds the process at exit
    release.set()
    thread.join(30)


def test_a_failing_task_is_logged_and_the_pool_keeps_working(caplog):
    workers = Workers(threads=2, name="test-failing")
    done = threading.Event()
    with caplog.at_level(logging.ERROR):
        workers.run(lambda: 1 / 0)
        workers.run(done.set)
        assert done.wait(30)
        assert workers.shutdown(timeout=30)
    assert "ZeroDivisionError" in caplog.text


def test_threads_start_as_work_arrives_up_to_the_limit():
    workers = Workers(threads=2, name="test-limit")
    release = threading.Event()
    running = threading.Semaphore(0)

    def task():
        running.release()
        release.wait(30)

    for _ in range(5):
        workers.run(task)
    assert running.acquire(timeout=30) and running.acquire(timeout=30)
    assert len([t for t in threading.enumerate() if t.name.startswith("test-limit")]) == 2
    release.set()
    assert workers.shutdown(timeout=30)
