"""Pose metrics (geometry/metrics.py): relative-pose accuracies, AUC as VGGT computes it, Sim(3) ATE."""

import math

import numpy as np
import pytest
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st

import geometry as g
from camera_strategies import batch_shapes, random_cameras, seeds
from geometry.metrics import (align_cameras, fit_sim3, identity_baseline, pose_auc, pose_metrics,
                              relative_pose_errors, umeyama)

ACCURACY_KEYS = ["RRA@5", "RRA@15", "RRA@30", "RTA@5", "RTA@15", "RTA@30", "AUC@30", "RRA_AUC@30"]
dtypes = st.sampled_from([torch.float32, torch.float64])
n_frames = st.integers(min_value=3, max_value=8)


def _random_rotation(seed: int, dtype=torch.float64) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return g.axis_angle_to_matrix(torch.randn(3, generator=gen, dtype=dtype) * 1.5)


def _similarity(cams: g.Cameras, s: float, R: torch.Tensor, t: torch.Tensor) -> g.Cameras:
    """The same rig seen in another world frame: rotations ``R R_k``, centres ``s R c_k + t``."""
    return cams.with_poses(g.make_pose(R @ cams.R, s * cams.centers @ R.T + t))


# --------------------------------------------------------------------------------------
# Exact cases
# --------------------------------------------------------------------------------------

