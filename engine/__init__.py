"""The engine: model, data, training, sampling, serving. Uses ``geometry``; knows nothing of any UI.

Public API::

    from engine import Engine, ProgressEvent, CancelToken, Cancelled
    eng = Engine.from_checkpoint()                # the shipped default, or a path, or a preset name
    cams = eng.estimate_poses("clip.mp4", steps=2)
    frames = eng.generate(["photo.png"], cams)
    warp = eng.generate(["photo.png"], cams, method="warp")   # the classical baseline beside it
    frames, cams = eng.generate_joint(["photo.png"], num_frames=9)
    report = eng.cycle("clip.mp4", num_sources=3)
    for event in eng.generate_stream(["photo.png"], cams, cancel=token): ...

The names are imported on first use (PEP 562), so ``python -m engine --help`` and any command that
does not need the model start without importing torch, diffusers or geometry.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .lazy import lazy_getattr

# public name -> the submodule that defines it
_EXPORTS = {
    "Engine": "engine", "DEFAULT_CHECKPOINT": "engine", "GENERATION_METHODS": "config", "pick_device": "engine",
    "frame_metrics": "image_metrics",
    "ProgressEvent": "events", "CancelToken": "events", "Cancelled": "events",
    "PoseResult": "tasks", "JointResult": "tasks",
    "EngineConfig": "config", "ModelConfig": "config", "VAEConfig": "config", "FlowConfig": "config",
    "SamplerConfig": "config", "ClipConfig": "config", "preset": "config",
    "upscaled_copy": "upscale", "UPSCALE_METHOD": "upscale", "UPSCALED_LABEL": "upscale",
    # reading user media, with the limits and errors a UI shows
    "MediaError": "media", "UnreadableMediaError": "media", "MediaInfo": "media", "MediaLimits": "media",
    "probe_media": "media", "decode_frames": "media", "max_image_pixels": "media",
}

__all__ = ["Engine", "ProgressEvent", "CancelToken", "Cancelled", "PoseResult", "JointResult", "EngineConfig",
           "ModelConfig", "VAEConfig", "FlowConfig", "SamplerConfig", "ClipConfig", "preset", "pick_device",
           "DEFAULT_CHECKPOINT", "GENERATION_METHODS", "frame_metrics", "upscaled_copy", "UPSCALE_METHOD",
           "UPSCALED_LABEL", "MediaError", "UnreadableMediaError", "MediaInfo", "MediaLimits", "probe_media",
           "decode_frames", "max_image_pixels"]


__getattr__ = lazy_getattr(__name__, {name: f".{module}" for name, module in _EXPORTS.items()})


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:
    from .config import (GENERATION_METHODS, ClipConfig, EngineConfig, FlowConfig, ModelConfig, SamplerConfig,
                         VAEConfig, preset)
    from .engine import DEFAULT_CHECKPOINT, Engine, pick_device
    from .image_metrics import frame_metrics
    from .media import (MediaError, MediaInfo, MediaLimits, UnreadableMediaError, decode_frames, max_image_pixels,
                        probe_media)
    from .events import CancelToken, Cancelled, ProgressEvent
    from .tasks import JointResult, PoseResult
    from .upscale import UPSCALE_METHOD, UPSCALED_LABEL, upscaled_copy
