"""``EngineService``: the one engine shared by all sessions, loaded in the background, its status line,
and the job queue its tasks run through."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

from engine import CancelToken, Engine, ProgressEvent

from .jobs import Job, JobQueue


class EngineUnavailable(RuntimeError):
    """The engine could not be loaded; the message says why."""


class EngineService:
    """Loads ``Engine.from_checkpoint`` once (in a thread, so the page opens at once) and runs its tasks
    as jobs on one queue."""

    def __init__(self, checkpoint: str | None = None, device: str = "auto", *,
                 loader: Callable[[], Any] | None = None):
        self._loader = loader or (lambda: Engine.from_checkpoint(checkpoint, device=device))
        self._engine: Any = None
        self._error: str | None = None
        self._ready = threading.Event()
        self.queue = JobQueue()
        threading.Thread(target=self._load, name="engine-load", daemon=True).start()

    def _load(self) -> None:
        try:
            self._engine = self._loader()
        except Exception as exc:
            self._error = f"{type(exc).__name__}: {exc}"
        finally:
            self._ready.set()

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    def engine(self, timeout: float | None = None) -> Any:
        if not self._ready.wait(timeout):
            raise EngineUnavailable("the engine is still loading")
        if self._engine is None:
            raise EngineUnavailable(f"the engine failed to load: {self._error}")
        return self._engine

    def info(self) -> dict[str, Any] | None:
        return self._engine.info() if self._engine is not None else None

    def frame_size(self) -> tuple[int, int, int]:
        """(width, height, frames) of the model's clip; (32, 32, 9) until the engine has loaded."""
        info = self.info() or {}
        return int(info.get("width", 32)), int(info.get("height", 32)), int(info.get("frames", 9))

    def status_markdown(self) -> str:
        """The status line: engine, device, checkpoint, training domain, and a notice for untrained weights."""
        if not self.ready:
            return "▸ **Engine loading…** (the page works meanwhile; jobs wait for it)"
        if self._engine is None:
            return f"✖ **Engine unavailable**: {self._error}"
        i = self.info()
        params = i.get("parameters", 0) / 1e6
        line = (f"**Engine** {i.get('preset')} ({params:.1f}M parameters, {i.get('attention')}, "
                f"{i.get('camera_encoding')} cameras) · **device** {i.get('device')} {i.get('dtype')} · "
                f"**checkpoint** `{i.get('source')}` · **trained on** {i.get('training_domain')} · "
                f"**clip** {i.get('frames')} frames of {i.get('width')}x{i.get('height')}")
        if i.get("quality_note"):
            line += f"\n\n⚠ **Model quality**: {i['quality_note']}"
        if not i.get("trained", True):
            line += ("\n\n⚠ **Untrained weights**: no trained checkpoint is installed, so generated frames and "
                     "predicted cameras are noise. Paths, presets, import/export and the viewport work as usual.")
        return line

    def submit(self, label: str, task: Callable[[Any, CancelToken], Iterator[ProgressEvent]]) -> Job:
        """Queue ``task(engine, cancel)``; the engine is fetched inside the worker, so loading is waited for there."""
        return self.queue.submit(label, lambda token: task(self.engine(), token))