@settings(max_examples=15, deadline=None)
@given(seed=seeds, batch=batch_shapes, n=n_frames, dtype=dtypes)
def test_identical_trajectories_are_perfect(seed, batch, n, dtype):
    cams = random_cameras(seed, batch, n, dtype=dtype)
    m = pose_metrics(cams, cams)
    for key in ACCURACY_KEYS:
        assert np.all(np.asarray(m[key]) == 1.0), key
    assert np.all(np.asarray(m["ATE"]) < 1e-5)
    assert np.all(np.asarray(m["mean_rot_err_deg"]) < 1e-3)
    assert m["pair_rot_err_deg"].shape == (*batch, n * (n - 1) // 2)
    assert m["per_frame_trans_err"].shape == (*batch, n)


@settings(max_examples=15, deadline=None)
@given(seed=seeds, n=n_frames, frame=st.integers(0, 7), axis_seed=seeds)
def test_one_frame_rotated_by_40_degrees_about_its_centre(seed, n, frame, axis_seed):
    gt = random_cameras(seed, (), n)
    k = frame % n
    axis = torch.randn(3, generator=torch.Generator().manual_seed(axis_seed), dtype=torch.float64)
    A = g.axis_angle_to_matrix(axis / axis.norm() * math.radians(40.0))
    c2w = gt.c2w.clone()
    c2w[k, :3, :3] = A @ gt.R[k]                                             # centre unchanged
    m = pose_metrics(gt.with_poses(c2w), gt)
    with_k = (m["pairs"] == k).any(-1)
    assert np.allclose(m["pair_rot_err_deg"][with_k], 40.0, atol=1e-9)
    assert np.allclose(m["pair_rot_err_deg"][~with_k], 0.0, atol=1e-9)
    expected = 1 - (n - 1) / (n * (n - 1) / 2)
    for key in ("RRA@5", "RRA@15", "RRA@30", "RRA_AUC@30"):
        assert m[key] == pytest.approx(expected, abs=1e-12), key
    # Pairs (i, k) with i < k see camera k's centre from camera i: untouched by k's rotation.
    untouched = m["pairs"][:, 1] == k
    assert np.allclose(m["pair_trans_err_deg"][untouched], 0.0, atol=1e-6)


@settings(max_examples=15, deadline=None)
@given(seed=seeds, batch=batch_shapes, n=n_frames, log_s=st.floats(-2.0, 2.0), rot_seed=seeds,
       t=st.tuples(*[st.floats(-50, 50)] * 3))
@example(seed=24855, batch=(), n=3, log_s=0.0, rot_seed=0, t=(0.0, 0.0, 0.0))   # nearly collinear centres
def test_similarity_transformed_copy_has_zero_ate_and_full_accuracy(seed, batch, n, log_s, rot_seed, t):
    gt = random_cameras(seed, batch, n)
    s = math.exp(log_s)
    pred = _similarity(gt, s, _random_rotation(rot_seed), torch.tensor(t, dtype=torch.float64))
    m = pose_metrics(pred, gt)
    for key in ACCURACY_KEYS:
        assert np.all(np.asarray(m[key]) == 1.0), key
    assert np.all(np.asarray(m["ATE"]) < 1e-8)
    assert np.allclose(m["sim3_scale"], 1 / s, rtol=1e-9)
    # Umeyama unless the centres are (nearly) collinear by fit_sim3's rule: the cross-covariance of a
    # similar copy has singular values s * sigma_k^2, so the rule reads sigma_1^2 <= 1e-3 sigma_0^2.
    c = gt.c2w[..., :3, 3]
    sigma = torch.linalg.svdvals(c - c.mean(-2, keepdim=True))
    collinear = (sigma[..., 1] ** 2 <= 1e-3 * sigma[..., 0] ** 2).numpy()
    assert np.array_equal(np.asarray(m["alignment"]) == "rotations", collinear)
    assert np.all(m["per_frame_rot_err_deg"] < 1e-6)


def test_auc_hand_computed():
    # max errors 2.5, 10, 40: below k for k = 3..10 -> 1/3 (8 thresholds), k = 11..30 -> 2/3 (20 thresholds).
    assert pose_auc([0.5, 10.0, 40.0], [2.5, 1.0, 0.0]) == pytest.approx((8 / 3 + 40 / 3) / 30, abs=1e-15)
    # rotation only: 0.5 -> 30 thresholds, 10 -> 20 (k = 11..30), 40 -> none.
    assert pose_auc([0.5, 10.0, 40.0]) == pytest.approx((30 + 20) / 90, abs=1e-15)
    # VGGT's histogram has a closed last bin: an error of exactly 30 counts at threshold 30.
    assert pose_auc([30.0]) == pytest.approx(1 / 30, abs=1e-15)
    assert pose_auc([5.0]) == pytest.approx(25 / 30, abs=1e-15)
    assert pose_auc([30.5]) == 0.0


def test_auc_of_a_two_frame_trajectory():
    # Frame 1 rotated by 12.5 degrees about its own centre: one pair, rot error 12.5, trans error 0
    # (camera 1's centre seen from camera 0 does not move) -> below k for k = 13..30 -> 18 / 30.
    gt = random_cameras(11, (), 2)
    c2w = gt.c2w.clone()
    c2w[1, :3, :3] = g.axis_angle_to_matrix(torch.tensor([0.0, math.radians(12.5), 0.0], dtype=torch.float64)) @ gt.R[1]
    m = pose_metrics(gt.with_poses(c2w), gt)
    assert m["pair_rot_err_deg"] == pytest.approx([12.5], abs=1e-9)
    assert m["pair_trans_err_deg"] == pytest.approx([0.0], abs=1e-9)
    assert m["AUC@30"] == pytest.approx(18 / 30, abs=1e-12)
    assert (m["RRA@5"], m["RRA@15"], m["RTA@5"]) == (0.0, 1.0, 1.0)


def test_rotation_only_auc_ignores_translation_errors():
    gt = random_cameras(4, (), 5)
    c2w = gt.c2w.clone()
    c2w[2, :3, 3] += torch.tensor([3.0, -2.0, 1.0], dtype=torch.float64)   # one centre moved, rotations kept
    m = pose_metrics(gt.with_poses(c2w), gt)
    assert np.all(m["pair_rot_err_deg"] < 1e-9) and m["pair_trans_err_deg"].max() > 30
    assert m["RRA@30"] == 1.0 and m["RRA_AUC@30"] == 1.0
    assert m["AUC@30"] < 1.0 and m["RTA@30"] < 1.0


@settings(max_examples=30, deadline=None)
@given(errs=st.lists(st.tuples(st.floats(0, 60), st.floats(0, 90)), min_size=1, max_size=40))
def test_auc_matches_a_histogram_of_max_errors(errs):
    """The binning VGGT describes: histogram of max errors over bins 0..30, cumulative, mean."""
    r, t = np.array(errs).T
    hist, _ = np.histogram(np.maximum(r, t), bins=np.arange(31))
    assert pose_auc(r, t) == pytest.approx(np.mean(np.cumsum(hist / len(r))), abs=1e-12)


# --------------------------------------------------------------------------------------
# Ambiguities and conventions
# --------------------------------------------------------------------------------------

@settings(max_examples=15, deadline=None)
@given(seed=seeds, n=n_frames, noise=st.floats(0.0, 0.3))
def test_translation_error_is_blind_to_the_sign_of_translations(seed, n, noise):
    gt = random_cameras(seed, (), n)
    gen = torch.Generator().manual_seed(seed + 1)
    pred = gt.with_poses(g.make_pose(gt.R, gt.centers + noise * torch.randn(n, 3, generator=gen, dtype=torch.float64)))
    flipped = pred.with_poses(g.make_pose(pred.R, -pred.centers))          # every t_ij -> -t_ij
    a, b = pose_metrics(pred, gt), pose_metrics(flipped, gt)
    assert np.allclose(a["pair_trans_err_deg"], b["pair_trans_err_deg"], atol=1e-9)
    assert np.allclose(a["pair_rot_err_deg"], b["pair_rot_err_deg"])
    assert np.all(b["pair_trans_err_deg"] <= 90.0)


def test_zero_translations_and_the_identity_baseline():
    gt = random_cameras(5, (), 6)
    base = pose_metrics(identity_baseline(gt), gt)
    # All predicted relative translations are zero while the true ones are not: 90 degrees each.
    assert np.all(base["pair_trans_err_deg"] == 90.0) and base["RTA@30"] == 0.0 and base["AUC@30"] == 0.0
    # Its rotation errors are the true relative rotation angles.
    i, j = base["pairs"].T
    true_angles = g.relative_rotation_angle_deg(gt.R[i], gt.R[j]).numpy()
    assert np.allclose(base["pair_rot_err_deg"], true_angles, atol=1e-9)
    # Both zero (two pure-rotation clips): error 0.
    still = gt.with_poses(g.make_pose(gt.R, torch.zeros(6, 3, dtype=torch.float64)))
    assert np.all(pose_metrics(still, still)["pair_trans_err_deg"] == 0.0)
    _, trans = relative_pose_errors(still.c2w, gt.c2w)
    assert torch.all(trans == 90.0)


@pytest.mark.parametrize("rotation_from", ["centres", "orientations"])
def test_relative_ate_gives_an_all_zero_translation_exactly_one(rotation_from):
    """ATE_rel cannot flatter a prediction that never moves: coincident centres score 1, whatever the
    scene's size, and no Sim(3)-aligned prediction scores above 1 (the fit can always shrink to the mean)."""
    for seed in range(4):
        gt = random_cameras(seed, (), 7)
        gt = gt.with_poses(g.make_pose(gt.R, gt.c2w[:, :3, 3] * (10.0 ** (seed - 1))))
        still = pose_metrics(identity_baseline(gt), gt, rotation_from=rotation_from)
        assert abs(still["ATE_rel"] - 1.0) < 1e-9
        exact = pose_metrics(_similarity(gt, 3.0, _random_rotation(seed), torch.ones(3, dtype=torch.float64)),
                             gt, rotation_from=rotation_from)
        assert exact["ATE_rel"] < 1e-9
        other = pose_metrics(random_cameras(seed + 50, (), 7), gt, rotation_from=rotation_from)
        assert 0.0 <= other["ATE_rel"] <= 1.0 + 1e-9


def test_the_forward_line_reads_nothing_but_scores_a_forward_walk():
    """The input-free forward line: identity rotations, evenly spaced centres along +z. On a clip that
    walks straight ahead it is exact on translation; on a sideways clip its directions are 90 degrees off."""
    gt = random_cameras(3, (), 6)
    line = g.forward_line_baseline(gt)
    assert torch.equal(line.K, gt.K) and torch.allclose(line.R, torch.eye(3, dtype=torch.float64).expand(6, 3, 3))
    ahead = gt.with_poses(g.make_pose(torch.eye(3, dtype=torch.float64).expand(6, 3, 3),
                                      torch.tensor([[0.0, 0.0, 2.0 * k] for k in range(6)], dtype=torch.float64)))
    m = pose_metrics(line, ahead)
    assert m["ATE_rel"] < 1e-9 and m["AUC@30"] == 1.0
    sideways = ahead.with_poses(g.make_pose(ahead.R, ahead.c2w[:, :3, 3][:, [2, 1, 0]]))
    assert np.allclose(pose_metrics(line, sideways)["pair_trans_err_deg"], 90.0)


def test_pure_rotation_clip_aligns_without_nan():
    gt = random_cameras(9, (), 5)
    gt = gt.with_poses(g.make_pose(gt.R, torch.full((5, 3), 0.7, dtype=torch.float64)))   # all centres coincide
    pred = _similarity(gt, 2.0, _random_rotation(4), torch.tensor([1.0, -2.0, 3.0], dtype=torch.float64))
    m = pose_metrics(pred, gt)
    assert m["alignment"] == "rotations"
    assert m["ATE"] < 1e-12 and np.all(m["per_frame_rot_err_deg"] < 1e-6)
    assert all(np.all(np.isfinite(np.asarray(v, dtype=float))) for k, v in m.items()
               if k not in ("alignment", "ATE_rel"))
    assert np.isnan(m["ATE_rel"])                       # the true camera never moves: nothing to score
    assert m["RRA@5"] == 1.0 and m["RTA@5"] == 1.0


def test_collinear_clip_takes_roll_from_rotations():
    """A straight dolly: centres fix scale and line, not the roll about it; the rotations do."""
    n = 7
    gt = random_cameras(2, (), n)
    line = torch.linspace(0, 3, n, dtype=torch.float64)[:, None] * torch.tensor([0.3, -0.2, 0.9], dtype=torch.float64)
    gt = gt.with_poses(g.make_pose(gt.R, line))
    pred = _similarity(gt, 0.5, _random_rotation(8), torch.tensor([4.0, 0.0, 1.0], dtype=torch.float64))
    aligned, info = align_cameras(pred, gt, return_info=True)
    assert bool(info["degenerate"])
    assert torch.allclose(aligned.c2w, gt.c2w, atol=1e-9)
    # The dolly driven backwards: a Sim(3) cannot reflect it (scale >= 0), so the centres collapse
    # onto their mean and the ATE is the spread of the true centres.
    backwards = gt.with_poses(g.make_pose(gt.R, -gt.centers))
    m = pose_metrics(backwards, gt)
    spread = (gt.centers - gt.centers.mean(0)).square().sum(-1).mean().sqrt()
    assert m["alignment"] == "rotations" and m["sim3_scale"] == 0.0
    assert m["ATE"] == pytest.approx(float(spread), rel=1e-9)


@settings(max_examples=15, deadline=None)
@given(seed=seeds, batch=batch_shapes, log_s=st.floats(-2.0, 2.0), rot_seed=seeds)
def test_umeyama_recovers_a_known_similarity(seed, batch, log_s, rot_seed):
    gen = torch.Generator().manual_seed(seed)
    src = torch.randn(*batch, 10, 3, generator=gen, dtype=torch.float64)
    R, s = _random_rotation(rot_seed), math.exp(log_s)
    t = torch.randn(3, generator=gen, dtype=torch.float64)
    s_hat, R_hat, t_hat = umeyama(src, s * src @ R.T + t)
    assert torch.allclose(s_hat, torch.full(batch, s, dtype=torch.float64), rtol=1e-9)
    assert torch.allclose(R_hat, R.expand_as(R_hat), atol=1e-9)
    assert torch.allclose(t_hat, t.expand_as(t_hat), atol=1e-8)
    s1, R1, _ = umeyama(src, src @ R.T + t, with_scale=False)
    assert torch.all(s1 == 1) and torch.allclose(R1, R.expand_as(R1), atol=1e-9)


def test_umeyama_degenerate_points_give_no_nan():
    src = torch.zeros(4, 3, dtype=torch.float64)
    dst = torch.randn(4, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    s, R, t = umeyama(src, dst)
    assert float(s) == 1.0 and torch.isfinite(R).all() and torch.allclose(t, dst.mean(0))


def test_batched_metrics_equal_per_clip_metrics():
    pred, gt = random_cameras(1, (3,), 5), random_cameras(2, (3,), 5)
    m = pose_metrics(pred, gt)
    for b in range(3):
        mb = pose_metrics(pred[b], gt[b])
        for key in ACCURACY_KEYS + ["ATE", "mean_trans_err_deg"]:
            assert m[key][b] == pytest.approx(mb[key], abs=1e-12), key
        assert np.allclose(m["per_frame_rot_err_deg"][b], mb["per_frame_rot_err_deg"])


def test_align_cameras_keeps_dtype_and_intrinsics():
    gt = random_cameras(3, (), 6, dtype=torch.float32)
    pred = _similarity(gt, 3.0, _random_rotation(1, torch.float32), torch.tensor([1.0, 2.0, 3.0]))
    aligned = align_cameras(pred, gt)
    assert aligned.dtype == torch.float32 and torch.equal(aligned.K, pred.K)
    assert torch.allclose(aligned.c2w, gt.c2w, atol=1e-4)
    assert fit_sim3(pred.c2w.double(), gt.c2w.double())["scale"] == pytest.approx(1 / 3, rel=1e-5)


# --------------------------------------------------------------------------------------
# Invalid input
# --------------------------------------------------------------------------------------

def test_invalid_input_raises():
    gt = random_cameras(0, (), 5)
    with pytest.raises(ValueError, match="differ"):
        pose_metrics(gt[:4], gt)
    with pytest.raises(ValueError, match="at least 2"):
        pose_metrics(gt[:1], gt[:1])
    with pytest.raises(ValueError, match="trajectory"):
        pose_metrics(gt[0], gt[0])
    bad = random_cameras(0, (), 5)
    bad.c2w[2, 0, 3] = float("nan")                                         # edited after construction
    with pytest.raises(ValueError, match="NaN"):
        pose_metrics(bad, gt)
    with pytest.raises(ValueError, match="NaN"):
        pose_metrics(gt, bad.c2w)
    with pytest.raises(ValueError):
        pose_auc([])
