"""Per-pixel rays: canonicalisation (paper eq. 1), raxels (eq. 2), and the Plücker and raymap
encodings used in the ablations.

Video-sized grids (81 frames of 480x832) make these kernels memory-bound: the unit ray bundle depends only
on K, so it is computed once per distinct K (``intrinsics_groups``) and every frame's rays are one small
matrix product with it, written straight into the output (``out=`` reuses a buffer across calls).
"""

from __future__ import annotations

import math

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


def ray_directions(K: torch.Tensor, xs: torch.Tensor, ys: torch.Tensor, *,
                   out: torch.Tensor | None = None) -> torch.Tensor:
    """Unit ray directions ``normalize(K^{-1} (x, y, 1))`` in camera coordinates, channels first.

    Args:
        K: (..., 3, 3) intrinsics.
        xs: (w,) pixel x coordinates (columns), ys: (h,) pixel y coordinates (rows), same dtype as K.
        out: optional (..., 3, h, w) tensor to write into.
    Returns:
        (..., 3, h, w).
    """
    shape = (*K.shape[:-2], 3, len(ys), len(xs))
    d = torch.empty(shape, dtype=K.dtype, device=K.device) if out is None else out
    x, y, z = d.unbind(-3)
    # K^{-1} of an upper-triangular pinhole matrix in closed form: no solve, no pivoting noise. The y
    # coordinate depends on the row only and x on the row through the skew alone, so both start from
    # (..., h, 1) and (..., 1, w) pieces broadcast into place.
    fx, fy = K[..., 0, 0, None, None], K[..., 1, 1, None, None]
    cx, cy, s = K[..., 0, 2, None, None], K[..., 1, 2, None, None], K[..., 0, 1, None, None]
    y.copy_((ys[:, None] - cy) / fy)
    x.copy_(xs[None, :] - cx)
    x.addcmul_(s, y, value=-1.0)
    x.div_(fx)
    z.fill_(1.0)
    # The norm written out: torch.linalg.vector_norm over the channel dim is ~70x slower on CPU.
    norm = torch.addcmul(x * x, y, y).add_(1.0).sqrt_().unsqueeze(-3)
    return d / norm if d.requires_grad else d.div_(norm)


