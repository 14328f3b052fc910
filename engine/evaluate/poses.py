"""Pose estimation on a benchmark (the paper's Table 3 shape).

Rows: the model at each ray-step count, the identity baseline, and optionally COLMAP, all on whole clips
(``EvalClip.pose_frames``: every frame of a real clip, whatever its length; the model runs in windows,
docs/windowing.md). Errors of all clips are pooled over frame pairs before taking ratios and AUCs (as VGGT / PoseDiffusion); ATE is the
mean over clips. Frames COLMAP leaves unregistered count as wrong: every pair involving one gets
rotation error 180 and translation error 90 degrees (``masked_pose_metrics``).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

import torch

from geometry import Cameras, canonicalize, relative_rotation_angle_deg
from geometry.metrics import identity_baseline, pose_auc, pose_metrics

COLUMNS = ("method", "steps", "mRRA@30", "RRA_AUC@30", "RTA@30", "AUC@30", "ATE", "mean_rot_err_deg",
           "input_dependence", "sec_per_clip", "clips", "failures", "unregistered_frames")


def trajectory_spread_deg(trajectories: list[torch.Tensor]) -> float:
    """How different the clips' trajectories are: the mean over clip pairs of the mean angle between
    their frame-i rotations, each trajectory (N_c, 4, 4) expressed in its own frame 0, over the first
    min N_c frames (clips may differ in length). NaN for < 2 clips."""
    n = min(len(c2w) for c2w in trajectories)
    R = torch.stack([canonicalize(c2w[:n].double(), 0)[..., :3, :3] for c2w in trajectories])   # (C, n, 3, 3)
    C = R.shape[0]
    if C < 2:
        return float("nan")
    a, b = torch.triu_indices(C, C, 1)
    return float(relative_rotation_angle_deg(R[a], R[b]).mean())


def input_dependence(pred: list[torch.Tensor], gt: list[torch.Tensor]) -> float:
    """Spread of the predicted trajectories across clips over that of the true ones (docs/metrics.md):
    0 when the same trajectory is predicted whatever the clip (a model that ignores its input, or the
    identity baseline), about 1 when predictions differ between clips as much as the truth does."""
    truth = trajectory_spread_deg(gt)
    return trajectory_spread_deg(pred) / truth if truth > 0 else float("nan")


def masked_pose_metrics(pred: Cameras, gt: Cameras, registered: np.ndarray | None = None) -> dict[str, Any]:
    """``pose_metrics`` where pairs with an unregistered frame are wrong (rot 180, trans 90 degrees)."""
    m = pose_metrics(pred, gt)
    if registered is None or registered.all():
        return m
    i, j = m["pairs"].T
    bad = ~(registered[i] & registered[j])
    rot, trans = m["pair_rot_err_deg"].copy(), m["pair_trans_err_deg"].copy()
    rot[bad], trans[bad] = 180.0, 90.0
    m.update(_from_pairs(rot, trans))
    m["pair_rot_err_deg"], m["pair_trans_err_deg"] = rot, trans
    m["per_frame_rot_err_deg"] = np.where(registered, m["per_frame_rot_err_deg"], 180.0)
    return m


def _from_pairs(rot: np.ndarray, trans: np.ndarray) -> dict[str, float]:
    out = {f"RRA@{t}": float((rot < t).mean()) for t in (5, 15, 30)}
    out.update({f"RTA@{t}": float((trans < t).mean()) for t in (5, 15, 30)})
    out["AUC@30"] = float(pose_auc(rot, trans, max_threshold=30))
    out["RRA_AUC@30"] = float(pose_auc(rot, max_threshold=30))
    out["mean_rot_err_deg"] = float(rot.mean())
    out["mean_trans_err_deg"] = float(trans.mean())
    return out


def _on_common_frames(pred: Cameras, gt: Cameras) -> dict[str, Any]:
    """``pose_metrics`` over the first min(len(pred), len(gt)) frames (another clip's prediction may be
    longer or shorter than this clip)."""
    n = min(len(pred), len(gt))
    return pose_metrics(pred[:n].to(gt.dtype), gt[:n])


def summarise(method: str, steps: Any, per_clip: list[dict[str, Any]], *,
              dependence: float = float("nan")) -> dict[str, Any]:
    """One table row from per-clip metric dicts (pairs pooled)."""
    rot = np.concatenate([m["pair_rot_err_deg"] for m in per_clip])
    trans = np.concatenate([m["pair_trans_err_deg"] for m in per_clip])
    p = _from_pairs(rot, trans)
    unreg = sum(int(m.get("unregistered", 0)) for m in per_clip)
    return {"method": method, "steps": steps, "mRRA@30": p["RRA@30"], "RRA_AUC@30": p["RRA_AUC@30"],
            "RTA@30": p["RTA@30"], "AUC@30": p["AUC@30"], "ATE": float(np.mean([m["ATE"] for m in per_clip])),
            "mean_rot_err_deg": p["mean_rot_err_deg"], "input_dependence": dependence,
            "sec_per_clip": float(np.mean([m.get("seconds", 0.0) for m in per_clip])), "clips": len(per_clip),
            "failures": sum(1 for m in per_clip if m.get("unregistered", 0)), "unregistered_frames": unreg}


def evaluate_poses(engine, clips, steps_list=(1, 2, 5, 20), *, colmap: bool = False,
                   seed: int = 0) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(table rows, per-clip rows). ``failures`` counts clips with any unregistered frame."""
    rows, per_clip_rows = [], []

    truth = [c.pose_cameras.c2w for c in clips]

    def record(method, steps, metrics, predicted=None):
        dep = input_dependence([p.c2w for p in predicted], truth) if predicted is not None else float("nan")
        rows.append(summarise(method, steps, metrics, dependence=dep))
        for clip, m in zip(clips, metrics):
            per_clip_rows.append({"method": method, "steps": steps, "clip": clip.id, "style": clip.label,
                                  "RRA@30": m["RRA@30"], "RTA@30": m["RTA@30"], "AUC@30": m["AUC@30"],
                                  "ATE": m["ATE"], "mean_rot_err_deg": m["mean_rot_err_deg"],
                                  "seconds": m.get("seconds", 0.0), "unregistered": m.get("unregistered", 0)})

    for steps in steps_list:
        metrics, predicted = [], []
        for clip in clips:
            t0 = time.perf_counter()
            pred = engine.estimate_poses(clip.pose_frames, steps=steps, seed=seed)
            m = pose_metrics(pred, clip.pose_cameras)
            m["seconds"] = time.perf_counter() - t0
            metrics.append(m)
            predicted.append(pred)
        record("raxels", steps, metrics, predicted)
        if len(clips) > 1:
            # The same predictions scored against the *previous* clip's truth ("own/other",
            # docs/metrics.md): a model that reads its input scores clearly worse here than on its own clip.
            # Clips of different lengths are compared over their common first frames.
            other = [_on_common_frames(predicted[(i + 1) % len(clips)], clip.pose_cameras)
                     for i, clip in enumerate(clips)]
            record("raxels, another clip's prediction", steps, other)
    identity = [identity_baseline(c.pose_cameras) for c in clips]
    record("identity", "-", [pose_metrics(p, c.pose_cameras) for p, c in zip(identity, clips)], identity)
    if colmap:
        from engine.baselines.colmap import estimate_poses_colmap

        metrics = []
        for clip in clips:
            res = estimate_poses_colmap(clip.pose_frames, intrinsics=clip.pose_cameras.K[0])
            m = masked_pose_metrics(res.cameras, clip.pose_cameras, res.registered)
            m["seconds"], m["unregistered"] = res.seconds, res.num_unregistered
            metrics.append(m)
        record("colmap", "-", metrics)
    return rows, per_clip_rows
