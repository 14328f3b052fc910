"""Resampling an image into other cameras as if the scene were one plane facing the source camera.

``plane_warp``: every pixel of a target camera looks along its ray until it meets the plane z = depth of
the source camera, and sees what the source sees there: a homography per target camera. Exact for a flat
scene at that depth; for any scene, exact for pure rotations. ``infinite_depth_warp`` is its limit
depth -> inf, the rotation-only warp ``x_src ~ K_src R_src^T R_dst K_dst^{-1} x_dst``, which needs no scale:
it ignores the cameras' centres. Pixels whose point falls behind a camera or outside the source image are
marked invalid.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F

from .rays import camera_ray_bundle
from .validation import check_shape


def infinite_depth_warp(image: torch.Tensor, K_src: torch.Tensor, c2w_src: torch.Tensor,
                        K_dst: torch.Tensor, c2w_dst: torch.Tensor, *,
                        unseen: Literal["zero", "source"] = "zero") -> tuple[torch.Tensor, torch.Tensor]:
    """The source image as each target camera would see it with the scene at infinity: ``plane_warp``
    with ``depth=inf`` (the arguments and returns are its own)."""
    return plane_warp(image, K_src, c2w_src, K_dst, c2w_dst, depth=math.inf, unseen=unseen)


def plane_warp(image: torch.Tensor, K_src: torch.Tensor, c2w_src: torch.Tensor,
               K_dst: torch.Tensor, c2w_dst: torch.Tensor, *, depth: float,
               unseen: Literal["zero", "source"] = "zero") -> tuple[torch.Tensor, torch.Tensor]:
    """The source image as each target camera would see it if the scene were the plane z = ``depth`` of the
    source camera (in the cameras' world units; ``math.inf``: the scene at infinity).

    Args:
        image: (..., C, H, W) source image (any values; bilinear resampling).
        K_src: (..., 3, 3) source intrinsics on the H x W grid; c2w_src: (..., 4, 4).
        K_dst: (..., N, 3, 3) target intrinsics on the same grid; c2w_dst: (..., N, 4, 4).
        unseen: what invalid pixels show: ``"zero"``, or ``"source"``, the source image's own pixel there (the
            classical fill: where the source cannot say, assume nothing moved).
        depth: the plane's z-depth in the source camera, > 0.
    Returns:
        warped (..., N, C, H, W) and valid (..., N, 1, H, W) in {0, 1}, image's dtype.
    """
    if not depth > 0:
        raise ValueError(f"plane_warp: depth must be > 0 (math.inf for the scene at infinity), got {depth}")
    if unseen not in ("zero", "source"):
        raise ValueError(f"unseen must be 'zero' or 'source', got {unseen!r}")
    check_shape(image, (None, None, None), "image")
    check_shape(K_src, (3, 3), "K_src")
    check_shape(c2w_src, (4, 4), "c2w_src")
    check_shape(K_dst, (None, 3, 3), "K_dst")
    check_shape(c2w_dst, (None, 4, 4), "c2w_dst")
    C, H, W = image.shape[-3:]
    N = K_dst.shape[-3]
    geo = torch.float64
    lead = torch.broadcast_shapes(image.shape[:-3], K_src.shape[:-2], c2w_src.shape[:-2],
                                  K_dst.shape[:-3], c2w_dst.shape[:-3])
    dirs = camera_ray_bundle(K_dst.to(geo), H, W)                             # (..., N, H, W, 3) target camera
    # target camera -> world -> source camera: R_src^T R_dst
    R = c2w_src[..., None, :3, :3].to(geo).transpose(-1, -2) @ c2w_dst[..., :3, :3].to(geo)   # (..., N, 3, 3)
    d = torch.einsum("...nij,...nhwj->...nhwi", R, dirs)
    in_front = d[..., 2] > 1e-9
    if math.isfinite(depth):
        # The ray from the target centre c (source frame) meets z = depth at c + s d, s = (depth - c_z) / d_z;
        # projecting divides by s, so the point's direction is d + c / s. The target must be short of the plane.
        c = (c2w_src[..., None, :3, :3].to(geo).transpose(-1, -2)
             @ (c2w_dst[..., :3, 3:].to(geo) - c2w_src[..., None, :3, 3:].to(geo)))[..., 0]   # (..., N, 3)
        ahead = depth - c[..., 2]                                            # (..., N)
        inv_s = d[..., 2] / ahead[..., None, None].clamp_min(1e-9)           # (..., N, H, W)
        d = d + c[..., None, None, :] * inv_s[..., None]
        in_front = in_front & (ahead[..., None, None] > 1e-9)
    p = torch.einsum("...ij,...nhwj->...nhwi", K_src.to(geo), d)
    z = p[..., 2]
    in_front = in_front & (z > 1e-9)
    safe_z = torch.where(in_front, z, torch.ones_like(z))
    x, y = p[..., 0] / safe_z, p[..., 1] / safe_z
    valid = in_front & (x >= 0) & (x <= W) & (y >= 0) & (y <= H)
    # Pixel centres sit at +0.5, the image spans [0, W] x [0, H]: grid_sample's align_corners=False. Points
    # within half a pixel of the edge blend with the edge pixel ("border"), not with zeros.
    grid = torch.stack([2 * x / W - 1, 2 * y / H - 1], -1)
    grid = torch.where(valid[..., None], grid, torch.zeros_like(grid)).to(image.dtype)
    src = image.expand(*lead, C, H, W)[..., None, :, :, :].expand(*lead, N, C, H, W)
    flat_src = src.reshape(-1, C, H, W)
    flat_grid = grid.expand(*lead, N, H, W, 2).reshape(-1, H, W, 2)
    warped = F.grid_sample(flat_src, flat_grid, mode="bilinear", padding_mode="border", align_corners=False)
    valid_f = valid.expand(*lead, N, H, W).to(image.dtype).reshape(*lead, N, 1, H, W)
    warped = warped.reshape(*lead, N, C, H, W) * valid_f
    if unseen == "source":
        warped = warped + (1 - valid_f) * src
    return warped, valid_f
