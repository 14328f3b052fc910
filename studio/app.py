"""``launch()``: start the studio (``python app.py`` / ``make run``) on http://127.0.0.1:7860."""

from __future__ import annotations

import logging
import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")   # fully offline: no telemetry calls

from .config import StudioConfig  # noqa: E402
from .engine_service import EngineService  # noqa: E402


def create(config: StudioConfig | None = None, *, service: EngineService | None = None):
    """The Gradio app, its session registry and the engine service, not yet listening."""
    from .ui import build_app
    from .ui.layout import CSS, THEME

    config = config or StudioConfig.from_env()
    service = service or EngineService(config.checkpoint, config.device)
    demo, registry = build_app(config, service)
    demo.queue(default_concurrency_limit=8)
    demo.studio_launch_kwargs = {"theme": THEME, "css": CSS}
    return demo, registry, service


def launch(config: StudioConfig | None = None, *, block: bool = True, quiet: bool = False):
    """Serve the studio. ``block=False`` returns (demo, registry, service) with the server running."""
    logging.basicConfig(level=logging.WARNING if quiet else logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)   # Gradio's own startup checks
    config = config or StudioConfig.from_env()
    demo, registry, service = create(config)
    print(f"raxel-studio on http://{config.host}:{config.port} (per-session 3D views from port {config.viser_port})")
    try:
        demo.launch(server_name=config.host, server_port=config.port, share=False, inbrowser=False,
                    prevent_thread_lock=not block, show_error=True, quiet=quiet, footer_links=[],
                    **demo.studio_launch_kwargs)
    finally:
        if block:
            registry.close_all()
    return demo, registry, service
