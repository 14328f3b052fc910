"""The engine: model, data, training, sampling, serving. Uses ``geometry``; knows nothing of any UI.

Public API::

    from engine import Engine, ProgressEvent, CancelToken, Cancelled
    eng = Engine.from_checkpoint()                # the shipped default, or a path, or a preset name
    cams = eng.estimate_poses("clip.mp4", steps=2)
    frames = eng.generate(["photo.png"], cams)
    frames, cams = eng.generate_joint(["photo.png"], num_frames=9)
    report = eng.cycle("clip.mp4", num_sources=3)
    for event in eng.generate_stream(["photo.png"], cams, cancel=token): ...
"""

from .config import ClipConfig, EngineConfig, FlowConfig, ModelConfig, SamplerConfig, VAEConfig, preset
from .engine import DEFAULT_CHECKPOINT, Engine, pick_device
from .events import CancelToken, Cancelled, ProgressEvent
from .tasks import JointResult, PoseResult
from .upscale import UPSCALE_METHOD, UPSCALED_LABEL, upscaled_copy

__all__ = ["Engine", "ProgressEvent", "CancelToken", "Cancelled", "PoseResult", "JointResult", "EngineConfig",
           "ModelConfig", "VAEConfig", "FlowConfig", "SamplerConfig", "ClipConfig", "preset", "pick_device",
           "DEFAULT_CHECKPOINT", "upscaled_copy", "UPSCALE_METHOD", "UPSCALED_LABEL"]
