"""Progress events and cancellation for streaming engine jobs to a UI.

Every task exists as a generator of ``ProgressEvent``; the last event has ``stage == "done"`` and
carries the task's result. A ``CancelToken`` checked between denoising steps stops a job cleanly.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from geometry import Cameras


class Cancelled(RuntimeError):
    """Raised inside a job when its CancelToken was cancelled."""


class CancelToken:
    """Thread-safe flag a UI sets to stop a running job at the next step."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled("job cancelled")


@dataclass
class ProgressEvent:
    """One update from a running task.

    Attributes:
        task: "estimate_poses", "generate", "generate_joint" or "cycle".
        stage: "encode", "denoise", "decode" or "done".
        step, total: denoising step counter (both 0 outside the denoising stage).
        elapsed: seconds since the task started.
        frames: (T, H, W, 3) uint8 preview of the current video estimate, when decoded this step.
        cameras: current camera estimate, when decoded this step.
        result: the task's return value, on the final event only.
    """

    task: str
    stage: str
    step: int = 0
    total: int = 0
    elapsed: float = 0.0
    frames: np.ndarray | None = None
    cameras: Cameras | None = None
    message: str = ""
    result: Any = field(default=None, repr=False)

    @property
    def fraction(self) -> float:
        if self.stage == "done":
            return 1.0
        return self.step / self.total if self.total else 0.0


def as_part(ev: ProgressEvent, index: int, parts: int, steps_per_part: int, label: str,
            elapsed: float) -> ProgressEvent:
    """``ev`` from part ``index`` of ``parts`` equal sub-jobs (windows, ensemble passes) re-counted as an event of
    the whole job: ``step`` runs over all parts (``total`` = parts x steps_per_part), the message starts with
    ``label``, ``elapsed`` is the whole job's. An event without a ``total`` (a plain job's encode / decode) counts
    as the part's start / end."""
    within = ev.step if ev.total else {"encode": 0, "decode": steps_per_part}.get(ev.stage, ev.step)
    ev.step, ev.total = index * steps_per_part + within, parts * steps_per_part
    ev.message = f"{label}: {ev.message}" if ev.message else label
    ev.elapsed = elapsed
    return ev
