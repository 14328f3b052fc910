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


# ---- the Clip tab on a whole clip: every frame, every method side by side, input-free rows --------------------

import socket  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from engine import PoseResult, ProgressEvent  # noqa: E402
from geometry.metrics import forward_line_baseline  # noqa: E402
from studio import views, workflows  # noqa: E402
from studio.engine_service import EngineService  # noqa: E402
from studio.evaluation import COMPARISON_HEADERS, comparison_rows  # noqa: E402
from studio.session import StudioSession  # noqa: E402
from studio.uploads import Clip  # noqa: E402

CLIPS = Path(__file__).parent / "data" / "re10k-clips"


class RecordingEngine:
    """The engine's pose API shape: every method answers the ground truth, slightly rotated per method, and
    each call's keyword arguments are kept."""

    def __init__(self, gt: g.Cameras):
        self.gt, self.calls = gt, []

    def info(self):
        return {"width": 16, "height": 16, "frames": 9}

    def estimate_poses_stream(self, video, *, steps, method, cancel, **kw):
        self.calls.append((method, len(video), kw))
        tilt = {"raxels": 0.02, "two-view": 0.01, "colmap": 0.0}[method]
        wobble = g.axis_angle_to_matrix(torch.tensor([0.0, tilt, 0.0], dtype=torch.float64))
        cams = self.gt.with_poses(g.make_pose(wobble @ self.gt.R, self.gt.centers))
        yield ProgressEvent("estimate_poses", "done", cameras=cams, result=PoseResult(cams, np.zeros(len(video)), 0))


@pytest.fixture
def clip_session():
    gt = _forward_walk(16)
    gt = g.Cameras(gt.c2w, g.scale_intrinsics(gt.K, 2.0, 1.0), 64, 32)     # a pose file for 64x32 pixels
    engine = RecordingEngine(gt.resized(48, 24))
    service = EngineService(loader=lambda: engine)
    service.engine(timeout=5)
    s = StudioSession(frame_width=16, frame_height=16)
    s.clip = Clip("walk", np.random.default_rng(0).integers(0, 255, (16, 24, 48, 3), dtype=np.uint8))
    s.clip_gt = gt          # loaded for another pixel size: the baselines get it scaled to the clip
    yield s, service, engine, gt
    service.queue.shutdown()
    s.close()


def test_clip_estimation_uses_every_frame_and_keeps_each_methods_result(clip_session):
    s, service, engine, gt = clip_session
    assert list(workflows.estimate_clip(s, service, method="raxels"))[-1].ok
    done = list(workflows.estimate_clip(s, service, method="two-view"))[-1]
    assert done.ok and "classical baselines" in done.text and "input-free" in done.text     # honest status line
    assert set(s.estimates) == {"raxels", "two-view"}                   # the second run kept the first
    assert s.estimate.method == "two-view"
    assert all(len(e.cameras) == 16 and e.frame_ids.tolist() == list(range(16)) for e in s.estimates.values())
    (m1, n1, kw1), (m2, n2, kw2) = engine.calls
    assert (n1, n2) == (16, 16) and kw1 == {}                           # the model predicts its own intrinsics
    K = kw2["intrinsics"]                                               # the pose file's, at the clip's pixels
    assert np.allclose(K, gt.resized(48, 24).K.numpy()) and np.allclose(K[:, 0, 0], gt.K[:, 0, 0].numpy() * 48 / 64)
    # a new clip drops every method's result
    s._use_clip(Clip("other", s.clip.frames[:5]), None)
    assert not s.estimates and s.estimate is None


def test_run_every_method_fills_the_table_and_skips_what_ran(clip_session):
    s, service, engine, _ = clip_session
    assert list(workflows.estimate_clip(s, service, method="raxels"))[-1].ok
    updates = list(workflows.estimate_all(s, service))
    assert [u.finished for u in updates].count(True) == 1 and updates[-1].ok
    assert [c[0] for c in engine.calls] == ["raxels", "two-view", "colmap"]   # the model was not run again
    rows = views.estimate_comparison(s)
    assert [r[0] for r in rows] == ["the model (raxels)", "identity (never turns)",
                                    "forward line", "two-view (baseline)",
                                    "COLMAP (baseline)"]
    assert all(len(r) == len(COMPARISON_HEADERS) and "not run" not in r for r in rows)
    assert rows[4][2] == "100.0 %" and rows[3][1] == "baseline"   # COLMAP's answer is the truth
    assert rows[1][1] == rows[2][1] == "input-free"
    assert "only" not in views.estimate_comparison_note(s) and "input-free" in views.estimate_comparison_note(s)
    assert list(workflows.estimate_all(s, service))[-1].text.startswith("ℹ every method has already run")


def test_comparison_rows_score_the_input_free_answers_and_mark_methods_not_run():
    gt = _forward_walk(16)
    cmp = compare_poses(gt, gt)
    rows = comparison_rows({"raxels": (cmp, 1.234)}, gt)
    assert [r[-1] for r in rows[:3]] == ["1.23", "0", "0"]
    assert rows[0][2:6] == ["100.0 %", "0.00°", "0.000", "100.0 %"]
    assert rows[1][4] == "1.000"                       # an all-zero translation: ATE_rel 1 by construction
    fwd = pose_metrics(forward_line_baseline(gt), gt, rotation_from="orientations")
    assert rows[2][4] == f"{fwd['ATE_rel']:.3f}" and rows[2][2] == f"{100 * fwd['RRA_AUC@30']:.1f} %"
    assert rows[3][2] == rows[4][2] == "not run"
    no_gt = comparison_rows({"raxels": (None, 2.0)}, None)
    assert no_gt[0][2:] == ["—", "—", "—", "—", "2.00"] and no_gt[1][2] == "—"


def test_the_3d_view_draws_each_methods_frustums_in_its_own_colour(clip_session):
    from studio.config import StudioConfig
    from studio.viewport import METHOD_COLORS, Viewport

    s, service, _, _ = clip_session
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    vp = Viewport(s, StudioConfig(viser_port=port))
    try:
        for method in ("raxels", "two-view"):
            assert list(workflows.estimate_clip(s, service, method=method))[-1].ok
        assert vp.flush(20)
        names = vp.node_names("estimate")
        for method in ("raxels", "two-view"):
            frustums = {n for n in names if n.startswith(f"/estimate/predicted/{method}/")}
            assert len(frustums) == 16
            assert {tuple(vp._frustums[n][2].color) for n in frustums} == {METHOD_COLORS[method]}
            assert f"/estimate/labels/{method}" in names
        assert sum(n.startswith("/estimate/ground_truth/") for n in names) == 16
    finally:
        vp.stop()
