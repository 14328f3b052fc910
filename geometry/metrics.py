"""Pose metrics for estimated trajectories: relative-pose accuracies and AUC as VGGT / PoseDiffusion
compute them, and ATE after a Sim(3) (Umeyama) alignment. Exact definitions: ``docs/metrics.md``.

Everything is computed in float64 whatever the input dtype, batched over leading dims ``(..., N)``.
Results come back as Python floats (batch shape ``()``) or numpy arrays of the batch shape.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .cameras import Cameras
from .recover import procrustes
from .transforms import invert_pose, make_pose, project_to_so3, rotation_angle
from .validation import as_tensor, check_pose, check_shape

THRESHOLDS_DEG = (5, 15, 30)


# --------------------------------------------------------------------------------------
# Sim(3) alignment
# --------------------------------------------------------------------------------------

def umeyama(src: torch.Tensor, dst: torch.Tensor, *,
            with_scale: bool = True) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Least-squares similarity ``argmin_{s, R, t} sum_k ||s R src_k + t - dst_k||^2`` (Umeyama 1991).

    Args:
        src, dst: (..., N, 3) corresponding points.
        with_scale: fit ``s``; otherwise ``s = 1`` (rigid Kabsch fit).
    Returns:
        s (...), R (..., 3, 3) in SO(3), t (..., 3).

    Never NaN: if ``src`` has no spread the scale is 1. ``R`` is unique only when the cross-covariance
    has rank >= 2 (>= 3 non-collinear points); otherwise it is one of the minimisers
    (``align_cameras`` then uses the camera rotations instead).
    """
    src, dst = torch.broadcast_tensors(src, dst)
    R, _ = procrustes(src, dst)                     # the Umeyama rotation does not depend on the scale
    p = src - src.mean(-2, keepdim=True)
    q = dst - dst.mean(-2, keepdim=True)
    if with_scale:
        # s = tr(D Sigma) / var(src), written as <R p, q> / |p|^2 (same value, no second SVD).
        num = ((p @ R.transpose(-1, -2)) * q).sum((-1, -2))
        den = p.square().sum((-1, -2))
        s = torch.where(den > 0, num / torch.where(den > 0, den, torch.ones_like(den)), torch.ones_like(den))
    else:
        s = torch.ones(src.shape[:-2], dtype=src.dtype, device=src.device)
    t = dst.mean(-2) - s[..., None] * (src.mean(-2).unsqueeze(-2) @ R.transpose(-1, -2)).squeeze(-2)
    return s, R, t


