"""What the Clip and Compare tabs score: one alignment behind the pose table and the per-frame error plot."""

from __future__ import annotations

import numpy as np
import torch

import geometry as g
from geometry.metrics import pose_metrics
from studio.evaluation import compare_poses


def _forward_walk(n: int = 9) -> g.Cameras:
    """A RealEstate10K-like clip: the camera walks nearly straight ahead while it turns a little."""
    t = torch.linspace(0, 1, n, dtype=torch.float64)
    yaw = 0.4 * torch.sin(3 * t)
    R = g.axis_angle_to_matrix(torch.stack([0.05 * t, yaw, 0.02 * torch.cos(5 * t)], -1))
    centres = torch.stack([0.04 * torch.sin(7 * t), 0.03 * torch.cos(4 * t), 2.0 * t], -1)
    return g.Cameras.from_fov(g.make_pose(R, centres), fov_y_deg=50.0, width=32, height=32)


def _moved(cams: g.Cameras, R: torch.Tensor, scale: float, offset, jitter: float, seed: int = 0) -> g.Cameras:
    """The same cameras in another world frame (rotations ``R R_k``, centres ``s R c_k + t``), centres jittered."""
    noise = torch.randn(len(cams), 3, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) * jitter
    centres = scale * cams.centers @ R.T + torch.as_tensor(offset, dtype=torch.float64) + noise
    return cams.with_poses(g.make_pose(R @ cams.R, centres))


def test_per_frame_errors_come_from_the_tables_alignment():
    gt = _forward_walk()
    G = g.axis_angle_to_matrix(torch.tensor([0.3, -1.1, 0.7], dtype=torch.float64))   # known global rotation
    pred = _moved(gt, G, 0.5, [1.0, -2.0, 0.5], jitter=0.02)   # orientations exact, centres 1 % off
    # Umeyama on these nearly collinear centres leaves the roll about the walk to the jitter: that was the plot.
    assert pose_metrics(pred, gt, rotation_from="centres")["per_frame_rot_err_deg"].max() > 5.0

    cmp = compare_poses(pred, gt)
    m = cmp.metrics
    assert m["mean_rot_err_deg"] < 1e-6                       # the table: relative rotations are exact
    assert np.all(m["per_frame_rot_err_deg"] < 1e-6)          # the plot agrees
    aligned_err = g.rotation_angle(cmp.aligned.R.transpose(-1, -2) @ gt.R)
    assert torch.rad2deg(aligned_err).max() < 1e-6            # and so do the aligned frustums
    assert np.isclose(m["ATE"], np.sqrt(np.mean(m["per_frame_trans_err"] ** 2)))
    rows = dict(cmp.summary_rows())
    assert rows["mean per-frame rotation error after the alignment below (the plot)"] == "0.00°"
    assert "orientations" in rows["alignment (ATE, per-frame plot, aligned frustums)"]


def test_per_frame_and_relative_rotation_errors_agree_for_noisy_predictions():
    gt = _forward_walk()
    gen = torch.Generator().manual_seed(1)
    wobble = g.axis_angle_to_matrix(torch.randn(len(gt), 3, generator=gen, dtype=torch.float64) * 0.05)
    G = g.axis_angle_to_matrix(torch.tensor([2.0, 0.4, -0.9], dtype=torch.float64))
    noisy = gt.with_poses(g.make_pose(wobble @ gt.R, gt.centers))
    m = compare_poses(_moved(noisy, G, 2.0, [0.0, 1.0, 0.0], jitter=0.05), gt).metrics
    per_frame, pairs = m["per_frame_rot_err_deg"], m["pair_rot_err_deg"]
    # one rotation for all frames: a pair's relative error is at most the sum of its two frames' errors ...
    i, j = m["pairs"].T
    assert np.all(pairs <= per_frame[i] + per_frame[j] + 1e-9)
    # ... and the fitted rotation is no worse than aligning on any one frame (whose errors are that frame's pairs)
    assert per_frame.mean() <= m["mean_rot_err_deg"] + 1e-9
    assert per_frame.max() < 10.0
