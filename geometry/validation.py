"""Input checks shared by every geometry function.

Each check raises ``ValueError`` with a message that names the argument and what
is wrong with it, so a bad upload or a wrong tensor shape fails at the edge
instead of producing NaN poses three calls later.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

FloatLike = torch.Tensor | np.ndarray | Sequence[float] | float


def as_tensor(x: FloatLike, name: str, *, dtype: torch.dtype | None = None,
              device: torch.device | str | None = None) -> torch.Tensor:
    """Turn numpy / lists / tensors into a floating torch tensor (float32 unless already float64)."""
    if isinstance(x, torch.Tensor):
        t = x
    else:
        try:
            t = torch.as_tensor(np.asarray(x))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{name}: cannot be read as a numeric array ({exc})") from exc
    if dtype is not None:
        t = t.to(dtype)
    elif not t.is_floating_point():
        t = t.to(torch.float32)
    elif t.dtype not in (torch.float32, torch.float64):
        t = t.to(torch.float32)
    if device is not None:
        t = t.to(device)
    return t


def check_shape(x: torch.Tensor, tail: tuple[int | None, ...], name: str) -> None:
    """Require ``x.shape[-len(tail):] == tail`` (``None`` matches any size)."""
    if x.ndim < len(tail):
        raise ValueError(f"{name}: expected shape (..., {', '.join('?' if d is None else str(d) for d in tail)}), "
                         f"got {tuple(x.shape)}")
    got = tuple(x.shape[x.ndim - len(tail):])
    for want, have in zip(tail, got):
        if want is not None and want != have:
            raise ValueError(f"{name}: expected shape (..., {', '.join('?' if d is None else str(d) for d in tail)}), "
                             f"got {tuple(x.shape)}")


def check_finite(x: torch.Tensor, name: str) -> None:
    if not bool(torch.isfinite(x).all()):
        bad = int((~torch.isfinite(x)).sum())
        raise ValueError(f"{name}: contains {bad} NaN or infinite value(s)")


def check_rotation(R: torch.Tensor, name: str, *, atol: float | None = None) -> None:
    """Require ``R`` (..., 3, 3) to be a proper rotation: orthonormal with determinant +1."""
    if atol is None:
        atol = 1e-3 if R.dtype == torch.float32 else 1e-6
    eye = torch.eye(3, dtype=R.dtype, device=R.device)
    err = (R.transpose(-1, -2) @ R - eye).abs().amax() if R.numel() else torch.tensor(0.0)
    if float(err) > atol:
        raise ValueError(f"{name}: rotation part is not orthonormal (max |R^T R - I| = {float(err):.3g}); "
                         "the pose is not rigid")
    if R.numel() and float(torch.linalg.det(R).min()) < 0:
        raise ValueError(f"{name}: rotation part has determinant -1 (a reflection, not a rotation); "
                         "check the axis convention of the source")


def check_pose(c2w: torch.Tensor, name: str = "c2w") -> None:
    """Shape (..., 4, 4), finite, rigid rotation, bottom row (0, 0, 0, 1)."""
    check_shape(c2w, (4, 4), name)
    check_finite(c2w, name)
    check_rotation(c2w[..., :3, :3], name)
    bottom = c2w[..., 3, :]
    want = torch.tensor([0.0, 0.0, 0.0, 1.0], dtype=c2w.dtype, device=c2w.device)
    if c2w.numel() and float((bottom - want).abs().amax()) > 1e-6:
        raise ValueError(f"{name}: bottom row must be (0, 0, 0, 1)")


def check_intrinsics(K: torch.Tensor, name: str = "K") -> None:
    """Shape (..., 3, 3), finite, positive focal lengths, pinhole layout."""
    check_shape(K, (3, 3), name)
    check_finite(K, name)
    if K.numel() == 0:
        return
    if float(K[..., 0, 0].min()) <= 0 or float(K[..., 1, 1].min()) <= 0:
        raise ValueError(f"{name}: focal lengths must be positive (got fx min {float(K[..., 0, 0].min()):.4g}, "
                         f"fy min {float(K[..., 1, 1].min()):.4g}); the intrinsics are singular")
    if float(K[..., 2, :2].abs().max()) > 0 or float((K[..., 2, 2] - 1).abs().max()) > 1e-6:
        raise ValueError(f"{name}: last row must be (0, 0, 1)")
    if float(K[..., 1, 0].abs().max()) > 0:
        raise ValueError(f"{name}: K[1, 0] must be 0 (upper-triangular pinhole matrix)")


def check_image_size(width: int, height: int, name: str = "image") -> None:
    if int(width) != width or int(height) != height or width <= 0 or height <= 0:
        raise ValueError(f"{name}: width and height must be positive integers, got {width}x{height}")
