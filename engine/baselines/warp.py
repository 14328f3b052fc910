"""Classical generation baseline: the source frame warped into every camera with the scene at infinity.

    frames = warp_source_frame(image, cameras, source=0)      # (T, H, W, 3) uint8
    frames = warp_source_frame(image, cameras, depth=3.0)     # the scene a plane 3 units in front instead

What a camera-following model must beat to show that it adds more than the rotation homography
(``geometry.infinite_depth_warp``: exact for pure rotations, the far field otherwise): pixels that
the source frame does not see keep its own pixel there (copying the source frame, the other baseline).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from geometry import Cameras, canonicalize, plane_warp


def warp_source_frame(image: np.ndarray, cameras: Cameras, source: int = 0, depth: float = math.inf) -> np.ndarray:
    """image: (H, W, 3) uint8, the view of ``cameras[source]``; cameras: (T,) in that image's pixels; depth:
    the scene's z-depth in the source camera, in the cameras' units (``geometry.plane_warp``; inf: at infinity).
    Returns (T, H, W, 3) uint8; frame ``source`` is ``image`` itself."""
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[-1] != 3 or image.dtype != np.uint8:
        raise ValueError(f"source frame: expected (H, W, 3) uint8, got {image.shape} {image.dtype}")
    T = cameras.batch_shape[0] if len(cameras.batch_shape) == 1 else 0
    if not 0 <= source < T:
        raise ValueError(f"source frame {source} is not one of the path's {T} cameras")
    pixels = torch.from_numpy(image).permute(2, 0, 1).double()                 # (3, H, W)
    c2w = canonicalize(cameras.c2w.double(), source)
    K = cameras.K.double()
    out, _ = plane_warp(pixels, K[source], c2w[source], K, c2w, depth=depth, unseen="source")   # (T, 3, H, W)
    return out.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()
