"""An enlarged copy of generated frames for viewing beside the photo: a plain resize, labelled as such.

The model makes frames at its own resolution (32x32 for the tiny checkpoint) from the photo resized to
cover that grid and centre-cropped (``engine.media.resize_center_crop``). The copy made here shows those
frames at the size the photo's covered region has in the photo's own pixels (a 640x360 photo and a
32x32 model: the centre 360x360), so it lines up with the photo at the photo's scale. It is never
stretched to the whole photo's aspect: that would distort what the cameras describe. The resize adds no
detail; its label says so wherever it is offered.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .media import cover_size

UPSCALE_METHOD = "bicubic"
UPSCALED_LABEL = f"upscaled copy (plain {UPSCALE_METHOD} resize), not model output detail"
MAX_UPSCALED_SIDE = 1280   # longer side of the copy: a phone photo's region need not become a 4K video


def upscaled_size(photo_width: int, photo_height: int, model_width: int, model_height: int, *,
                  max_side: int = MAX_UPSCALED_SIDE) -> tuple[int, int]:
    """(width, height) of the photo region the model's frame covers, in the photo's pixels, shrunk to
    ``max_side`` if larger, with even sides (H.264 in 4:2:0 needs them) and at least the model's size."""
    cover_h, cover_w = cover_size(photo_height, photo_width, model_height, model_width)
    w, h = model_width * photo_width / cover_w, model_height * photo_height / cover_h
    shrink = min(1.0, max_side / max(w, h))
    w, h = max(model_width, w * shrink), max(model_height, h * shrink)
    return max(2, 2 * round(w / 2)), max(2, 2 * round(h / 2))


def upscaled_copy(frames: np.ndarray, photo_width: int, photo_height: int, *,
                  max_side: int = MAX_UPSCALED_SIDE) -> np.ndarray:
    """Model frames (T, h, w, 3) uint8 -> (T, H, W, 3) uint8 at ``upscaled_size`` by a plain bicubic resize."""
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"upscaled_copy: expected frames (T, H, W, 3) uint8, got {frames.dtype} {frames.shape}")
    W, H = upscaled_size(photo_width, photo_height, frames.shape[2], frames.shape[1], max_side=max_side)
    x = torch.from_numpy(frames).permute(0, 3, 1, 2).float()
    y = F.interpolate(x, size=(H, W), mode=UPSCALE_METHOD, align_corners=False)
    return y.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous().numpy()
