"""Rigid-body algebra: SE(3) inverses, quaternions (wxyz), axis-angle, look-at, and the
named axis converters used at file boundaries.

Every function is batched over leading dims and keeps the input's dtype.
"""

from __future__ import annotations

import torch

from .validation import FloatLike, as_tensor, check_finite, check_shape

# OpenGL / Blender / nerfstudio cameras look down -z with y up; OpenCV looks down +z
# with y down. The two differ by flipping the camera's y and z axes.
_GL_CV_FLIP = (1.0, -1.0, -1.0, 1.0)


# --------------------------------------------------------------------------------------
# SE(3)
# --------------------------------------------------------------------------------------

def make_pose(R: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Assemble 4x4 poses. ``R`` (..., 3, 3), ``t`` (..., 3) -> (..., 4, 4)."""
    batch = torch.broadcast_shapes(R.shape[:-2], t.shape[:-1])
    T = torch.zeros(*batch, 4, 4, dtype=R.dtype, device=R.device)
    T[..., :3, :3] = R
    T[..., :3, 3] = t
    T[..., 3, 3] = 1.0
    return T


def invert_pose(T: torch.Tensor) -> torch.Tensor:
    """Exact inverse of rigid 4x4 poses (..., 4, 4): ``[R^T | -R^T t]``.

    Works for both directions, so ``c2w -> w2c`` and ``w2c -> c2w`` are the same call.
    """
    R = T[..., :3, :3]
    t = T[..., :3, 3]
    Rt = R.transpose(-1, -2)
    return make_pose(Rt, -(Rt @ t.unsqueeze(-1)).squeeze(-1))


def c2w_to_w2c(c2w: torch.Tensor) -> torch.Tensor:
    """Camera-to-world (..., 4, 4) -> world-to-camera (..., 4, 4)."""
    return invert_pose(c2w)


def w2c_to_c2w(w2c: torch.Tensor) -> torch.Tensor:
    """World-to-camera (..., 4, 4) -> camera-to-world (..., 4, 4)."""
    return invert_pose(w2c)


def rotation_angle(R: torch.Tensor) -> torch.Tensor:
    """Geodesic angle of rotations (..., 3, 3) in radians, stable near 0 and pi."""
    # atan2 of (|skew part|, trace part) avoids the acos precision loss near 0.
    skew = torch.stack([R[..., 2, 1] - R[..., 1, 2], R[..., 0, 2] - R[..., 2, 0], R[..., 1, 0] - R[..., 0, 1]], -1)
    trace = R[..., 0, 0] + R[..., 1, 1] + R[..., 2, 2]
    return torch.atan2(torch.linalg.vector_norm(skew, dim=-1), trace - 1.0)


def relative_rotation_angle_deg(R_a: torch.Tensor, R_b: torch.Tensor) -> torch.Tensor:
    """Angle of ``R_a^T R_b`` in degrees, batched (..., 3, 3) -> (...)."""
    return torch.rad2deg(rotation_angle(R_a.transpose(-1, -2) @ R_b))


def project_to_so3(M: torch.Tensor) -> torch.Tensor:
    """Nearest rotation (Frobenius) to matrices (..., 3, 3), determinant forced to +1."""
    U, _, Vh = torch.linalg.svd(M)
    d = torch.sign(torch.linalg.det(U @ Vh))
    d = torch.where(d == 0, torch.ones_like(d), d)
    D = torch.diag_embed(torch.stack([torch.ones_like(d), torch.ones_like(d), d], -1))
    return U @ D @ Vh


def chordal_mean(R: torch.Tensor, dim: int = 0) -> torch.Tensor:
    """Chordal L2 mean of rotations along ``dim`` of (..., 3, 3): the rotation nearest (Frobenius) to
    their arithmetic mean (Hartley et al., "Rotation averaging", 2013). Exact for identical inputs; for
    rotations within 90 degrees of each other it lies between them."""
    if dim < 0:
        dim += R.ndim
    if R.ndim < 3 or R.shape[-2:] != (3, 3) or dim >= R.ndim - 2:
        raise ValueError(f"chordal_mean: expected rotations (..., 3, 3) averaged over a batch dim, "
                         f"got shape {tuple(R.shape)} and dim {dim}")
    return project_to_so3(R.mean(dim))


# --------------------------------------------------------------------------------------
# Quaternions: (w, x, y, z), Hamilton product, unit norm
# --------------------------------------------------------------------------------------

def quaternion_to_matrix(q: FloatLike) -> torch.Tensor:
    """Unit quaternions (..., 4) wxyz -> rotations (..., 3, 3). Non-unit input is normalised."""
    q = as_tensor(q, "quaternion")
    check_shape(q, (4,), "quaternion")
    check_finite(q, "quaternion")
    n = torch.linalg.vector_norm(q, dim=-1, keepdim=True)
    if q.numel() and float(n.detach().min()) < 1e-12:
        raise ValueError("quaternion: zero-length quaternion has no rotation")
    w, x, y, z = (q / n).unbind(-1)
    return torch.stack([
        1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
        2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
        2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
    ], -1).reshape(*q.shape[:-1], 3, 3)


def matrix_to_quaternion(R: torch.Tensor) -> torch.Tensor:
    """Rotations (..., 3, 3) -> unit quaternions (..., 4) wxyz with w >= 0.

    Uses the largest-diagonal branch per element, exact to rounding for every rotation.
    """
    R = as_tensor(R, "rotation")
    check_shape(R, (3, 3), "rotation")
    m = R
    trace = m[..., 0, 0] + m[..., 1, 1] + m[..., 2, 2]
    cands = torch.stack([
        torch.stack([1 + trace, m[..., 2, 1] - m[..., 1, 2], m[..., 0, 2] - m[..., 2, 0], m[..., 1, 0] - m[..., 0, 1]], -1),
        torch.stack([m[..., 2, 1] - m[..., 1, 2], 1 + m[..., 0, 0] - m[..., 1, 1] - m[..., 2, 2], m[..., 0, 1] + m[..., 1, 0], m[..., 0, 2] + m[..., 2, 0]], -1),
        torch.stack([m[..., 0, 2] - m[..., 2, 0], m[..., 0, 1] + m[..., 1, 0], 1 - m[..., 0, 0] + m[..., 1, 1] - m[..., 2, 2], m[..., 1, 2] + m[..., 2, 1]], -1),
        torch.stack([m[..., 1, 0] - m[..., 0, 1], m[..., 0, 2] + m[..., 2, 0], m[..., 1, 2] + m[..., 2, 1], 1 - m[..., 0, 0] - m[..., 1, 1] + m[..., 2, 2]], -1),
    ], -2)  # (..., 4 branches, 4)
    diag = torch.stack([trace, m[..., 0, 0], m[..., 1, 1], m[..., 2, 2]], -1)
    best = diag.argmax(-1)
    q = torch.gather(cands, -2, best[..., None, None].expand(*best.shape, 1, 4)).squeeze(-2)
    q = q / torch.linalg.vector_norm(q, dim=-1, keepdim=True)
    return torch.where(q[..., :1] < 0, -q, q)


def quaternion_multiply(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Hamilton product of wxyz quaternions (..., 4)."""
    aw, ax, ay, az = a.unbind(-1)
    bw, bx, by, bz = b.unbind(-1)
    return torch.stack([
        aw * bw - ax * bx - ay * by - az * bz,
        aw * bx + ax * bw + ay * bz - az * by,
        aw * by - ax * bz + ay * bw + az * bx,
        aw * bz + ax * by - ay * bx + az * bw,
    ], -1)


def axis_angle_to_matrix(v: FloatLike) -> torch.Tensor:
    """Rotation vectors (..., 3) (axis * angle in radians) -> rotations (..., 3, 3) by Rodrigues."""
    v = as_tensor(v, "axis_angle")
    check_shape(v, (3,), "axis_angle")
    theta = torch.linalg.vector_norm(v, dim=-1, keepdim=True)
    half = 0.5 * theta
    # sin(x/2)/x is smooth at 0; write it with sinc to keep gradients and precision.
    scale = 0.5 * torch.sinc(half / torch.pi)
    q = torch.cat([torch.cos(half), v * scale], -1)
    return quaternion_to_matrix(q)


def matrix_to_axis_angle(R: torch.Tensor) -> torch.Tensor:
    """Rotations (..., 3, 3) -> rotation vectors (..., 3), angle in [0, pi]."""
    q = matrix_to_quaternion(R)
    w = q[..., :1].clamp(-1, 1)
    xyz = q[..., 1:]
    s = torch.linalg.vector_norm(xyz, dim=-1, keepdim=True)
    angle = 2 * torch.atan2(s, w)
    return xyz * torch.where(s > 1e-12, angle / s.clamp_min(1e-12), 2.0 / w.clamp_min(1e-12))


# --------------------------------------------------------------------------------------
# Look-at
# --------------------------------------------------------------------------------------

def look_at(eye: FloatLike, target: FloatLike, up: FloatLike | None = None) -> torch.Tensor:
    """OpenCV camera-to-world (..., 4, 4) at ``eye`` looking at ``target``.

    ``up`` is the world up vector (default ``WORLD_UP`` = -y); the camera's y axis
    (image down) points away from it. Raises if eye == target or the view is parallel to up.
    """
    from . import WORLD_UP  # the convention lives in one place

    eye = as_tensor(eye, "eye")
    target = as_tensor(target, "target", dtype=eye.dtype)
    up_t = as_tensor(WORLD_UP if up is None else up, "up", dtype=eye.dtype)
    check_shape(eye, (3,), "eye")
    check_shape(target, (3,), "target")
    for name, x in (("eye", eye), ("target", target), ("up", up_t)):
        check_finite(x, name)
    forward = target - eye
    dist = torch.linalg.vector_norm(forward, dim=-1, keepdim=True)
    if forward.numel() and float(dist.min()) < 1e-9:
        raise ValueError("look_at: eye and target coincide, the view direction is undefined")
    z = forward / dist
    up_t = up_t.expand_as(z)
    x = torch.linalg.cross(-up_t, z, dim=-1)  # right-handed camera: x = y x z with y = down
    xn = torch.linalg.vector_norm(x, dim=-1, keepdim=True)
    if x.numel() and float(xn.min()) < 1e-9:
        raise ValueError("look_at: view direction is parallel to the up vector, roll is undefined")
    x = x / xn
    y = torch.linalg.cross(z, x, dim=-1)
    R = torch.stack([x, y, z], -1)
    return make_pose(R, eye.expand_as(z))


# --------------------------------------------------------------------------------------
# Axis converters (used only at file boundaries)
# --------------------------------------------------------------------------------------

def opengl_to_opencv_c2w(c2w_gl: torch.Tensor) -> torch.Tensor:
    """OpenGL/Blender/nerfstudio camera-to-world (..., 4, 4) -> OpenCV camera-to-world."""
    flip = torch.tensor(_GL_CV_FLIP, dtype=c2w_gl.dtype, device=c2w_gl.device)
    return c2w_gl * flip  # scales the columns: camera y and z axes flip


def opencv_to_opengl_c2w(c2w_cv: torch.Tensor) -> torch.Tensor:
    """OpenCV camera-to-world (..., 4, 4) -> OpenGL/Blender/nerfstudio camera-to-world."""
    return opengl_to_opencv_c2w(c2w_cv)  # the flip is its own inverse