def _pixel_centres(height: int, width: int, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixel-centre coordinates (width,) and (height,) of a grid, in ``like``'s dtype and device."""
    xs = torch.arange(width, dtype=like.dtype, device=like.device) + 0.5
    ys = torch.arange(height, dtype=like.dtype, device=like.device) + 0.5
    return xs, ys


def camera_ray_bundle(K: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Unit ray directions in camera coordinates, ``normalize(K^{-1} u~)``.

    Args:
        K: (..., 3, 3) intrinsics on the ``width`` x ``height`` grid.
    Returns:
        (..., height, width, 3) (a channels-last view of ``ray_directions``).
    """
    check_image_size(width, height, "camera_ray_bundle")
    return ray_directions(K, *_pixel_centres(height, width, K)).movedim(-3, -1)


def intrinsics_groups(K: torch.Tensor) -> list[tuple[int, list[slice]]]:
    """Frames that share intrinsics, so that each distinct K's ray bundle is computed once.

    Args:
        K: (B, 3, 3).
    Returns:
        one entry per distinct K, in order of first appearance: the index of a frame with that K and the
        runs (slices into B) of consecutive frames that have it.
    """
    B = K.shape[0]
    if B == 0:
        return []
    if bool((K == K[:1]).all()):
        return [(0, [slice(0, B)])]
    _, inverse = torch.unique(K.reshape(B, 9), dim=0, return_inverse=True)
    groups: dict[int, list[slice]] = {}
    ids = inverse.tolist()
    start = 0
    for i in range(1, B + 1):
        if i == B or ids[i] != ids[start]:
            groups.setdefault(ids[start], []).append(slice(start, i))
            start = i
    return [(runs[0].start, runs) for runs in groups.values()]


def check_out(out: object, shape: tuple[int, ...], like: torch.Tensor, name: str) -> torch.Tensor:
    """Require a preallocated output to be a contiguous tensor of ``shape`` with ``like``'s dtype and device."""
    if not isinstance(out, torch.Tensor):
        raise ValueError(f"{name}: out must be a torch.Tensor, got {type(out).__name__}")
    if tuple(out.shape) != tuple(shape):
        raise ValueError(f"{name}: out has shape {tuple(out.shape)}, expected {tuple(shape)}")
    if out.dtype != like.dtype:
        raise ValueError(f"{name}: out has dtype {out.dtype}, expected {like.dtype} (the cameras' dtype)")
    if out.device != like.device:
        raise ValueError(f"{name}: out is on {out.device}, expected {like.device} (the cameras' device)")
    if not out.is_contiguous():
        raise ValueError(f"{name}: out must be contiguous")
    return out


def _transformed_bundles(cameras: Cameras, height: int, width: int, *, translate: bool,
                         out: torch.Tensor | None, name: str) -> torch.Tensor:
    """``R b(u) (+ c)`` per frame on a ``width`` x ``height`` grid: (..., 3, height, width).

    Per distinct K: one bundle (with a row of ones when translating, so the centre is added by the same
    product) and one matrix product per run of frames, written into ``out``.
    """
    K = grid_intrinsics(cameras, height, width)
    batch = cameras.batch_shape
    shape = (*batch, 3, height, width)
    R = cameras.R
    M = torch.cat([R, cameras.centers[..., None]], -1) if translate else R        # (..., 3, 3 or 4)
    xs, ys = _pixel_centres(height, width, K)
    if torch.is_grad_enabled() and (M.requires_grad or K.requires_grad):
        # Differentiable path: out= products do not record autograd history.
        if out is not None:
            raise ValueError(f"{name}: out= cannot be used while the cameras require grad")
        b = ray_directions(K, xs, ys).flatten(-2)                                  # (..., 3, P)
        if translate:
            b = torch.cat([b, torch.ones_like(b[..., :1, :])], -2)
        return (M @ b).unflatten(-1, (height, width))
    out = torch.empty(shape, dtype=K.dtype, device=K.device) if out is None else check_out(out, shape, K, name)
    B, P, rows = math.prod(batch), height * width, M.shape[-1]
    flat_out = out.view(B * 3, P)
    flat_M = M.reshape(B * 3, rows)
    flat_K = K.reshape(B, 3, 3)
    bundle = torch.empty(rows, height, width, dtype=K.dtype, device=K.device)
    if translate:
        bundle[3].fill_(1.0)
    for k, runs in intrinsics_groups(flat_K):
        ray_directions(flat_K[k], xs, ys, out=bundle[:3])
        for run in runs:
            rows_of_run = slice(3 * run.start, 3 * run.stop)
            torch.mm(flat_M[rows_of_run], bundle.view(rows, P), out=flat_out[rows_of_run])
    return out


def world_rays(cameras: Cameras, height: int, width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """World-space ray origins and unit directions on a ``width`` x ``height`` grid.

    Returns:
        origins (..., 3, height, width) (an expanded view of the centres) and directions (..., 3, height, width).
    """
    d = _transformed_bundles(cameras, height, width, translate=False, out=None, name="world_rays")
    o = cameras.centers[..., :, None, None].expand_as(d)
    return o, d


def raxels(cameras: Cameras, height: int, width: int, *, out: torch.Tensor | None = None) -> torch.Tensor:
    """Raxel images (paper eq. 2): ``d(u) + o(u)`` per pixel.

    Canonicalise the poses first (``canonicalize``) so the reference frame is the bare bundle.

    Args:
        cameras: batch (...,) of cameras; K refers to ``cameras.width`` x ``cameras.height``.
        height, width: the raxel grid (K is rescaled to it).
        out: optional contiguous (..., 3, height, width) tensor of the cameras' dtype and device to write
            into (saves allocating and first-touching a fresh output on every call).
    Returns:
        (..., 3, height, width), same dtype as the cameras (``out`` itself when given).
    """
    return _transformed_bundles(cameras, height, width, translate=True, out=out, name="raxels")


def plucker(cameras: Cameras, height: int, width: int) -> torch.Tensor:
    """Plücker ray coordinates ``(d, o x d)``: (..., 6, height, width)."""
    o, d = world_rays(cameras, height, width)
    return torch.cat([d, torch.linalg.cross(o, d, dim=-3)], -3)


def raymap(cameras: Cameras, height: int, width: int) -> torch.Tensor:
    """Raymap ``(o, d)``: (..., 6, height, width)."""
    o, d = world_rays(cameras, height, width)
    return torch.cat([o, d], -3)
