"""raxel-studio's app: a Gradio page with an embedded live Viser scene for drawing camera paths, generating
novel-view video, predicting camera poses and comparing with ground truth.

State lives in ``StudioSession`` (plain Python); ``Viewport`` draws it in a per-session Viser server;
``workflows`` run engine tasks through one job queue; ``studio.ui`` lays out the page; ``launch()`` serves it.
"""

from .camera_path import CameraPath, PathError, PathSettings
from .config import StudioConfig
from .session import StudioSession

__all__ = ["StudioSession", "StudioConfig", "CameraPath", "PathSettings", "PathError", "launch"]


def launch(*args, **kwargs):
    from .app import launch as _launch

    return _launch(*args, **kwargs)
