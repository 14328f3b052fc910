"""Per-pixel rays: canonicalisation (paper eq. 1), raxels (eq. 2), and the Plücker and raymap
encodings used in the ablations."""

from __future__ import annotations

import torch

from .cameras import Cameras, scale_intrinsics
from .transforms import invert_pose
from .validation import check_image_size, check_pose


def canonicalize(c2w: torch.Tensor, ref: int) -> torch.Tensor:
    """Express poses in the frame of camera ``ref`` (paper eq. 1): ``E_i' = E_ref^{-1} E_i``.

    Args:
        c2w: (..., N, 4, 4) camera-to-world poses.
        ref: index into N (negative indices count from the end).
    Returns:
        (..., N, 4, 4); entry ``ref`` is the identity.
    """
    check_pose(c2w, "canonicalize: c2w")
    if c2w.ndim < 3:
        raise ValueError(f"canonicalize: expected (..., N, 4, 4), got {tuple(c2w.shape)}")
    n = c2w.shape[-3]
    if not -n <= ref < n:
        raise ValueError(f"canonicalize: ref {ref} out of range for {n} frames")
    ref = ref % n
    return invert_pose(c2w[..., ref:ref + 1, :, :]) @ c2w


def pixel_grid(height: int, width: int, *, dtype: torch.dtype = torch.float32,
               device: torch.device | str | None = None) -> torch.Tensor:
    """Homogeneous pixel centres (height, width, 3): ``(x + 0.5, y + 0.5, 1)``."""
    check_image_size(width, height, "pixel_grid")
    ys = torch.arange(height, dtype=dtype, device=device) + 0.5
    xs = torch.arange(width, dtype=dtype, device=device) + 0.5
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([gx, gy, torch.ones_like(gx)], -1)


def grid_intrinsics(cameras: Cameras, height: int, width: int) -> torch.Tensor:
    """``cameras.K`` (..., 3, 3) rescaled from the cameras' image size to a ``width`` x ``height`` grid."""
    check_image_size(width, height, "ray grid")
    return scale_intrinsics(cameras.K, width / cameras.width, height / cameras.height)


def camera_ray_bundle(K: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Unit ray directions in camera coordinates, ``normalize(K^{-1} u~)``.

    Args:
        K: (..., 3, 3) intrinsics on the ``width`` x ``height`` grid.
    Returns:
        (..., height, width, 3).
    """
    u = pixel_grid(height, width, dtype=K.dtype, device=K.device)
    # K^{-1} of an upper-triangular pinhole matrix in closed form: no solve, no pivoting noise.
    fx, fy = K[..., 0, 0, None, None], K[..., 1, 1, None, None]
    cx, cy, s = K[..., 0, 2, None, None], K[..., 1, 2, None, None], K[..., 0, 1, None, None]
    y = (u[..., 1] - cy) / fy
    x = (u[..., 0] - cx - s * y) / fx
    d = torch.stack([x, y, torch.ones_like(x)], -1)
    return d / torch.linalg.vector_norm(d, dim=-1, keepdim=True)


def world_rays(cameras: Cameras, height: int, width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """World-space ray origins and unit directions on a ``width`` x ``height`` grid.

    Returns:
        origins (..., 3, height, width) and directions (..., 3, height, width).
    """
    K = grid_intrinsics(cameras, height, width)
    b = camera_ray_bundle(K, height, width)                                   # (..., H, W, 3)
    R = cameras.R
    d = torch.einsum("...ij,...hwj->...ihw", R, b)                            # (..., 3, H, W)
    o = cameras.centers[..., :, None, None].expand_as(d)
    return o, d


def raxels(cameras: Cameras, height: int, width: int) -> torch.Tensor:
    """Raxel images (paper eq. 2): ``d(u) + o(u)`` per pixel.

    Canonicalise the poses first (``canonicalize``) so the reference frame is the bare bundle.

    Args:
        cameras: batch (...,) of cameras; K refers to ``cameras.width`` x ``cameras.height``.
        height, width: the raxel grid (K is rescaled to it).
    Returns:
        (..., 3, height, width), same dtype as the cameras.
    """
    o, d = world_rays(cameras, height, width)
    return d + o


def plucker(cameras: Cameras, height: int, width: int) -> torch.Tensor:
    """Plücker ray coordinates ``(d, o x d)``: (..., 6, height, width)."""
    o, d = world_rays(cameras, height, width)
    return torch.cat([d, torch.linalg.cross(o, d, dim=-3)], -3)


def raymap(cameras: Cameras, height: int, width: int) -> torch.Tensor:
    """Raymap ``(o, d)``: (..., 6, height, width)."""
    o, d = world_rays(cameras, height, width)
    return torch.cat([o, d], -3)
