"""``Cameras``: a batch of pinhole cameras in the package conventions (see ``geometry/__init__``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .validation import (FloatLike, as_tensor, check_finite, check_image_size, check_intrinsics, check_pose,
                         check_shape)


def intrinsics_matrix(fx: FloatLike, fy: FloatLike, cx: FloatLike, cy: FloatLike) -> torch.Tensor:
    """Pixel intrinsics (..., 3, 3) from focal lengths and principal point (pixels, centres at +0.5)."""
    fx, fy, cx, cy = (as_tensor(v, n) for v, n in ((fx, "fx"), (fy, "fy"), (cx, "cx"), (cy, "cy")))
    fx, fy, cx, cy = torch.broadcast_tensors(fx, fy, cx, cy)
    K = torch.zeros(*fx.shape, 3, 3, dtype=fx.dtype, device=fx.device)
    K[..., 0, 0], K[..., 1, 1], K[..., 0, 2], K[..., 1, 2], K[..., 2, 2] = fx, fy, cx, cy, 1.0
    return K


def fov_to_focal(fov_rad: torch.Tensor, size: float) -> torch.Tensor:
    """Focal length in pixels for a field of view (radians) spanning ``size`` pixels."""
    return 0.5 * size / torch.tan(0.5 * fov_rad)


def focal_to_fov(focal: torch.Tensor, size: float) -> torch.Tensor:
    """Field of view (radians) spanned by ``size`` pixels at focal length ``focal`` (pixels)."""
    return 2.0 * torch.atan(0.5 * size / focal)


def scale_intrinsics(K: torch.Tensor, sx: float, sy: float) -> torch.Tensor:
    """Intrinsics for an image resized by (sx, sy). Pixel edges scale, so with centres at
    +0.5 the principal point scales exactly like the focal length."""
    S = torch.tensor([[sx, 0, 0], [0, sy, 0], [0, 0, 1]], dtype=K.dtype, device=K.device)
    return S @ K


@dataclass
class Cameras:
    """A batch of OpenCV pinhole cameras.

    Attributes:
        c2w: (..., 4, 4) camera-to-world, OpenCV axes, rigid.
        K: (..., 3, 3) pixel intrinsics for a ``width`` x ``height`` image.
        width, height: image size in pixels that ``K`` refers to.
        timestamps: optional (...,) seconds.

    The batch shape is ``c2w.shape[:-2]``; for a trajectory it is ``(N,)``. Indexing
    slices the batch; ``len`` is the size of the first batch dim.
    """

    c2w: torch.Tensor
    K: torch.Tensor
    width: int
    height: int
    timestamps: torch.Tensor | None = None

    def __post_init__(self) -> None:
        self.c2w = as_tensor(self.c2w, "c2w")
        self.K = as_tensor(self.K, "K", dtype=self.c2w.dtype, device=self.c2w.device)
        check_image_size(self.width, self.height, "Cameras")
        self.width, self.height = int(self.width), int(self.height)
        check_pose(self.c2w, "Cameras.c2w")
        check_intrinsics(self.K, "Cameras.K")
        if self.K.shape[:-2] != self.c2w.shape[:-2]:
            try:
                self.K = self.K.expand(*self.c2w.shape[:-2], 3, 3).clone()
            except RuntimeError as exc:
                raise ValueError(f"Cameras: K batch shape {tuple(self.K.shape[:-2])} does not match "
                                 f"c2w batch shape {tuple(self.c2w.shape[:-2])}") from exc
        if self.timestamps is not None:
            self.timestamps = as_tensor(self.timestamps, "timestamps", dtype=self.c2w.dtype, device=self.c2w.device)
            check_finite(self.timestamps, "Cameras.timestamps")
            if tuple(self.timestamps.shape) != tuple(self.batch_shape):
                raise ValueError(f"Cameras: timestamps shape {tuple(self.timestamps.shape)} does not match "
                                 f"batch shape {tuple(self.batch_shape)}")

    # ---- construction -------------------------------------------------------------------

    @classmethod
    def from_fov(cls, c2w: FloatLike, *, fov_y_deg: FloatLike, width: int, height: int,
                 timestamps: FloatLike | None = None) -> "Cameras":
        """Cameras with a centred principal point and square pixels from a vertical FOV (degrees)."""
        c2w = as_tensor(c2w, "c2w")
        check_shape(c2w, (4, 4), "c2w")
        fov = torch.deg2rad(as_tensor(fov_y_deg, "fov_y_deg", dtype=c2w.dtype)).expand(c2w.shape[:-2])
        if fov.numel() and (float(fov.min()) <= 0 or float(fov.max()) >= torch.pi):
            raise ValueError(f"fov_y_deg must be in (0, 180), got {float(torch.rad2deg(fov).min()):.4g}..."
                             f"{float(torch.rad2deg(fov).max()):.4g}")
        f = fov_to_focal(fov, height)
        K = intrinsics_matrix(f, f, torch.full_like(f, width / 2), torch.full_like(f, height / 2))
        return cls(c2w, K, width, height, None if timestamps is None else as_tensor(timestamps, "timestamps"))

    # ---- views ---------------------------------------------------------------------------

    @property
    def batch_shape(self) -> torch.Size:
        return self.c2w.shape[:-2]

    @property
    def dtype(self) -> torch.dtype:
        return self.c2w.dtype

    @property
    def device(self) -> torch.device:
        return self.c2w.device

    @property
    def R(self) -> torch.Tensor:
        """(..., 3, 3) camera-to-world rotation."""
        return self.c2w[..., :3, :3]

    @property
    def centers(self) -> torch.Tensor:
        """(..., 3) camera centres in world coordinates."""
        return self.c2w[..., :3, 3]

    @property
    def fov_y(self) -> torch.Tensor:
        """(...,) vertical field of view in radians."""
        return focal_to_fov(self.K[..., 1, 1], self.height)

    @property
    def fov_x(self) -> torch.Tensor:
        """(...,) horizontal field of view in radians."""
        return focal_to_fov(self.K[..., 0, 0], self.width)

    def __len__(self) -> int:
        if not self.batch_shape:
            raise TypeError("a single camera (batch shape ()) has no length")
        return self.batch_shape[0]

    def __getitem__(self, idx: Any) -> "Cameras":
        c2w = self.c2w[idx]
        if c2w.ndim < 2 or c2w.shape[-2:] != (4, 4):
            raise IndexError("Cameras can only be indexed over their batch dims")
        return Cameras(c2w, self.K[idx], self.width, self.height,
                       None if self.timestamps is None else self.timestamps[idx])

    def to(self, *args: Any, **kwargs: Any) -> "Cameras":
        """Like ``Tensor.to``: device and/or floating dtype (float32 or float64)."""
        c2w = self.c2w.to(*args, **kwargs)
        if c2w.dtype not in (torch.float32, torch.float64):
            raise ValueError(f"Cameras.to: dtype must be float32 or float64, got {c2w.dtype}")
        return Cameras(c2w, self.K.to(c2w), self.width, self.height,
                       None if self.timestamps is None else self.timestamps.to(c2w))

    def reversed(self) -> "Cameras":
        """Time reversal along the first batch dim. Timestamps keep their spacing and start."""
        c2w = self.c2w.flip(0)
        K = self.K.flip(0)
        ts = None
        if self.timestamps is not None:
            ts = self.timestamps[0] + (self.timestamps[-1] - self.timestamps).flip(0)
        return Cameras(c2w, K, self.width, self.height, ts)

    def mirrored(self) -> "Cameras":
        """The cameras of the left-right mirrored images (pixel ``u -> width - u``) in the world mirrored
        by ``x -> -x``: ``c2w -> S c2w S``, ``S = diag(-1, 1, 1, 1)``, and ``cx -> width - cx``. The poses stay
        rigid and right-handed; a turn to the right becomes one to the left. Its own inverse."""
        S = torch.tensor([-1.0, 1.0, 1.0, 1.0], dtype=self.c2w.dtype, device=self.c2w.device)
        c2w = self.c2w * S[:, None] * S[None, :]
        K = self.K.clone()
        K[..., 0, 1] = -K[..., 0, 1]
        K[..., 0, 2] = self.width - K[..., 0, 2]
        return Cameras(c2w, K, self.width, self.height, self.timestamps)

    def resized(self, width: int, height: int) -> "Cameras":
        """Same cameras for a ``width`` x ``height`` image: K scales per axis."""
        check_image_size(width, height, "resized")
        K = scale_intrinsics(self.K, width / self.width, height / self.height)
        return Cameras(self.c2w, K, width, height, self.timestamps)

    def with_poses(self, c2w: torch.Tensor) -> "Cameras":
        """Same intrinsics and timestamps with new camera-to-world poses."""
        return Cameras(c2w, self.K, self.width, self.height, self.timestamps)

    def numpy(self) -> dict[str, np.ndarray | int | None]:
        """Plain numpy view for writers and UIs."""
        return {"c2w": self.c2w.detach().cpu().numpy(), "K": self.K.detach().cpu().numpy(),
                "width": self.width, "height": self.height,
                "timestamps": None if self.timestamps is None else self.timestamps.detach().cpu().numpy()}

    @staticmethod
    def stack(cams: list["Cameras"]) -> "Cameras":
        """Concatenate single cameras or trajectories along the first dim (same image size)."""
        if not cams:
            raise ValueError("Cameras.stack: empty list")
        w, h = cams[0].width, cams[0].height
        if any((c.width, c.height) != (w, h) for c in cams):
            raise ValueError("Cameras.stack: all cameras must share one image size")
        flat = [c if c.batch_shape else c[None] for c in cams]
        ts = None
        if all(c.timestamps is not None for c in flat):
            ts = torch.cat([c.timestamps for c in flat])
        return Cameras(torch.cat([c.c2w for c in flat]), torch.cat([c.K for c in flat]), w, h, ts)
