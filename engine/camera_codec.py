"""Cameras <-> the model's ray images: the single place where this conversion happens.

Encode (paper eqs. 1-2)
    1. canonicalise to the reference camera: ``E_i' = E_ref^{-1} E_i`` (the reference sits at the origin);
    2. shrink the scene by ``s = scene_scale(...)`` so every camera centre lies in the unit ball;
    3. build per-pixel rays on the ray grid: raxels ``d + o`` (3 channels) or Plücker ``(d, o x d)`` (6);
    4. map to the autoencoder's range: ``x 0.5`` (``RAY_RANGE_SCALE``).

Why the unit ball and x 0.5
    A raxel is ``d + o`` with ``|d| = 1``. If ``|o| <= 1`` then ``|d + o| <= 2``, so every channel of
    ``0.5 (d + o)`` lies in [-1, 1]: the range of RGB video, and the range the Wan decoder clamps its
    output to. A scene with a camera farther than 1 from the reference would be clipped by the decoder
    and its poses lost, so it is shrunk; a scene inside the ball keeps its metric scale (``s = 1``), as
    the paper trains on metric-scale data. ``s`` is returned so decoded translations can be scaled back.

    Plücker coordinates ``(d, m)``, ``m = o x d``, already satisfy ``|d| = 1`` and ``|m| <= |o| |d| <= 1``,
    so they would fit at x 1; they get the same x 0.5 anyway so that both encodings carry the same
    geometry at the same magnitude (a fair ablation: equal signal against the same diffusion noise).

Decode
    undo the range map; raxels -> ``geometry.recover_cameras`` (Procrustes + median-of-ratios focal,
    eqs. 6-7); Plücker -> camera centre by least squares from the moments (``m = c x d`` is linear in
    ``c``), then raxels ``normalize(d) + c`` and the same recovery for rotation and focal length. The
    translations are divided by ``s`` so they come back in the caller's units, canonicalised to ``ref``.
    With known intrinsics only the poses are fitted (Procrustes against the known bundle), which
    always succeeds, even on rays that are no pinhole bundle at all. Recovery runs in float64 (a few
    thousand points per frame) so float32 ray images still give rotations to ~1e-5 degrees; the result
    has the images' dtype.

Shapes: cameras have batch shape (..., N) (N frames of a clip); ray images are (..., N, C, H, W).
The autoencoder takes 3-channel videos: ``ray_images_to_videos`` turns a clip's raxel images into one
video and its Plücker images into two (directions, moments); ``videos_to_ray_images`` undoes it.
"""

from __future__ import annotations

from typing import Literal

import torch
from einops import rearrange

from geometry import (Cameras, camera_ray_bundle, canonicalize, make_pose, plucker, project_to_so3, raxels,
                      recover_cameras, scale_intrinsics)
from geometry.recover import PrincipalPoint, procrustes
from geometry.validation import check_intrinsics

__all__ = ["RayEncoding", "RAY_RANGE_SCALE", "RAY_CHANNELS", "ray_channels", "scene_scale", "encode_cameras",
           "decode_cameras", "centres_from_moments", "ray_images_to_videos", "videos_to_ray_images"]

RayEncoding = Literal["raxel", "plucker"]

RAY_RANGE_SCALE = 0.5                    # ray units -> autoencoder range [-1, 1] (see module docstring)
RAY_CHANNELS: dict[str, int] = {"raxel": 3, "plucker": 6}

# Canonical poses are built exactly (inverse times pose), so the reference is the identity to rounding.
_IDENTITY_ATOL = {torch.float32: 1e-4, torch.float64: 1e-9}
# |d + o| can exceed 2 by rounding when |o| = 1 exactly; anything beyond this is a real range error.
_RANGE_ATOL = 1e-5


def ray_channels(encoding: RayEncoding) -> int:
    """Channels of one ray image: 3 for raxels, 6 for Plücker."""
    if encoding not in RAY_CHANNELS:
        raise ValueError(f"encoding must be 'raxel' or 'plucker', got {encoding!r}")
    return RAY_CHANNELS[encoding]


# --------------------------------------------------------------------------------------
# Scene scale
# --------------------------------------------------------------------------------------

