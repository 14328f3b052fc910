"""Classical generation baseline: the first frame warped into every camera with the scene at infinity.

    frames = warp_first_frame(first, cameras)      # (T, H, W, 3) uint8

What a camera-following model must beat to show that it adds more than the rotation homography
(``geometry.infinite_depth_warp``: exact for pure rotations, the far field otherwise): pixels that
frame 0 does not see keep frame 0's own pixel there (copying the first frame, the other baseline).
"""

from __future__ import annotations

import numpy as np
import torch

from geometry import Cameras, canonicalize, infinite_depth_warp


def warp_first_frame(first: np.ndarray, cameras: Cameras) -> np.ndarray:
    """first: (H, W, 3) uint8, the image of ``cameras[0]``; cameras: (T,) in that image's pixels.
    Returns (T, H, W, 3) uint8; frame 0 is ``first`` itself."""
    first = np.asarray(first)
    if first.ndim != 3 or first.shape[-1] != 3 or first.dtype != np.uint8:
        raise ValueError(f"first frame: expected (H, W, 3) uint8, got {first.shape} {first.dtype}")
    image = torch.from_numpy(first).permute(2, 0, 1).double()                  # (3, H, W)
    c2w = canonicalize(cameras.c2w.double(), 0)
    K = cameras.K.double()
    out, _ = infinite_depth_warp(image, K[0], c2w[0], K, c2w, unseen="source")   # (T, 3, H, W)
    return out.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()