def _rotation_fallback(pred: torch.Tensor, gt: torch.Tensor, *,
                       with_scale: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Sim(3) when the centres cannot fix a rotation: ``R`` = chordal mean of ``R_gt_k R_pred_k^T``,
    then scale and translation by least squares given ``R`` (scale clamped at 0: a Sim(3) has s >= 0)."""
    R = project_to_so3((gt[..., :3, :3] @ pred[..., :3, :3].transpose(-1, -2)).sum(-3))
    c_p, c_g = pred[..., :3, 3], gt[..., :3, 3]
    p = (c_p - c_p.mean(-2, keepdim=True)) @ R.transpose(-1, -2)
    q = c_g - c_g.mean(-2, keepdim=True)
    den = p.square().sum((-1, -2))
    if with_scale:
        num = (p * q).sum((-1, -2))
        s = torch.where(den > 0, (num / torch.where(den > 0, den, torch.ones_like(den))).clamp_min(0),
                        torch.ones_like(den))       # coincident predicted centres: keep their (zero) spread
    else:
        s = torch.ones_like(den)
    t = c_g.mean(-2) - s[..., None] * (c_p.mean(-2).unsqueeze(-2) @ R.transpose(-1, -2)).squeeze(-2)
    return s, R, t


ROTATION_SOURCES = ("centres", "orientations")


def fit_sim3(pred_c2w: torch.Tensor, gt_c2w: torch.Tensor, *, with_scale: bool = True,
             degenerate_tol: float = 1e-3, rotation_from: str = "centres") -> dict[str, torch.Tensor]:
    """Sim(3) taking predicted poses onto ground truth.

    Args:
        pred_c2w, gt_c2w: (..., N, 4, 4) camera-to-world poses.
        degenerate_tol: the centres are degenerate (coincident or collinear, so the rotation about their
            line is free) when the second singular value of their cross-covariance is at most
            ``degenerate_tol`` times the first.
        rotation_from: ``"centres"``: Umeyama on camera centres (the SLAM ATE convention), with the
            rotation fallback where the centres are degenerate; ``"orientations"``: the rotation always
            from the camera orientations (``_rotation_fallback``), so per-frame rotation errors after the
            fit agree with the alignment-free relative rotation errors (the studio's choice).
    Returns:
        ``scale`` (...), ``rotation`` (..., 3, 3), ``translation`` (..., 3), and ``degenerate`` (...) bool:
        True where the rotation came from the orientations (``_rotation_fallback``).
    """
    if rotation_from not in ROTATION_SOURCES:
        raise ValueError(f"fit_sim3: rotation_from must be one of {', '.join(ROTATION_SOURCES)}, "
                         f"got {rotation_from!r}")
    s_r, R_r, t_r = _rotation_fallback(pred_c2w, gt_c2w, with_scale=with_scale)
    if rotation_from == "orientations":
        return {"scale": s_r, "rotation": R_r, "translation": t_r,
                "degenerate": torch.ones(s_r.shape, dtype=torch.bool, device=s_r.device)}
    c_p, c_g = pred_c2w[..., :3, 3], gt_c2w[..., :3, 3]
    H = (c_p - c_p.mean(-2, keepdim=True)).transpose(-1, -2) @ (c_g - c_g.mean(-2, keepdim=True))
    sv = torch.linalg.svdvals(H)                                            # (..., 3) descending
    degenerate = sv[..., 1] <= degenerate_tol * sv[..., 0]                  # also true when sv[0] == 0
    s_u, R_u, t_u = umeyama(c_p, c_g, with_scale=with_scale)
    d = degenerate
    return {"scale": torch.where(d, s_r, s_u), "rotation": torch.where(d[..., None, None], R_r, R_u),
            "translation": torch.where(d[..., None], t_r, t_u), "degenerate": d}


def fit_sim3_spread(pred_c2w: torch.Tensor, gt_c2w: torch.Tensor, **kw: Any) -> dict[str, torch.Tensor]:
    """``fit_sim3`` (same arguments and result) with the scale taken as the ratio of the centres' RMS spreads
    about their means (Horn's symmetric scale), the translation then matching the centroids.

    For joining two noisy estimates of the same cameras (e.g. overlapping windows of one clip): the
    least-squares scale shrinks towards 0 as the noise grows, and the shrinking compounds along a chain;
    this one does not, and the fit from b to a is the inverse of the fit from a to b. Exact for noise-free
    poses; 1 where the predicted centres do not spread.
    """
    fit = fit_sim3(pred_c2w, gt_c2w, **kw)
    c_p, c_g = pred_c2w[..., :3, 3], gt_c2w[..., :3, 3]
    var_p = (c_p - c_p.mean(-2, keepdim=True)).square().sum((-1, -2))
    var_g = (c_g - c_g.mean(-2, keepdim=True)).square().sum((-1, -2))
    s = torch.where(var_p > 0, (var_g / torch.where(var_p > 0, var_p, torch.ones_like(var_p))).sqrt(),
                    torch.ones_like(var_p))
    t = c_g.mean(-2) - s[..., None] * (c_p.mean(-2).unsqueeze(-2) @ fit["rotation"].transpose(-1, -2)).squeeze(-2)
    return {**fit, "scale": s, "translation": t}


def apply_sim3(c2w: torch.Tensor, fit: dict[str, torch.Tensor]) -> torch.Tensor:
    """Poses (..., N, 4, 4) moved by the Sim(3): rotations ``R R_k``, centres ``s R c_k + t``."""
    R = fit["rotation"].unsqueeze(-3)
    centres = fit["scale"][..., None, None] * (c2w[..., :3, 3] @ fit["rotation"].transpose(-1, -2))
    return make_pose(R @ c2w[..., :3, :3], centres + fit["translation"].unsqueeze(-2))


def align_cameras(pred: Cameras, gt: Cameras, *, with_scale: bool = True, return_info: bool = False,
                  rotation_from: str = "centres") -> Cameras | tuple[Cameras, dict[str, torch.Tensor]]:
    """Predicted cameras moved into the ground-truth frame by a Sim(3) (``fit_sim3``).

    By default Umeyama on centres; where they are degenerate (fewer than 3 non-collinear centres, e.g. a
    pure-rotation clip) the rotation comes from the camera orientations instead. With
    ``rotation_from="orientations"`` it always does. Intrinsics and timestamps are the prediction's.
    ``return_info`` adds the ``fit_sim3`` dict.
    """
    pred_c2w, gt_c2w = _checked_poses(pred, gt)
    fit = fit_sim3(pred_c2w, gt_c2w, with_scale=with_scale, rotation_from=rotation_from)
    cams = _as_cameras(pred)
    out = cams.with_poses(apply_sim3(pred_c2w, fit).to(cams.c2w))
    return (out, fit) if return_info else out


# --------------------------------------------------------------------------------------
# Relative pose errors
# --------------------------------------------------------------------------------------

def pair_indices(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """All pairs i < j of n frames in row-major order (0,1), (0,2), ..., (n-2,n-1): two (P,) tensors."""
    i, j = torch.triu_indices(n, n, offset=1)
    return i, j


def relative_pose_errors(pred_c2w: torch.Tensor, gt_c2w: torch.Tensor, *,
                         zero_tol: float = 1e-5) -> tuple[torch.Tensor, torch.Tensor]:
    """Rotation and translation-direction errors (degrees) of the relative poses of all pairs i < j.

    ``T_ij = T_i^{-1} T_j`` (c2w), so ``R_ij = R_i^T R_j`` and ``t_ij = R_i^T (c_j - c_i)``: camera j seen
    from camera i. Rotation error ``angle(R_ij_pred^T R_ij_gt)``; translation error = angle between
    ``t_ij`` directions folded to ``min(e, 180 - e)`` (sign-blind, as VGGT / PoseDiffusion). A relative
    translation counts as zero when ``|t_ij| <= zero_tol * max(1, max_k |c_k|)`` in its own trajectory;
    the error is then 0 if both are zero and 90 if only one is (VGGT gives 90 in both cases).

    Args:
        pred_c2w, gt_c2w: (..., N, 4, 4) float64.
    Returns:
        rot_err, trans_err: (..., P) with P = N (N - 1) / 2, in degrees.
    """
    i, j = pair_indices(pred_c2w.shape[-3])
    rel = []
    for c2w in (pred_c2w, gt_c2w):
        T = invert_pose(c2w[..., i, :, :]) @ c2w[..., j, :, :]            # (..., P, 4, 4)
        scale = c2w[..., :3, 3].norm(dim=-1).amax(-1).clamp_min(1.0)        # (...)
        t = T[..., :3, 3]
        rel.append((T[..., :3, :3], t, t.norm(dim=-1) <= zero_tol * scale[..., None]))
    (R_p, t_p, z_p), (R_g, t_g, z_g) = rel
    rot_err = torch.rad2deg(rotation_angle(R_p.transpose(-1, -2) @ R_g))
    # atan2(|a x b|, a.b) is exact near 0 and 180 degrees, where acos(a.b) loses half the digits.
    e = torch.rad2deg(torch.atan2(torch.linalg.cross(t_p, t_g, dim=-1).norm(dim=-1), (t_p * t_g).sum(-1)))
    e = torch.minimum(e, 180.0 - e)
    trans_err = torch.where(z_p & z_g, torch.zeros_like(e), torch.where(z_p | z_g, torch.full_like(e, 90.0), e))
    return rot_err, trans_err


def pose_auc(rot_err: Any, trans_err: Any | None = None, *, max_threshold: int = 30) -> float | np.ndarray:
    """AUC of pose accuracy over integer thresholds, as VGGT / PoseDiffusion compute it.

    ``mean_{k=1..T} frac(max(rot, trans) < k)``, except that the last threshold counts errors ``<= T``
    (VGGT bins errors with ``np.histogram(bins=0..T)``, whose last bin is closed). With ``trans_err=None``
    it is the rotation-only AUC. Pool errors across clips before calling to get a dataset AUC.

    Args:
        rot_err, trans_err: (..., P) errors in degrees.
    Returns:
        float, or an array of the batch shape (...).
    """
    err = as_tensor(rot_err, "rot_err", dtype=torch.float64)
    if trans_err is not None:
        err = torch.maximum(err, as_tensor(trans_err, "trans_err", dtype=torch.float64))
    if err.ndim == 0 or err.shape[-1] == 0:
        raise ValueError(f"pose_auc: expected errors of shape (..., P) with P >= 1, got {tuple(err.shape)}")
    if max_threshold < 1:
        raise ValueError(f"pose_auc: max_threshold must be >= 1, got {max_threshold}")
    k = torch.arange(1, max_threshold + 1, dtype=err.dtype)
    below = err[..., None] < k                                              # (..., P, T)
    below[..., -1] = err <= max_threshold
    return _out(below.double().mean(-2).mean(-1))


# --------------------------------------------------------------------------------------
# Metrics over a trajectory
# --------------------------------------------------------------------------------------

def pose_metrics(pred: Cameras | torch.Tensor, gt: Cameras | torch.Tensor, *,
                 zero_tol: float = 1e-5, rotation_from: str = "centres") -> dict[str, Any]:
    """All pose metrics of a predicted trajectory against ground truth (definitions: ``docs/metrics.md``).

    Args:
        pred, gt: Cameras (or c2w tensors) of batch shape (..., N), N >= 2, same shape.
        zero_tol: relative-translation zero threshold (see ``relative_pose_errors``).
        rotation_from: the Sim(3) behind ``ATE``, ``sim3_scale`` and the per-frame errors (``fit_sim3``);
            the relative-pose metrics need no alignment.
    Returns:
        dict with scalars (floats, or numpy arrays of shape (...) when batched):
        ``RRA@5/15/30``, ``RTA@5/15/30``, ``AUC@30``, ``RRA_AUC@30``, ``ATE``, ``mean_rot_err_deg``,
        ``mean_trans_err_deg``, ``sim3_scale``, ``alignment`` ("umeyama" or "rotations");
        and arrays: ``per_frame_rot_err_deg`` (..., N), ``per_frame_trans_err`` (..., N) (after alignment,
        gt units), ``pair_rot_err_deg`` (..., P), ``pair_trans_err_deg`` (..., P), ``pairs`` (P, 2).
    """
    pred_c2w, gt_c2w = _checked_poses(pred, gt)
    rot, trans = relative_pose_errors(pred_c2w, gt_c2w, zero_tol=zero_tol)
    out: dict[str, Any] = {}
    for name, err in (("RRA", rot), ("RTA", trans)):
        for thr in THRESHOLDS_DEG:
            out[f"{name}@{thr}"] = _out((err < thr).double().mean(-1))
    out["AUC@30"] = pose_auc(rot, trans, max_threshold=30)
    out["RRA_AUC@30"] = pose_auc(rot, max_threshold=30)
    out["mean_rot_err_deg"] = _out(rot.mean(-1))
    out["mean_trans_err_deg"] = _out(trans.mean(-1))

    fit = fit_sim3(pred_c2w, gt_c2w, rotation_from=rotation_from)
    aligned = apply_sim3(pred_c2w, fit)
    dist = (aligned[..., :3, 3] - gt_c2w[..., :3, 3]).norm(dim=-1)          # (..., N)
    ate = dist.square().mean(-1).sqrt()
    out["ATE"] = _out(ate)
    out["ATE_rel"] = _out(relative_ate(ate, gt_c2w))
    out["sim3_scale"] = _out(fit["scale"])
    deg = fit["degenerate"].numpy()
    out["alignment"] = np.where(deg, "rotations", "umeyama") if deg.ndim else ("rotations" if deg else "umeyama")
    out["per_frame_rot_err_deg"] = torch.rad2deg(
        rotation_angle(aligned[..., :3, :3].transpose(-1, -2) @ gt_c2w[..., :3, :3])).numpy()
    out["per_frame_trans_err"] = dist.numpy()
    out["pair_rot_err_deg"] = rot.numpy()
    out["pair_trans_err_deg"] = trans.numpy()
    out["pairs"] = torch.stack(pair_indices(pred_c2w.shape[-3]), -1).numpy()
    return out


def relative_ate(ate: torch.Tensor, gt_c2w: torch.Tensor, *, still_tol: float = 1e-9) -> torch.Tensor:
    """ATE divided by the true centres' RMS distance from their mean: 1 for any prediction whose centres
    coincide (all-zero translation), 0 for a perfect one. The Sim(3) fit can always shrink the prediction to
    the true mean (scale 0), so no fit scores above 1; a value near 1 means the translation was not found.
    NaN where the true camera does not move (nothing to score).

    Args:
        ate: (...) ATE in gt units; gt_c2w: (..., N, 4, 4).
    """
    c = gt_c2w[..., :3, 3]
    spread = (c - c.mean(-2, keepdim=True)).square().sum(-1).mean(-1).sqrt()
    moving = spread > still_tol * c.norm(dim=-1).amax(-1).clamp_min(1.0)
    return torch.where(moving, ate / torch.where(moving, spread, torch.ones_like(spread)),
                       torch.full_like(spread, float("nan")))


def identity_baseline(gt: Cameras) -> Cameras:
    """The trivial prediction: every pose the identity (gt intrinsics). Report its metrics beside a method's.

    Its relative rotations are all identity, so its rotation errors are the true relative angles; its
    relative translations are all zero, so every pair with real motion has translation error 90.
    """
    eye = torch.eye(4, dtype=gt.dtype, device=gt.device).expand_as(gt.c2w).clone()
    return gt.with_poses(eye)


def forward_line_baseline(gt: Cameras) -> Cameras:
    """An input-free prediction: never turn, move straight ahead (+z) at constant speed (gt intrinsics).

    Real walk-through clips mostly move forward, so this answer scores well on translation direction
    without reading a pixel: a method that does not beat it has not shown it reads the video.
    """
    n = gt.c2w.shape[-3]
    c2w = torch.eye(4, dtype=gt.dtype, device=gt.device).expand_as(gt.c2w).clone()
    c2w[..., 2, 3] = torch.linspace(0.0, 1.0, n, dtype=gt.dtype, device=gt.device)
    return gt.with_poses(c2w)


# --------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------

def _as_cameras(x: Cameras | torch.Tensor) -> Cameras:
    if isinstance(x, Cameras):
        return x
    c2w = as_tensor(x, "c2w")
    check_shape(c2w, (4, 4), "c2w")
    return Cameras(c2w, torch.eye(3, dtype=c2w.dtype).expand(*c2w.shape[:-2], 3, 3), 1, 1)


def _checked_poses(pred: Cameras | torch.Tensor, gt: Cameras | torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """float64 CPU c2w of both trajectories, checked again (a Cameras' tensors can be edited in place)."""
    out = []
    for name, x in (("pred", pred), ("gt", gt)):
        c2w = as_tensor(x.c2w if isinstance(x, Cameras) else x, f"{name} c2w")
        check_pose(c2w, f"pose metrics: {name} c2w")                       # in its own dtype's tolerance
        c2w = c2w.to(dtype=torch.float64, device="cpu")
        if c2w.ndim < 3:
            raise ValueError(f"pose metrics: {name} must be a trajectory (..., N, 4, 4), got {tuple(c2w.shape)}")
        out.append(c2w)
    if out[0].shape != out[1].shape:
        raise ValueError(f"pose metrics: pred and gt shapes differ: {tuple(out[0].shape[:-2])} vs "
                         f"{tuple(out[1].shape[:-2])} (batch..., N)")
    if out[0].shape[-3] < 2:
        raise ValueError(f"pose metrics: need at least 2 frames, got {out[0].shape[-3]}")
    return out[0], out[1]


def _out(x: torch.Tensor) -> float | np.ndarray:
    """Python float for a scalar, numpy array otherwise."""
    return float(x) if x.ndim == 0 else x.numpy()