def scene_scale(c2w_canonical: torch.Tensor) -> torch.Tensor:
    """``s = min(1, 1 / max_i |t_i|)`` per clip, so the scaled camera centres lie in the unit ball.

    Args:
        c2w_canonical: (..., N, 4, 4) poses canonicalised to a reference camera (one of them is the
            identity, so ``|t_i|`` is the distance from the reference).
    Returns:
        (...,) scale in (0, 1], the poses' dtype. Only translations are scaled (rotations are unitless).
    """
    if not isinstance(c2w_canonical, torch.Tensor) or c2w_canonical.ndim < 3 or c2w_canonical.shape[-2:] != (4, 4):
        shape = tuple(c2w_canonical.shape) if isinstance(c2w_canonical, torch.Tensor) else type(c2w_canonical)
        raise ValueError(f"scene_scale: expected canonical poses (..., N, 4, 4), got {shape}")
    if not bool(torch.isfinite(c2w_canonical).all()):
        raise ValueError("scene_scale: poses contain NaN or infinite values")
    eye = torch.eye(3, dtype=c2w_canonical.dtype, device=c2w_canonical.device)
    distance = torch.linalg.vector_norm(c2w_canonical[..., :3, 3], dim=-1)  # (..., N)
    farthest = distance.amax(-1)                                            # (...)
    # Rounding in E_ref^{-1} E_ref grows with the translations, so compare them relative to the scene size.
    off_identity = ((c2w_canonical[..., :3, :3] - eye).abs().amax((-2, -1))
                    + distance / torch.clamp(farthest, min=1.0)[..., None]).amin(-1)   # (...): closest frame
    if bool((off_identity > _IDENTITY_ATOL.get(c2w_canonical.dtype, 1e-4)).any()):
        raise ValueError("scene_scale: no frame is the identity; canonicalise the poses to the reference "
                         "camera first (geometry.canonicalize)")
    # Scenes inside the ball keep their (metric) scale; the max also guards a pure rotation (distance 0).
    return 1.0 / torch.clamp(farthest, min=1.0)


def _scale_tensor(scale: float | torch.Tensor, batch: torch.Size, dtype: torch.dtype,
                  device: torch.device, name: str) -> torch.Tensor:
    s = torch.as_tensor(scale, dtype=dtype, device=device)
    try:
        s = s.expand(batch)
    except RuntimeError as exc:
        raise ValueError(f"{name}: scale of shape {tuple(s.shape)} does not match the clip batch shape "
                         f"{tuple(batch)}") from exc
    if not bool(torch.isfinite(s).all()) or bool((s <= 0).any()):
        raise ValueError(f"{name}: scale must be positive and finite")
    return s


# --------------------------------------------------------------------------------------
# Cameras -> ray images
# --------------------------------------------------------------------------------------

