"""Cameras from raxel images: Procrustes to the reference bundle (paper eq. 6) and focal length by
median of ratios (eq. 7), alternating when focal lengths differ between frames."""

from __future__ import annotations

import math
from typing import Literal

import torch

from .cameras import Cameras, intrinsics_matrix
from .rays import intrinsics_groups, ray_directions
from .transforms import make_pose, quaternion_to_matrix
from .validation import as_tensor, check_finite, check_image_size

PrincipalPoint = Literal["center", "estimate"] | torch.Tensor


def kabsch_rotation(H: torch.Tensor) -> torch.Tensor:
    """The rotation (..., 3, 3) maximising ``trace(R H)`` for cross-covariances (..., 3, 3)
    ``H = sum (src - mean src)(dst - mean dst)^T``: the Kabsch solution, reflections excluded."""
    U, _, Vh = torch.linalg.svd(H)
    V = Vh.transpose(-1, -2)
    d = torch.sign(torch.linalg.det(V @ U.transpose(-1, -2)))
    d = torch.where(d == 0, torch.ones_like(d), d)                          # reflection guard
    D = torch.diag_embed(torch.stack([torch.ones_like(d), torch.ones_like(d), d], -1))
    return V @ D @ U.transpose(-1, -2)


def procrustes(src: torch.Tensor, dst: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Rigid fit without scale (Kabsch): ``argmin_{R, t} sum ||R src + t - dst||^2``.

    Args:
        src, dst: (..., P, 3) corresponding points.
    Returns:
        R (..., 3, 3) in SO(3), t (..., 3).
    """
    mu_s = src.mean(-2, keepdim=True)
    mu_d = dst.mean(-2, keepdim=True)
    R = kabsch_rotation((src - mu_s).transpose(-1, -2) @ (dst - mu_d))     # (..., 3, 3)
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
        local: (..., 3, P) rays in the camera frame, ``l = R^T (raxel - t)``.
        uv: (P, 2) pixel centres on the grid.
        pp: (..., 2) principal point on the grid, or None to estimate it by least squares.
    """
    lx, ly, lz = local.unbind(-2)
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


# Grids with more pixels than this estimate focal lengths (and the principal point and the automatic
# reference) on every s-th row and column, s = ceil(sqrt(pixels / FOCAL_SAMPLE_PIXELS)): 480x832 uses
# s = 5, 96 x 167 = 16,032 pixels. On clean raxels the median of ratios is the same on any subset (both
# within 1.2e-7 of the truth in float32). With Gaussian noise sigma (raxel units) the sampled focal lengths
# differ from the every-pixel ones by about 0.14 sigma (relative; measured at 81 x 480 x 832, float32:
# 1.3e-4 at sigma = 0.001, 1.4e-3 at sigma = 0.01, where the every-pixel estimate itself is off by 2.5e-4
# and the rotation error is 1.10e-2 vs 1.09e-2 degrees); tests/test_rays_and_recovery.py holds it under
# 0.2 sigma.
# ``exact_focal=True`` uses every pixel (about 10x slower at that size).
FOCAL_SAMPLE_PIXELS = 16_384


def focal_sample_step(height: int, width: int) -> int:
    """Row and column step of the pixel subsample used for focal lengths on a ``width`` x ``height`` grid."""
    return max(1, math.ceil(math.sqrt(height * width / FOCAL_SAMPLE_PIXELS)))


_PIXEL_CHUNK = 16_384


def _fit_poses(frames: torch.Tensor, sums: torch.Tensor, K: torch.Tensor, height: int, width: int,
               which: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Procrustes (eq. 6) of frames ``which`` against the unit bundle of their own K.

    The cross-covariance needs no centred copy of the raxels: ``sum_u (b(u) - mean b) x(u)^T`` with the
    bundle centred (one small tensor per distinct K) is one (3, P) x (P, 3n) product per run of frames
    sharing it, and the raxels' means come from ``sums``.

    Args:
        frames: (B, 3, P) raxels, P = height * width; sums: (B, 3) their sums over P.
        K: (B, 3, 3) intrinsics on the grid.
        which: indices into B of the frames to fit.
    Returns:
        R (len(which), 3, 3) and t (len(which), 3), ``x ~ R b + t``.
    """
    B, _, P = frames.shape
    n = len(which)
    index = torch.tensor(which, dtype=torch.long, device=frames.device)
    H = torch.empty(n, 3, 3, dtype=frames.dtype, device=frames.device)      # [k, j, i] = sum (d_j - mean d_j) x_i
    mean_d = torch.empty(n, 3, dtype=frames.dtype, device=frames.device)
    xs = torch.arange(width, dtype=frames.dtype, device=frames.device) + 0.5
    ys = torch.arange(height, dtype=frames.dtype, device=frames.device) + 0.5
    flat = frames.reshape(B * 3, P)          # a denoised preview may be non-contiguous
    for k, runs in intrinsics_groups(K[index]):
        d = ray_directions(K[which[k]], xs, ys).view(3, P)
        mu = d.mean(-1)
        d.sub_(mu[:, None])
        for run in runs:
            mean_d[run] = mu
            first, last = which[run.start], which[run.stop - 1]
            if last - first == run.stop - run.start - 1:
                # Consecutive frames: (3, p) x (p, 3n) products on views of the raxels, no copy. Summing
                # pixel chunks in float64 keeps float32 rounding of 400k-term sums out of the poses.
                rows = flat[3 * first:3 * last + 3]
                prod = torch.zeros(3, rows.shape[0], dtype=torch.float64, device=frames.device)
                for p0 in range(0, P, _PIXEL_CHUNK):
                    prod += (d[:, p0:p0 + _PIXEL_CHUNK] @ rows[:, p0:p0 + _PIXEL_CHUNK].T).double()
                H[run] = prod.view(3, -1, 3).transpose(0, 1).to(frames.dtype)   # [j, 3f + i] -> [f, j, i]
            else:
                for j in range(run.start, run.stop):
                    torch.mm(d, frames[which[j]].T, out=H[j])
    R = kabsch_rotation(H)
    t = sums[index] / P - (R @ mean_d.unsqueeze(-1)).squeeze(-1)
    return R, t


def _fit_residual(frames: torch.Tensor, K: torch.Tensor, R: torch.Tensor, t: torch.Tensor, height: int,
                  width: int) -> torch.Tensor:
    """RMS distance (B,) between each frame's raxels (B, 3, P) and its fitted bundle ``R b + t``, one
    frame at a time (a difference of accumulated sums would cancel catastrophically in float32)."""
    B, _, P = frames.shape
    rms = torch.empty(B, dtype=frames.dtype, device=frames.device)
    xs = torch.arange(width, dtype=frames.dtype, device=frames.device) + 0.5
    ys = torch.arange(height, dtype=frames.dtype, device=frames.device) + 0.5
    for k, runs in intrinsics_groups(K):
        d = ray_directions(K[k], xs, ys).view(3, P)
        for run in runs:
            for f in range(run.start, run.stop):
                fit = torch.addmm(t[f, :, None], R[f], d).sub_(frames[f])
                rms[f] = torch.linalg.vector_norm(fit) / math.sqrt(P)
    return rms


def recover_cameras(raxels: torch.Tensor, *, width: int, height: int, ref: int | None = None,
                    iterations: int = 30, principal_point: PrincipalPoint = "center",
                    return_residual: bool = False, exact_focal: bool = False) -> Cameras | tuple[Cameras, torch.Tensor]:
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
        exact_focal: fit focal lengths on every pixel. By default grids above ``FOCAL_SAMPLE_PIXELS``
            pixels use a strided subsample (``focal_sample_step``); poses always use every pixel.
    Returns:
        Cameras with c2w (..., N, 4, 4) in the reference frame's coordinates and K (..., N, 3, 3).
    """
    x = as_tensor(raxels, "raxels")
    if x.ndim < 4 or x.shape[-3] != 3:
        raise ValueError(f"recover_cameras: expected raxels of shape (..., N, 3, H, W), got {tuple(x.shape)}")
    check_image_size(width, height, "recover_cameras")
    if torch.is_grad_enabled() and x.requires_grad:
        raise ValueError("recover_cameras: raxels require grad, but recovery is not differentiable (the focal "
                         "median is piecewise constant); detach them, or use procrustes_quaternion for gradients")
    if iterations < 1:
        raise ValueError(f"recover_cameras: iterations must be >= 1, got {iterations}")
    H, W = x.shape[-2:]
    N = x.shape[-4]
    batch = x.shape[:-4]
    frames = x.reshape(-1, 3, H * W).contiguous()                           # (B, 3, P); one copy at most
    # The sums Procrustes needs double as the finiteness check: one pass, no (B, 3, H, W) mask.
    sums = frames.sum(-1)                                                   # (B, 3)
    if not bool(torch.isfinite(sums).all()):
        check_finite(x, "recover_cameras: raxels")
        raise ValueError("recover_cameras: raxels are too large (their sums overflow)")
    sx, sy = width / W, height / H
    to_grid = torch.tensor([1 / sx, 1 / sy], dtype=x.dtype, device=x.device)

    # Focal lengths from a strided subsample of pixels (all of them for small grids or exact_focal).
    step = 1 if exact_focal else focal_sample_step(H, W)
    first = step // 2
    sample = x[..., first::step, first::step]                               # (..., N, 3, h, w)
    xs_s = torch.arange(first, W, step, dtype=x.dtype, device=x.device) + 0.5
    ys_s = torch.arange(first, H, step, dtype=x.dtype, device=x.device) + 0.5
    uv = torch.stack(torch.meshgrid(xs_s, ys_s, indexing="xy"), -1).reshape(-1, 2)   # (p, 2)
    sample = sample.reshape(*batch, N, 3, uv.shape[0])                      # (..., N, 3, p)

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
    if ref is None:
        K_id = _fit_intrinsics(sample, uv, pp)                             # (..., N, 3, 3) assuming R=I, t=0
        ok = torch.isfinite(K_id).all(-1).all(-1) & (K_id[..., 0, 0] > 0) & (K_id[..., 1, 1] > 0)
        K_safe = torch.where(ok[..., None, None], K_id, torch.eye(3, dtype=x.dtype, device=x.device))
        resid = (ray_directions(K_safe, xs_s, ys_s).flatten(-2) - sample).square().sum(-2).mean(-1)
        resid = torch.where(ok, resid, torch.full_like(resid, float("inf")))
        ref_idx = resid.argmin(-1)                                          # (...)
        K_ref = torch.take_along_dim(K_id, ref_idx[..., None, None, None], dim=-3)  # (..., 1, 3, 3)
    else:
        if not -N <= ref < N:
            raise ValueError(f"recover_cameras: ref {ref} out of range for {N} frames")
        r = ref % N
        K_ref = _fit_intrinsics(sample[..., r:r + 1, :, :], uv, None if pp is None else pp[..., r:r + 1, :])
    if pp is None:
        pp = K_ref[..., :2, 2].expand(*batch, N, 2)
    if not bool((torch.isfinite(K_ref).all()) and bool((K_ref[..., 0, 0] > 0).all())):
        raise ValueError("recover_cameras: the reference frame's raxels are not a forward-facing ray bundle; "
                         "are the raxels canonicalised, and is ref right?")

    # 2. Alternate: Procrustes (eq. 6) with each frame's current K -> focal from the frame's own rays (eq. 7).
    # A frame whose focal estimate agrees with the K its pose was fitted with (to `agree`, the estimate's
    # precision) is done: refitting would change it by rounding only. With one K for the clip every frame
    # is done after the first fit; per-frame focal lengths converge linearly (about x0.3 per round), so 30
    # rounds reach float64 precision.
    B = frames.shape[0]
    K = K_ref.expand(*batch, N, 3, 3).reshape(B, 3, 3).clone()
    flat_pp = None if pp is None else pp.reshape(B, 2)
    flat_sample = sample.reshape(B, 3, uv.shape[0])                         # (B, 3, p)
    R, t = _fit_poses(frames, sums, K, H, W, list(range(B)))
    tol = 1e-13 if x.dtype == torch.float64 else 1e-6
    agree = 10 * tol
    last_change = float("inf")
    for _ in range(iterations):
        local = R.transpose(-1, -2) @ (flat_sample - t[..., None])          # (B, 3, p) = R^T (x - t)
        K_new = _fit_intrinsics(local, uv, flat_pp)
        if not bool(torch.isfinite(K_new).all()) or bool((K_new[..., 0, 0] <= 0).any()):
            raise ValueError("recover_cameras: focal length estimate is not positive and finite; "
                             "the raxels do not look like pinhole ray bundles")
        change = ((K_new - K).abs() / K[..., :1, :1]).amax((-2, -1))        # (B,)
        moved = torch.nonzero(change > agree).flatten().tolist()
        if not moved:
            break
        K[moved] = K_new[moved]
        R[moved], t[moved] = _fit_poses(frames, sums, K, H, W, moved)
        # Stop once rounding dominates (the change no longer shrinks): large float32 grids stall near 1e-6
        # and further rounds only add noise.
        worst = float(change.max())
        if worst < 100 * tol and worst > 0.9 * last_change:
            break
        last_change = worst
    K = K.view(*batch, N, 3, 3)

    K_img = K.clone()
    K_img[..., 0, :] *= sx
    K_img[..., 1, :] *= sy
    cams = Cameras(make_pose(R, t).view(*batch, N, 4, 4), K_img, width, height)
    if return_residual:
        rms = _fit_residual(frames, K.reshape(B, 3, 3), R, t, H, W)
        return cams, rms.view(*batch, N)
    return cams
