"""``JobQueue``: every engine job of every browser session runs through one worker thread (one device),
in order. A ``Job`` streams the engine's ``ProgressEvent``s to whoever waits on it and ends in one of
the states done, failed or cancelled.
"""

from __future__ import annotations

import enum
import itertools
import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from engine import CancelToken, Cancelled, ProgressEvent

Work = Callable[[CancelToken], Iterator[ProgressEvent]]


class JobState(str, enum.Enum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in (JobState.DONE, JobState.FAILED, JobState.CANCELLED)


class Job:
    """One engine task. ``updates()`` yields its events as they come (and ``None`` while it waits)."""

    _ids = itertools.count(1)

    def __init__(self, label: str, work: Work):
        self.id = next(self._ids)
        self.label = label
        self.work = work
        self.state = JobState.QUEUED
        self.token = CancelToken()
        self.result: Any = None
        self.error: str | None = None
        self.last_event: ProgressEvent | None = None
        self.submitted = time.monotonic()
        self.started: float | None = None
        self.finished_at: float | None = None
        self._events: queue.Queue[ProgressEvent | None] = queue.Queue()
        self._finished = threading.Event()

    def cancel(self) -> None:
        """Stop at the next denoising step (or before starting, when still queued)."""
        self.token.cancel()

    @property
    def elapsed(self) -> float:
        if self.started is None:
            return 0.0
        return (self.finished_at or time.monotonic()) - self.started

    def wait(self, timeout: float | None = None) -> bool:
        return self._finished.wait(timeout)

    def updates(self, poll: float = 0.5) -> Iterator[ProgressEvent | None]:
        """Events in order until the job finishes; ``None`` every ``poll`` seconds without news."""
        while True:
            try:
                ev = self._events.get(timeout=poll)
            except queue.Empty:
                if self._finished.is_set() and self._events.empty():
                    return
                yield None
                continue
            if ev is None:  # end marker
                return
            yield ev

    # ---- called by the worker ------------------------------------------------------------------------

    def _run(self) -> None:
        if self.token.cancelled:
            self._finish(JobState.CANCELLED)
            return
        self.state = JobState.RUNNING
        self.started = time.monotonic()
        try:
            for ev in self.work(self.token):
                self.last_event = ev
                if ev.stage == "done":
                    self.result = ev.result
                self._events.put(ev)
                if self.token.cancelled:
                    raise Cancelled("job cancelled")
        except Cancelled:
            self._finish(JobState.CANCELLED)
        except Exception as exc:  # any engine failure ends the job, never the worker
            self.error = f"{type(exc).__name__}: {exc}" if not isinstance(exc, ValueError) else str(exc)
            self._finish(JobState.FAILED)
        else:
            self._finish(JobState.DONE)

    def _finish(self, state: JobState) -> None:
        self.state = state
        self.finished_at = time.monotonic()
        self._finished.set()
        self._events.put(None)


class JobQueue:
    """FIFO of jobs run one at a time by a daemon worker thread."""

    def __init__(self, name: str = "engine-jobs"):
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._waiting: list[Job] = []
        self._lock = threading.Lock()
        self.current: Job | None = None
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def submit(self, label: str, work: Work) -> Job:
        job = Job(label, work)
        with self._lock:
            self._waiting.append(job)
        self._queue.put(job)
        return job

    def ahead_of(self, job: Job) -> int:
        """How many jobs run before this one starts (0 when it is running or next)."""
        with self._lock:
            if job not in self._waiting:
                return 0
            return self._waiting.index(job) + (1 if self.current is not None else 0)

    def shutdown(self) -> None:
        self._queue.put(None)

    def _loop(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            with self._lock:
                self._waiting.remove(job)
                self.current = job
            try:
                job._run()
            finally:
                with self._lock:
                    self.current = None
