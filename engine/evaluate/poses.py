"""Pose estimation on a benchmark (the paper's Table 3 shape).

Rows, all on whole clips (``EvalClip.pose_frames``: every frame of a real clip, whatever its length; the
model runs in windows, docs/windowing.md), each with a ``kind``:

- ``raxels`` at each ray-step count (the model);
- ``raxels, another clip's prediction`` (own/other): the model's prediction for the next clip, scored
  against this clip's truth;
- ``identity`` and ``forward line``: input-free answers (never turns, never moves / moves straight ahead);
- the classical baselines (``two-view`` always, ``colmap`` on request), run on every frame at the clip's
  own resolution with the ground truth's intrinsics (``EvalClip.baseline_frames``), as a user with a
  calibrated camera would.

Tables lead with ``ATE_rel`` (an all-zero translation scores exactly 1) and ``AUC@30`` / ``RRA_AUC@30``.
Errors of all clips are pooled over frame pairs before taking ratios and AUCs (as VGGT / PoseDiffusion);
ATE and ATE_rel are means over clips. Frames a baseline leaves without a pose count as wrong: every pair
involving one gets rotation error 180 and translation error 90 degrees (``masked_pose_metrics``).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

import torch

from geometry import Cameras, canonicalize, relative_rotation_angle_deg
from geometry.metrics import forward_line_baseline, identity_baseline, pose_auc, pose_metrics

COLUMNS = ("method", "kind", "steps", "ATE_rel", "AUC@30", "RRA_AUC@30", "mRRA@30", "RTA@30", "ATE",
           "mean_rot_err_deg", "input_dependence", "sec_per_clip", "clips", "failures", "unregistered_frames")

OTHER_CLIP = "raxels, another clip's prediction"
FORWARD_LINE = "forward line"
KINDS = {"raxels": "model", OTHER_CLIP: "control: model, another clip", "identity": "input-free",
         FORWARD_LINE: "input-free"}
BASELINE_KIND = "baseline (classical, full resolution, true K)"
BASELINES = ("two-view", "colmap")


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
    m = pose_metrics(pred.to(gt.dtype), gt)
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
    ate_rel = [m["ATE_rel"] for m in per_clip if np.isfinite(m["ATE_rel"])]      # NaN: a clip whose truth is still
    return {"method": method, "kind": KINDS.get(method, BASELINE_KIND), "steps": steps,
            "ATE_rel": float(np.mean(ate_rel)) if ate_rel else float("nan"),
            "mRRA@30": p["RRA@30"], "RRA_AUC@30": p["RRA_AUC@30"],
            "RTA@30": p["RTA@30"], "AUC@30": p["AUC@30"], "ATE": float(np.mean([m["ATE"] for m in per_clip])),
            "mean_rot_err_deg": p["mean_rot_err_deg"], "input_dependence": dependence,
            "sec_per_clip": float(np.mean([m.get("seconds", 0.0) for m in per_clip])), "clips": len(per_clip),
            "failures": sum(1 for m in per_clip if m.get("unregistered", 0)), "unregistered_frames": unreg}


def baseline_metrics(method: str, clip) -> dict[str, Any]:
    """A classical baseline on every frame of ``clip`` at its own resolution, given the true intrinsics;
    ``pose_metrics`` with unposed frames counted as wrong, plus ``seconds`` and ``unregistered``."""
    from engine.baselines import baseline_pose_events

    res = None
    for ev in baseline_pose_events(method, clip.baseline_frames, intrinsics=clip.baseline_cameras.K):
        res = ev.result if ev.stage == "done" else res
    m = masked_pose_metrics(res.cameras, clip.pose_cameras, res.registered)
    m["seconds"], m["unregistered"] = res.seconds, res.num_unregistered
    return m


def evaluate_poses(engine, clips, steps_list=(1, 2, 5, 20), *, baselines: tuple[str, ...] = ("two-view",),
                   seed: int = 0) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(table rows, per-clip rows). ``baselines``: any of ``BASELINES``. ``failures`` counts clips with
    any frame a baseline left without a pose."""
    unknown = [b for b in baselines if b not in BASELINES]
    if unknown:
        raise ValueError(f"evaluate_poses: unknown baseline(s) {', '.join(map(repr, unknown))}; "
                         f"choose from {', '.join(BASELINES)}")
    rows, per_clip_rows = [], []

    truth = [c.pose_cameras.c2w for c in clips]

    def record(method, steps, metrics, predicted=None):
        dep = input_dependence([p.c2w for p in predicted], truth) if predicted is not None else float("nan")
        rows.append(summarise(method, steps, metrics, dependence=dep))
        for clip, m in zip(clips, metrics):
            per_clip_rows.append({"method": method, "steps": steps, "clip": clip.id, "style": clip.label,
                                  "frames": len(clip.pose_frames), "ATE_rel": m["ATE_rel"],
                                  "RRA@30": m["RRA@30"], "RTA@30": m["RTA@30"], "AUC@30": m["AUC@30"],
                                  "RRA_AUC@30": m["RRA_AUC@30"],
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
            record(OTHER_CLIP, steps, other)
    for method, answer in (("identity", identity_baseline), (FORWARD_LINE, forward_line_baseline)):
        predicted = [answer(c.pose_cameras) for c in clips]
        record(method, "-", [pose_metrics(p, c.pose_cameras) for p, c in zip(predicted, clips)], predicted)
    for method in baselines:
        record(method, "-", [baseline_metrics(method, clip) for clip in clips])
    return rows, per_clip_rows