def encode_cameras(cameras: Cameras, *, ref: int, grid: tuple[int, int], encoding: RayEncoding = "raxel",
                   scale: float | torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Ray images of a clip's cameras, in the autoencoder's range.

    Args:
        cameras: batch shape (..., N); ``K`` refers to ``cameras.width`` x ``cameras.height``.
        ref: index of the reference frame in N (it becomes the identity pose).
        grid: (H, W) of the ray images (K is rescaled to it).
        encoding: ``"raxel"`` (paper, 3 channels) or ``"plucker"`` (ablation, 6 channels).
        scale: scene scale ((...,) or a float); ``None`` computes ``scene_scale`` so all centres fit in the
            unit ball. A given scale that pushes a centre outside the ball raises.
    Returns:
        images (..., N, C, H, W) in [-1, 1] with the cameras' dtype, and scale (...,).
    """
    ray_channels(encoding)                                                   # validates the name
    if cameras.c2w.ndim < 3:
        raise ValueError(f"encode_cameras: expected cameras with batch shape (..., N), "
                         f"got {tuple(cameras.batch_shape)}")
    height, width = (int(v) for v in grid)
    # Poses from float32 sources (files, predictions) are orthonormal only to ~1e-7; project them so the
    # canonical reference is the identity to the working precision.
    c2w = cameras.c2w.clone()
    c2w[..., :3, :3] = project_to_so3(c2w[..., :3, :3])
    c2w = canonicalize(c2w, ref)                                             # (..., N, 4, 4)
    batch = c2w.shape[:-3]
    if scale is None:
        s = scene_scale(c2w)                                                 # (...)
    else:
        s = _scale_tensor(scale, batch, c2w.dtype, c2w.device, "encode_cameras")
    c2w = c2w.clone()
    c2w[..., :3, 3] *= s[..., None, None]
    scaled = cameras.with_poses(c2w)
    rays = raxels(scaled, height, width) if encoding == "raxel" else plucker(scaled, height, width)
    images = rays * RAY_RANGE_SCALE                                          # (..., N, C, H, W)
    peak = float(images.abs().amax()) if images.numel() else 0.0
    if peak > 1.0 + _RANGE_ATOL:
        far = float(torch.linalg.vector_norm(c2w[..., :3, 3], dim=-1).amax())
        raise ValueError(f"encode_cameras: with scale {s.flatten()[:4].tolist()} a camera centre lies {far:.4g} "
                         f"from the reference (> 1), so ray values reach {peak:.4g} outside [-1, 1], which the "
                         "autoencoder would clip; pass scale=None or a smaller scale")
    return images.clamp(-1.0, 1.0), s


# --------------------------------------------------------------------------------------
# Ray images -> cameras
# --------------------------------------------------------------------------------------

def centres_from_moments(directions: torch.Tensor, moments: torch.Tensor) -> torch.Tensor:
    """Least-squares camera centre ``c`` with ``m(u) = c x d(u)`` over all pixels of a frame.

    ``c x d = m`` is linear in ``c``; its normal equations are
    ``sum_u (|d|^2 I - d d^T) c = sum_u d x m`` (from ``d x (c x d) = (|d|^2 I - d d^T) c``), a 3x3
    system that is well conditioned as soon as the rays are not all parallel (any field of view > 0).

    Args:
        directions, moments: (..., 3, H, W) ray directions (any length) and moments.
    Returns:
        (..., 3) centres.
    """
    d = directions.flatten(-2).transpose(-1, -2)                             # (..., P, 3)
    m = moments.flatten(-2).transpose(-1, -2)
    eye = torch.eye(3, dtype=d.dtype, device=d.device)
    A = (d.square().sum(-1)[..., None, None] * eye - d.unsqueeze(-1) * d.unsqueeze(-2)).sum(-3)  # (..., 3, 3)
    b = torch.linalg.cross(d, m, dim=-1).sum(-2)                             # (..., 3)
    return torch.linalg.solve(A, b.unsqueeze(-1)).squeeze(-1)


def decode_cameras(images: torch.Tensor, *, width: int, height: int, scale: float | torch.Tensor = 1.0,
                   encoding: RayEncoding = "raxel", ref: int | None = None,
                   principal_point: PrincipalPoint = "center", intrinsics: torch.Tensor | None = None,
                   iterations: int = 30, return_residual: bool = False) -> Cameras | tuple[Cameras, torch.Tensor]:
    """Cameras from (decoded or predicted) ray images; the inverse of ``encode_cameras``.

    Args:
        images: (..., N, C, H, W) ray images in the autoencoder's range (C = 3 raxel, 6 Plücker).
        width, height: image size the returned ``K`` refers to.
        scale: the scene scale ``encode_cameras`` returned ((...,) or float); translations are divided by it.
        encoding: how the images were made.
        ref: reference frame index (``None``: the frame closest to a bare ray bundle, per clip).
        principal_point: ``"center"`` (paper), ``"estimate"``, or a tensor (..., N, 2) in image pixels.
        intrinsics: known K ((..., N, 3, 3) or (3, 3), for ``width`` x ``height``). Then only the poses are
            fitted (paper eq. 6 against the known bundle; no focal estimate, so ``ref``, ``principal_point``
            and ``iterations`` are unused). It always gives finite poses, even for rays that are not a
            pinhole bundle (an untrained model), where the focal estimate raises ``ValueError``.
        iterations: alternation rounds for per-frame focal lengths (see ``geometry.recover_cameras``).
        return_residual: also return the per-frame fit residual (..., N): RMS over pixels of the distance
            between the rays of the recovered camera and the given ones, in ray units (before the range
            map and before undoing the scale, so comparable across clips; for raxels it equals
            ``recover_cameras``' residual). A confidence: ~0 for exact rays, of order 1 for rays that fit
            no camera.
    Returns:
        Cameras (..., N) canonicalised to the reference, translations in the units the cameras were
        encoded from; with ``return_residual``, ``(cameras, residual)``. Not differentiable (detached).
    """
    channels = ray_channels(encoding)
    if not isinstance(images, torch.Tensor) or images.ndim < 4 or images.shape[-3] != channels:
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images)
        raise ValueError(f"decode_cameras: expected {encoding} images (..., N, {channels}, H, W), got {shape}")
    if not bool(torch.isfinite(images).all()):
        raise ValueError("decode_cameras: ray images contain NaN or infinite values")
    out_dtype = images.dtype if images.dtype in (torch.float32, torch.float64) else torch.float32
    # float64 for the fit (MPS has none, so it goes to the CPU there); ray grids are small.
    work_device = torch.device("cpu") if images.device.type == "mps" else images.device
    rays = images.detach().to(work_device, torch.float64) / RAY_RANGE_SCALE  # (..., N, C, H, W) ray units
    grid_h, grid_w = rays.shape[-2:]
    batch = rays.shape[:-4]
    s = _scale_tensor(scale, batch, torch.float64, work_device, "decode_cameras")

    # 1. Raxels: given, or built from Plücker coordinates (centre from the moments, unit directions).
    if encoding == "raxel":
        rx = rays
    else:
        d, m = rays[..., :3, :, :], rays[..., 3:, :, :]
        centres = centres_from_moments(d, m)                                 # (..., N, 3)
        unit_d = d / torch.linalg.vector_norm(d, dim=-3, keepdim=True).clamp_min(1e-12)
        rx = unit_d + centres[..., None, None]

    # 2. Poses (and focal lengths unless known) from the raxels.
    if intrinsics is not None:
        cams = _poses_with_known_intrinsics(rx, intrinsics, width=width, height=height)
    else:
        if isinstance(principal_point, torch.Tensor):
            principal_point = principal_point.to(work_device, torch.float64)
        cams = recover_cameras(rx, width=width, height=height, ref=ref, iterations=iterations,
                               principal_point=principal_point)

    # 3. Confidence: how far the recovered camera's own rays are from the given ones.
    refit = (raxels if encoding == "raxel" else plucker)(cams, grid_h, grid_w)   # (..., N, C, H, W)
    residual = (refit - rays).square().sum(-3).mean((-2, -1)).sqrt()        # (..., N)

    # 4. Back to the caller's units.
    c2w = cams.c2w.clone()
    c2w[..., :3, 3] /= s[..., None, None]
    out = Cameras(c2w.to(images.device, out_dtype), cams.K.to(images.device, out_dtype), width, height)
    if return_residual:
        return out, residual.to(images.device, out_dtype)
    return out


def _poses_with_known_intrinsics(rx: torch.Tensor, intrinsics: torch.Tensor, *, width: int,
                                 height: int) -> Cameras:
    """Procrustes (paper eq. 6) of raxels (..., N, 3, H, W) against the bundle of known K (image pixels)."""
    grid_h, grid_w = rx.shape[-2:]
    K = torch.as_tensor(intrinsics).to(rx.device, torch.float64)
    try:
        K = K.expand(*rx.shape[:-3], 3, 3)
    except RuntimeError as exc:
        raise ValueError(f"decode_cameras: intrinsics of shape {tuple(K.shape)} do not match "
                         f"{tuple(rx.shape[:-3])} frames") from exc
    check_intrinsics(K, "decode_cameras: intrinsics")
    K_grid = scale_intrinsics(K, grid_w / width, grid_h / height)
    bundle = camera_ray_bundle(K_grid, grid_h, grid_w).flatten(-3, -2)      # (..., N, P, 3)
    R, t = procrustes(bundle, rx.flatten(-2).transpose(-1, -2))
    return Cameras(make_pose(R, t), K, width, height)


# --------------------------------------------------------------------------------------
# Ray images <-> autoencoder videos
# --------------------------------------------------------------------------------------

def ray_images_to_videos(images: torch.Tensor) -> torch.Tensor:
    """(B, N, C, H, W) ray images -> (B * C / 3, 3, N, H, W) three-channel videos for a ``VideoAutoencoder``.

    Raxels give one video per clip; Plücker gives two (directions, then moments), batch-major.
    """
    if images.ndim != 5 or images.shape[2] % 3:
        raise ValueError(f"ray_images_to_videos: expected (B, N, 3g, H, W), got {tuple(images.shape)}")
    return rearrange(images, "b n (g c) h w -> (b g) c n h w", c=3)


def videos_to_ray_images(videos: torch.Tensor, *, encoding: RayEncoding = "raxel") -> torch.Tensor:
    """Inverse of ``ray_images_to_videos``: (B * C / 3, 3, N, H, W) -> (B, N, C, H, W)."""
    groups = ray_channels(encoding) // 3
    if videos.ndim != 5 or videos.shape[1] != 3 or videos.shape[0] % groups:
        raise ValueError(f"videos_to_ray_images: expected (B * {groups}, 3, N, H, W), got {tuple(videos.shape)}")
    return rearrange(videos, "(b g) c n h w -> b n (g c) h w", g=groups)
