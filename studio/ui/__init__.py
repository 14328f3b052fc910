"""The Gradio page: layout and event wiring. State lives in ``studio.session``; drawing in ``studio.viewport``."""

from .layout import build_app

__all__ = ["build_app"]
