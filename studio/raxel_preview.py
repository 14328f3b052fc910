"""The raxel images of a path (paper eq. 2) as a picture: what the model is conditioned on."""

from __future__ import annotations

import numpy as np

from geometry import Cameras, canonicalize, raxels

from .media import strip


def raxel_images(cams: Cameras, ref: int, *, height: int, width: int) -> np.ndarray:
    """(T, H, W, 3) uint8: raxels of ``cams`` canonicalised to frame ``ref``, mapped to colours with one
    shared range for the whole path (so changes between frames stay visible)."""
    canon = cams.with_poses(canonicalize(cams.c2w, ref))
    r = raxels(canon, height, width).double().numpy()                      # (T, 3, H, W)
    lo, hi = r.min(axis=(0, 2, 3), keepdims=True), r.max(axis=(0, 2, 3), keepdims=True)
    img = (r - lo) / np.maximum(hi - lo, 1e-9)
    return (img.transpose(0, 2, 3, 1) * 255 + 0.5).astype(np.uint8)


def raxel_strip(cams: Cameras, ref: int, *, grid: int = 24, size: int = 72) -> np.ndarray:
    """Image strip of the path's raxel images on a ``grid``-pixel-high grid (aspect of the cameras)."""
    h = grid
    w = max(1, round(grid * cams.width / cams.height))
    return strip(raxel_images(cams, ref, height=h, width=w), size=size, per_row=13)
