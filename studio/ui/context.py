"""``SessionRegistry``: one ``StudioSession`` and one ``Viewport`` (its own Viser server) per browser
session, created when the page loads and stopped when the tab closes."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

import gradio as gr

from ..config import StudioConfig
from ..engine_service import EngineService
from ..session import StudioSession
from ..viewport import Viewport

log = logging.getLogger(__name__)


@dataclass
class LiveSession:
    session: StudioSession
    viewport: Viewport
    shown_revision: int = -1        # the path revision the page last displayed
    shown_notice: str = ""
    shown_status: str = ""             # the engine status line the page last displayed
    shown_ready: bool | None = None    # whether the page last showed the 3D view as connected
    estimate_requested: bool = False   # a clip or example was just loaded: predict its cameras next
    export_target: Path | None = None  # the file the last export wrote, for the download box
    refused_uploads: dict[str, set[str]] = field(default_factory=dict)   # per upload box: files it refused


class SessionRegistry:
    """Sessions by Gradio session hash."""

    def __init__(self, config: StudioConfig, service: EngineService):
        self.config = config
        self.service = service
        self._items: dict[str, LiveSession] = {}
        self._lock = threading.Lock()

    def open(self, key: str) -> LiveSession:
        with self._lock:
            live = self._items.get(key)
            if live is None:
                w, h, n = self.service.frame_size()
                session = StudioSession(self.config, frame_width=w, frame_height=h, num_frames=n, session_id=key[:12])
                live = LiveSession(session, Viewport(session, self.config))
                self._items[key] = live
                log.info("session %s opened, viewer on port %d", key[:8], live.viewport.port)
            return live

    def find(self, key: str) -> LiveSession | None:
        with self._lock:
            return self._items.get(key)

    def get(self, request: gr.Request) -> LiveSession:
        return self.open(request.session_hash or "anonymous")

    def close(self, key: str) -> None:
        with self._lock:
            live = self._items.pop(key, None)
        if live is not None:
            live.viewport.stop()
            live.session.close()
            log.info("session %s closed", key[:8])

    def close_all(self) -> None:
        for key in list(self._items):
            self.close(key)

    def __len__(self) -> int:
        return len(self._items)

    def sessions(self) -> list[LiveSession]:
        with self._lock:
            return list(self._items.values())
