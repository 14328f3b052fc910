"""Cameras from raxel images: Procrustes to the reference bundle (paper eq. 6) and focal length by
median of ratios (eq. 7), alternating when focal lengths differ between frames."""

from __future__ import annotations

from typing import Literal

import torch

from .cameras import Cameras, intrinsics_matrix
from .rays import camera_ray_bundle, pixel_grid
from .transforms import make_pose, quaternion_to_matrix
from .validation import as_tensor, check_finite, check_image_size

PrincipalPoint = Literal["center", "estimate"] | torch.Tensor


def procrustes(src: torch.Tensor, dst: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Rigid fit without scale (Kabsch): ``argmin_{R, t} sum ||R src + t - dst||^2``.

    Args:
        src, dst: (..., P, 3) corresponding points.
    Returns:
        R (..., 3, 3) in SO(3), t (..., 3).
    """
    mu_s = src.mean(-2, keepdim=True)
    mu_d = dst.mean(-2, keepdim=True)
    H = (src - mu_s).transpose(-1, -2) @ (dst - mu_d)                       # (..., 3, 3)
    U, _, Vh = torch.linalg.svd(H)
    V = Vh.transpose(-1, -2)
    d = torch.sign(torch.linalg.det(V @ U.transpose(-1, -2)))
    d = torch.where(d == 0, torch.ones_like(d), d)                          # reflection guard
    D = torch.diag_embed(torch.stack([torch.ones_like(d), torch.ones_like(d), d], -1))
    R = V @ D @ U.transpose(-1, -2)
    t = mu_d.squeeze(-2) - (R @ mu_s.squeeze(-2).unsqueeze(-1)).squeeze(-1)
    return R, t


def procrustes_quaternion(src: torch.Tensor, dst: torch.Tensor, *, return_gap: bool = False):
    """The same rigid fit as ``procrustes``, as a unit quaternion (Horn 1987), for use under autograd.

    The rotation is the top eigenvector of Horn's symmetric 4x4 matrix. Its gradient depends only on
    the gap between the largest eigenvalue and the others, which is large whenever the fit is good;
    the 3x3 SVD's gradient divides by differences of singular values, which coincide for the ray
    bundle of a square image (equal spread in x and y) and blow up.

    Args:
        src, dst: (..., P, 3) corresponding points.
    Returns:
        q (..., 4) wxyz with w >= 0 (the rotation taking ``src`` to ``dst``), t (..., 3), and with
        ``return_gap`` the eigenvalue gap (...): near 0 the fit is not unique (e.g. ``dst`` collapsed
        to a point) and its gradient is undefined.
    """
    mu_s = src.mean(-2, keepdim=True)
    mu_d = dst.mean(-2, keepdim=True)
    S = (src - mu_s).transpose(-1, -2) @ (dst - mu_d)                       # S[a, b] = sum src_a dst_b
    xx, xy, xz = S[..., 0, 0], S[..., 0, 1], S[..., 0, 2]
    yx, yy, yz = S[..., 1, 0], S[..., 1, 1], S[..., 1, 2]
    zx, zy, zz = S[..., 2, 0], S[..., 2, 1], S[..., 2, 2]
    N = torch.stack([
        torch.stack([xx + yy + zz, yz - zy, zx - xz, xy - yx], -1),
        torch.stack([yz - zy, xx - yy - zz, xy + yx, zx + xz], -1),
        torch.stack([zx - xz, xy + yx, -xx + yy - zz, yz + zy], -1),
        torch.stack([xy - yx, zx + xz, yz + zy, -xx - yy + zz], -1)], -2)
    # Exactly equal lower eigenvalues (a perfect fit of a symmetric bundle) would make eigh's backward
    # 0/0 even though the top eigenvector does not depend on them: split them by a negligible amount.
    size = S.detach().abs().sum((-2, -1)).clamp_min(torch.finfo(S.dtype).tiny)[..., None]
    N = N + torch.diag_embed(size * torch.tensor([0.0, 1.0, 2.0, 3.0], dtype=S.dtype, device=S.device)
                             * (1e3 * torch.finfo(S.dtype).eps))
    vals, vecs = torch.linalg.eigh(N)
    q = vecs[..., -1]                                                        # largest eigenvalue
    q = q * torch.where(q[..., :1] < 0, -1.0, 1.0)
    R = quaternion_to_matrix(q)
    t = mu_d.squeeze(-2) - (R @ mu_s.squeeze(-2).unsqueeze(-1)).squeeze(-1)
    if return_gap:
        return q, t, vals[..., -1] - vals[..., -2]
    return q, t


def quaternion_angle(q: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """Rotation angle in radians of unit quaternions (..., 4) wxyz, with a finite gradient at 0."""
    return 2 * torch.atan2(torch.sqrt(q[..., 1:].square().sum(-1) + eps), q[..., 0].abs())


def _median_focal(ratio_num: torch.Tensor, ratio_den: torch.Tensor, centred: torch.Tensor) -> torch.Tensor:
    """``median_u(centred * num / den)`` over pixels away from the centre line (..., P) -> (...)."""
    # Pixels near the centre line carry no focal information (0/0); keep the outer half.
    reach = centred.abs().amax(-1, keepdim=True)
    valid = (centred.abs() > 0.25 * reach) & (ratio_den.abs() > 1e-12)
    ratios = centred * ratio_num / torch.where(valid, ratio_den, torch.ones_like(ratio_den))
    ratios = torch.where(valid, ratios, torch.full_like(ratios, float("nan")))
    return ratios.nanmedian(-1).values


def _fit_intrinsics(local: torch.Tensor, uv: torch.Tensor, pp: torch.Tensor | None) -> torch.Tensor:
    """Intrinsics (..., 3, 3) on the grid from rays in camera coordinates.

    Args:
        local: (..., P, 3) rays in the camera frame, ``l = R^T (raxel - t)``.
        uv: (P, 2) pixel centres on the grid.
        pp: (..., 2) principal point on the grid, or None to estimate it by least squares.
    """
    lx, ly, lz = local.unbind(-1)
    if pp is None:
        # x = fx * (lx / lz) + cx is linear in (fx, cx): exact on clean rays, used when cx is unknown.
        fs, cs = [], []
        for a, coord in ((lx / lz, uv[:, 0]), (ly / lz, uv[:, 1])):
            A = torch.stack([a, torch.ones_like(a)], -1)                    # (..., P, 2)
            sol = torch.linalg.lstsq(A, coord.expand_as(a).unsqueeze(-1)).solution.squeeze(-1)
            fs.append(sol[..., 0])
            cs.append(sol[..., 1])
        return intrinsics_matrix(fs[0], fs[1], cs[0], cs[1])
    xc = uv[:, 0] - pp[..., :1]                                             # (..., P)
    yc = uv[:, 1] - pp[..., 1:]
    fx = _median_focal(lz, lx, xc)
    fy = _median_focal(lz, ly, yc)
    return intrinsics_matrix(fx, fy, pp[..., 0], pp[..., 1])


def _apply_pose_inverse(x: torch.Tensor, R: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """``R^T (x - t)`` for points (..., P, 3)."""
    return (x - t.unsqueeze(-2)) @ R


def _bundle(K: torch.Tensor, H: int, W: int) -> torch.Tensor:
    return camera_ray_bundle(K, H, W).flatten(-3, -2)                       # (..., P, 3)


def recover_cameras(raxels: torch.Tensor, *, width: int, height: int, ref: int | None = None,
                    iterations: int = 30, principal_point: PrincipalPoint = "center",
                    return_residual: bool = False) -> Cameras | tuple[Cameras, torch.Tensor]:
    """Recover per-frame poses and intrinsics from raxel images.

    Args:
        raxels: (..., N, 3, H, W) raxel images of N frames on an H x W grid, canonicalised to one of them.
        width, height: image size the returned ``K`` refers to (the grid is scaled up to it).
        ref: index of the reference frame (raxels = bare unit bundle). ``None`` picks, per batch element,
            the frame closest to a bare bundle.
        iterations: alternation rounds (bundle from current K -> Procrustes -> focal) for frames whose
            focal length differs from the reference's. One round is exact when all K are equal.
        principal_point: ``"center"`` (paper: image centre), ``"estimate"`` (least squares on the reference
            frame, whose pose is known, then shared by all frames; a per-frame estimate would trade off
            against rotation), or a tensor (..., N, 2) in image pixels.
        return_residual: also return the RMS distance (..., N) between the fitted bundle and the raxels,
            in raxel units (a per-frame confidence).
    Returns:
        Cameras with c2w (..., N, 4, 4) in the reference frame's coordinates and K (..., N, 3, 3).
    """
    x = as_tensor(raxels, "raxels")
    if x.ndim < 4 or x.shape[-3] != 3:
        raise ValueError(f"recover_cameras: expected raxels of shape (..., N, 3, H, W), got {tuple(x.shape)}")
    check_finite(x, "recover_cameras: raxels")
    check_image_size(width, height, "recover_cameras")
    if iterations < 1:
        raise ValueError(f"recover_cameras: iterations must be >= 1, got {iterations}")
    H, W = x.shape[-2:]
    N = x.shape[-4]
    batch = x.shape[:-4]
    pts = x.flatten(-2).transpose(-1, -2)                                   # (..., N, P, 3)
    uv = pixel_grid(H, W, dtype=x.dtype, device=x.device)[..., :2].reshape(-1, 2)
    sx, sy = width / W, height / H
    to_grid = torch.tensor([1 / sx, 1 / sy], dtype=x.dtype, device=x.device)

    if isinstance(principal_point, torch.Tensor) or not isinstance(principal_point, str):
        pp = as_tensor(principal_point, "principal_point", dtype=x.dtype, device=x.device)
        pp = pp.expand(*batch, N, 2) * to_grid
    elif principal_point == "center":
        pp = torch.tensor([W / 2, H / 2], dtype=x.dtype, device=x.device).expand(*batch, N, 2)
    elif principal_point == "estimate":
        pp = None
    else:
        raise ValueError(f"recover_cameras: principal_point must be 'center', 'estimate' or a tensor, "
                         f"got {principal_point!r}")

    # 1. The reference frame: the bundle at identity, so its intrinsics follow directly from its raxels.
    K_id = _fit_intrinsics(pts, uv, pp)                                    # (..., N, 3, 3) assuming R=I, t=0
    if ref is None:
        ok = torch.isfinite(K_id).all(-1).all(-1) & (K_id[..., 0, 0] > 0) & (K_id[..., 1, 1] > 0)
        K_safe = torch.where(ok[..., None, None], K_id, torch.eye(3, dtype=x.dtype, device=x.device))
        resid = (_bundle(K_safe, H, W) - pts).square().sum(-1).mean(-1)
        resid = torch.where(ok, resid, torch.full_like(resid, float("inf")))
        ref_idx = resid.argmin(-1)                                          # (...)
    else:
        if not -N <= ref < N:
            raise ValueError(f"recover_cameras: ref {ref} out of range for {N} frames")
        ref_idx = torch.full(batch, ref % N, dtype=torch.long, device=x.device)
    K_ref = torch.take_along_dim(K_id, ref_idx[..., None, None, None], dim=-3)  # (..., 1, 3, 3)
    if pp is None:
        pp = K_ref[..., :2, 2].expand(*batch, N, 2)
    if not bool((torch.isfinite(K_ref).all()) and bool((K_ref[..., 0, 0] > 0).all())):
        raise ValueError("recover_cameras: the reference frame's raxels are not a forward-facing ray bundle; "
                         "are the raxels canonicalised, and is ref right?")

    # 2. Alternate: bundle from current K -> Procrustes (eq. 6) -> focal from the frame's own rays (eq. 7).
    # With one K for the clip the first round is already exact and the loop stops; per-frame focal
    # lengths converge linearly (about x0.3 per round), so 30 rounds reach float64 precision.
    K = K_ref.expand(*batch, N, 3, 3)
    tol = 1e-13 if x.dtype == torch.float64 else 1e-6
    last_change = float("inf")
    for _ in range(iterations):
        R, t = procrustes(_bundle(K, H, W), pts)
        K_new = _fit_intrinsics(_apply_pose_inverse(pts, R, t), uv, pp)
        if not bool(torch.isfinite(K_new).all()) or bool((K_new[..., 0, 0] <= 0).any()):
            raise ValueError("recover_cameras: focal length estimate is not positive and finite; "
                             "the raxels do not look like pinhole ray bundles")
        change = float(((K_new - K).abs() / K[..., :1, :1]).amax())
        K = K_new
        # Stop at the tolerance, or once rounding dominates (the change no longer shrinks): large float32
        # grids stall near 1e-6 and further rounds only add noise.
        if change < tol or (change < 100 * tol and change > 0.9 * last_change):
            break
        last_change = change
    R, t = procrustes(_bundle(K, H, W), pts)

    K_img = K.clone()
    K_img[..., 0, :] *= sx
    K_img[..., 1, :] *= sy
    cams = Cameras(make_pose(R, t), K_img, width, height)
    if return_residual:
        fit = _bundle(K, H, W) @ R.transpose(-1, -2) + t.unsqueeze(-2)
        rms = (fit - pts).square().sum(-1).mean(-1).sqrt()
        return cams, rms
    return cams
