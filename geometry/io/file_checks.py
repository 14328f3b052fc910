"""Per-frame checks for values parsed from a file. Each takes ``fail(message) -> Exception``,
built by the reader with the file and line (or key path), so the error points at the frame."""

from __future__ import annotations

import math
import numbers
from typing import Callable

import torch

from ..transforms import make_pose, project_to_so3

Fail = Callable[[str], Exception]

# Files print rotations with 6-10 decimals (RealEstate10K: 9, Blender exports: float32), so their
# rotations are orthonormal only to ~1e-7. Accept that and snap to the nearest rotation; reject
# anything further off, which is a scaled, sheared or garbled pose rather than rounding.
ROTATION_TOLERANCE = 1e-4

# Below this the rotation is already rigid to float64 rounding and is kept bit-exact.
_SNAP_ABOVE = 1e-12

# Sanity bounds on what a camera file may claim. Values beyond them are garbage or a unit mix-up, and
# would overflow float32 rays or allocate absurd images further on.
MAX_IMAGE_SIDE = 65536          # pixels: above any sensor or panorama (JPEG's own limit is 65535)
MAX_FOCAL_PIXELS = 1e7          # pixels: a 0.4 degree field of view across MAX_IMAGE_SIDE
MAX_PRINCIPAL_POINT_PIXELS = 1e7
MAX_TRANSLATION = 1e6           # scene units: recentre geo-referenced models before use


def checked_pose(M: torch.Tensor, fail: Fail) -> torch.Tensor:
    """A rigid 4x4 float64 pose from a 3x4 or 4x4 matrix read from a file (either direction,
    c2w or w2c). Rounding in the rotation is snapped away; real errors raise ``fail``."""
    if M.shape not in ((3, 4), (4, 4)):
        raise fail(f"expected a 3x4 or 4x4 pose matrix, got shape {tuple(M.shape)}")
    if not bool(torch.isfinite(M).all()):
        raise fail("pose contains NaN or infinite values")
    if M.shape == (4, 4):
        bottom = M[3].tolist()
        if max(abs(a - b) for a, b in zip(bottom, (0.0, 0.0, 0.0, 1.0))) > 1e-9:
            raise fail(f"bottom row of the 4x4 pose must be (0, 0, 0, 1), got {tuple(bottom)}")
    R, t = M[:3, :3], M[:3, 3]
    largest = float(t.abs().max())
    if largest > MAX_TRANSLATION:
        raise fail(f"translation component {largest:.6g} is beyond the {MAX_TRANSLATION:g} scene-unit limit; "
                   "recentre or rescale the scene")
    err = float((R.T @ R - torch.eye(3, dtype=R.dtype)).abs().max())
    if err > ROTATION_TOLERANCE:
        raise fail(f"rotation is not orthonormal (max |R^T R - I| = {err:.3g}); the pose is not rigid")
    if float(torch.linalg.det(R)) < 0:
        raise fail("rotation has determinant -1 (a reflection); the file's axis convention is not right-handed")
    if err > _SNAP_ABOVE:
        R = project_to_so3(R)
    return make_pose(R, t)


def checked_intrinsics(fx: float, fy: float, cx: float, cy: float, fail: Fail) -> tuple[float, float, float, float]:
    """Finite intrinsics with positive focal lengths (a zero focal length has no rays)."""
    for name, value in (("fx", fx), ("fy", fy), ("cx", cx), ("cy", cy)):
        if not math.isfinite(value):
            raise fail(f"{name} is {value} (NaN or infinite)")
    if fx <= 0 or fy <= 0:
        raise fail(f"focal lengths must be positive, got fx={fx}, fy={fy}")
    if max(fx, fy) > MAX_FOCAL_PIXELS:
        raise fail(f"focal length {max(fx, fy):.6g} px is over the {MAX_FOCAL_PIXELS:g} px limit")
    if max(abs(cx), abs(cy)) > MAX_PRINCIPAL_POINT_PIXELS:
        raise fail(f"principal point ({cx:.6g}, {cy:.6g}) px is beyond the {MAX_PRINCIPAL_POINT_PIXELS:g} px limit")
    return fx, fy, cx, cy


def checked_image_size(width: float, height: float, fail: Fail) -> tuple[int, int]:
    """Whole, positive image sides of at most ``MAX_IMAGE_SIDE`` pixels."""
    for name, value in (("width", width), ("height", height)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) \
                or value != int(value):
            raise fail(f"image {name} must be a whole number of pixels, got {value!r}")
        if not 1 <= value <= MAX_IMAGE_SIDE:
            raise fail(f"image {name} {int(value)} is outside 1..{MAX_IMAGE_SIDE} pixels")
    return int(width), int(height)
