"""Clips of any length: window plans, their chaining into one trajectory (exact for perfect per-window
poses), and the Engine / CLI / cycle / evaluator returning one camera per input frame (issue 12)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import geometry as g
from camera_strategies import small_random_engine
from engine import CancelToken, Cancelled, Engine
from engine.cli import main as cli_main
from engine.windows import chain_windows, frame_sources, min_overlap, plan_windows
from geometry.metrics import fit_sim3_spread

LENGTHS = (2, 5, 16, 33, 100)
MODEL_LENGTHS = (9, 17)
REAL_CLIP = Path(__file__).parent / "data" / "re10k" / "0c9b371cc6225682.mp4"


# ---- the plan ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("model_len", MODEL_LENGTHS)
@pytest.mark.parametrize("T", LENGTHS)
def test_plan_covers_every_frame_with_overlapping_model_windows(T, model_len):
    plan = plan_windows(T, model_len)
    assert set(np.concatenate(plan).tolist()) == set(range(T))
    for w in plan:
        assert len(w) <= max(model_len, 5) and (len(w) - 1) % 4 == 0 and len(w) >= 5
        assert (np.diff(w) >= 0).all()                                  # time order, repeats only in place
    if T < 5:
        assert len(plan) == 1 and len(plan[0]) == 5                     # one window, frames repeated
    else:
        assert all(len(w) == min(model_len, 1 + 4 * ((T - 1) // 4)) for w in plan)
        for a, b in zip(plan, plan[1:]):
            assert (np.diff(a) == 1).all() and b[0] > a[0]
            assert len(np.intersect1d(a, b)) >= min_overlap(len(a)) >= 2


def test_plan_is_one_pass_when_the_clip_is_one_window():
    assert [w.tolist() for w in plan_windows(9, 9)] == [list(range(9))]
    assert [w.tolist() for w in plan_windows(2, 9)] == [[0, 0, 0, 1, 1]]
    with pytest.raises(ValueError, match="at least 2 frames"):
        plan_windows(1, 9)


def test_each_frame_comes_from_the_window_where_it_is_most_central():
    plan = [np.arange(0, 9), np.arange(4, 13), np.arange(7, 16)]
    src = frame_sources(plan)
    assert src[4].tolist() == [0, 4] and src[8].tolist() == [1, 4] and src[11].tolist() == [2, 4]
    assert src[0].tolist() == [0, 0] and src[15].tolist() == [2, 8]


# ---- chaining: exact for perfect per-window poses ---------------------------------------------------------

def _walk(T: int, seed: int) -> torch.Tensor:
    """(T, 4, 4) a camera wandering through a room: steps of ~0.3 and turns of a few degrees per frame."""
    rng = np.random.default_rng(seed)
    eyes = torch.tensor(np.cumsum(rng.normal(0, 0.3, (T, 3)), 0))
    targets = eyes + torch.tensor(rng.normal(0, 0.2, (T, 3)) + [0.0, 0.0, 2.0])
    return g.look_at(eyes, targets)


@pytest.mark.parametrize("model_len", MODEL_LENGTHS)
@pytest.mark.parametrize("T", LENGTHS)
def test_chain_equals_the_truth_for_perfect_window_poses(T, model_len):
    truth = _walk(T, seed=T + model_len)
    plan = plan_windows(T, model_len)
    rng = np.random.default_rng(T)
    scales = rng.uniform(0.2, 5.0, len(plan))
    per_window = []
    for w, s in zip(plan, scales):          # each window in its own first-frame frame, at its own scale
        local = g.canonicalize(truth[torch.as_tensor(w)], 0).clone()
        local[:, :3, 3] *= s
        per_window.append(local)
    chained = chain_windows(plan, per_window)
    expected = g.canonicalize(truth, 0).clone()
    expected[:, :3, 3] *= scales[0]
    assert chained.shape == (T, 4, 4)
    assert torch.allclose(chained, expected, atol=1e-6, rtol=0)


@pytest.mark.parametrize("seed", range(4))
def test_a_long_chain_of_noisy_windows_keeps_its_scale(seed):
    """100 frames = 20 windows, each window's centres off by noise of about a third of a step: the scale
    at the end of the chain stays that of the start (a least-squares scale per join shrinks each window and
    the shrinking compounds: the last steps came out ~100x too short)."""
    T, rng = 100, np.random.default_rng(seed)
    truth = g.canonicalize(_walk(T, seed), 0)
    plan = plan_windows(T, 9)
    per_window = []
    for w, s in zip(plan, rng.uniform(0.2, 5.0, len(plan))):
        local = g.canonicalize(truth[torch.as_tensor(w)], 0).clone()
        local[:, :3, 3] = s * (local[:, :3, 3] + torch.tensor(rng.normal(0, 0.15, (len(w), 3))))
        per_window.append(local)
    chained = chain_windows(plan, per_window)

    def step(c2w):
        return (c2w[1:, :3, 3] - c2w[:-1, :3, 3]).norm(dim=-1).mean()

    drift = (step(chained[-9:]) / step(truth[-9:])) / (step(chained[:9]) / step(truth[:9]))
    assert 0.3 < float(drift) < 3.3


def test_spread_scale_is_exact_without_noise_and_symmetric_with_it():
    a = _walk(6, seed=1)
    b = a.clone()
    b[:, :3, 3] = 2.5 * b[:, :3, 3] + torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    assert float(fit_sim3_spread(a, b, rotation_from="orientations")["scale"]) == pytest.approx(2.5, abs=1e-9)
    b[:, :3, 3] += torch.tensor(np.random.default_rng(0).normal(0, 0.5, (6, 3)))
    forward = fit_sim3_spread(a, b, rotation_from="orientations")["scale"]
    backward = fit_sim3_spread(b, a, rotation_from="orientations")["scale"]
    assert float(forward * backward) == pytest.approx(1.0, abs=1e-9)


def test_chain_refuses_windows_that_share_nothing():
    poses = [torch.eye(4, dtype=torch.float64).expand(5, 4, 4)] * 2
    with pytest.raises(ValueError, match="shares no frame"):
        chain_windows([np.arange(0, 5), np.arange(5, 10)], poses)


# ---- through the Engine ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def eng():
    return small_random_engine(9, 16)


def _clip(T: int) -> np.ndarray:
    return (np.random.default_rng(T).random((T, 24, 40, 3)) * 255).astype(np.uint8)


@pytest.mark.parametrize("T", [2, 3, 16])
def test_any_length_gives_one_camera_per_frame_for_the_input_pixels(eng, T):
    res = list(eng.estimate_poses_stream(_clip(T), steps=1))[-1].result
    cams = res.cameras
    assert cams.batch_shape == (T,) and (cams.width, cams.height) == (40, 24) and res.residual.shape == (T,)
    assert torch.allclose(cams.c2w[0], torch.eye(4), atol=1e-5)         # canonicalised to ref 0
    assert torch.isfinite(cams.c2w).all() and torch.isfinite(cams.K).all()
    assert any("window" in n for n in res.notes)


def test_events_name_the_window_and_count_steps_over_all_windows(eng):
    events = list(eng.estimate_poses_stream(_clip(16), steps=2, ref=5, ensemble="none"))   # one pass per window
    denoise = [e for e in events if e.stage == "denoise"]
    assert [e.step for e in denoise] == [1, 2, 3, 4, 5, 6] and {e.total for e in denoise} == {6}
    assert [e.message.split(" (")[0] for e in denoise] == ["window 1/3"] * 2 + ["window 2/3"] * 2 + ["window 3/3"] * 2
    assert [len(e.cameras) for e in denoise] == [9, 9, 13, 13, 16, 16]  # previews: the chain so far
    res = events[-1].result
    assert res.ref == 5 and torch.allclose(res.cameras.c2w[5], torch.eye(4), atol=1e-5)
    assert "3 windows of 9 frames (frames 0-8, 4-12, 7-15), overlap 5-6 frames" in res.notes[0]


def test_cancelling_between_windows_stops_the_job(eng):
    token, seen = CancelToken(), []
    with pytest.raises(Cancelled):
        for ev in eng.estimate_poses_stream(_clip(16), steps=1, cancel=token):
            seen.append(ev.message)
            if ev.stage == "decode":        # the last event of window 1
                token.cancel()
    assert not any(m.startswith("window 2/3") for m in seen)


def test_num_frames_still_picks_exactly_those_frames_in_one_pass(eng):
    events = list(eng.estimate_poses_stream(_clip(16), steps=1, num_frames=9))
    assert len(events[-1].result.cameras) == 9 and not any("window" in e.message for e in events)
    with pytest.raises(ValueError, match=r"num_frames must be 1 \+ 4k, got 10"):
        eng.estimate_poses(_clip(16), num_frames=10)


def test_cycle_takes_a_clip_of_any_length(eng):
    rep = eng.cycle(_clip(16), pose_steps=1, video_steps=1)
    assert rep["clip_frames"] == [0, 1, 2, 4, 5, 6, 8, 9, 10, 11, 12, 14, 15]
    assert len(rep["predicted"]) == 13 and rep["regenerated_frames"].shape[0] == 13
    assert any("13 frames picked evenly from the clip's 16" in n for n in rep["notes"])


def test_cli_names_the_flag_in_a_frame_count_error(tmp_path, capsys):
    code = cli_main(["estimate-poses", str(REAL_CLIP), "--out", str(tmp_path / "c.json"), "--checkpoint", "tiny",
                     "--device", "cpu", "--num-frames", "10"])
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert code == 2 and err.startswith("error: --num-frames must be 1 + 4k, got 10")
    assert not (tmp_path / "c.json").exists()


# ---- the shipped model on a real 16-frame RealEstate10K clip -----------------------------------------------

@pytest.fixture(scope="module")
def shipped():
    return Engine.from_checkpoint(device="cpu")


def test_shipped_model_returns_16_cameras_for_a_real_16_frame_clip(shipped):
    cams = shipped.estimate_poses(str(REAL_CLIP))
    assert cams.batch_shape == (16,) and (cams.width, cams.height) == (384, 256)
    assert torch.isfinite(cams.c2w).all()


def test_cli_writes_16_cameras_for_a_real_16_frame_clip(tmp_path):
    out = tmp_path / "x.json"
    assert cli_main(["estimate-poses", str(REAL_CLIP), "--out", str(out), "--device", "cpu", "--steps", "1"]) == 0
    cams = g.load_cameras(out)
    assert len(cams) == 16 and (cams.width, cams.height) == (384, 256)


def test_evaluator_scores_whole_real_clips(shipped):
    from engine.evaluate.benchmarks import load_benchmark
    from engine.evaluate.poses import evaluate_poses

    with pytest.warns(UserWarning, match="skipping clip"):     # the two pose files without a video
        [clip] = load_benchmark(f"re10k:{REAL_CLIP.parent}", shipped.config.clip, 3)
    assert len(clip.pose_frames) == len(clip.pose_cameras) == 16 and len(clip.frames) == len(clip.cameras) == 9
    lengths = []

    class Spy:
        def estimate_poses(self, frames, **kw):
            lengths.append(len(frames))
            return shipped.estimate_poses(frames, **kw)

    rows, _ = evaluate_poses(Spy(), [clip], (1,))
    assert lengths == [16] and [r["method"] for r in rows] == ["raxels", "identity", "forward line", "two-view"]
    assert np.isfinite(rows[0]["ATE"])


# ---- the classical baselines: every frame at the clip's own resolution, no windows ---------------------------

def test_two_view_baseline_sees_every_frame_at_full_resolution(shipped):
    gt = g.load_cameras(REAL_CLIP.with_suffix(".txt"))        # the sibling .mp4 gives the 384x256 frame size
    events = list(shipped.estimate_poses_stream(str(REAL_CLIP), method="two-view", intrinsics=gt.K[0]))
    res = events[-1].result
    assert res.method == "two-view" and res.cameras.batch_shape == (16,)
    assert (res.cameras.width, res.cameras.height) == (384, 256)
    assert torch.allclose(res.cameras.K.double(), gt.K[0].double().expand(16, 3, 3))   # the given K, held fixed
    assert not any("window" in e.message for e in events)


def test_cli_runs_a_baseline_by_name(tmp_path):
    out = tmp_path / "two_view.json"
    assert cli_main(["estimate-poses", str(REAL_CLIP), "--out", str(out), "--device", "cpu",
                     "--method", "two-view"]) == 0
    assert len(g.load_cameras(out)) == 16
