"""The pose table's rows: the model beside own/other, input-free answers and the classical baselines,
led by ATE_rel; and ``--benchmark re10k:DIR`` on the 3 real 16-frame clips end to end."""

import csv
from pathlib import Path

import numpy as np
import pytest

from camera_strategies import small_random_engine
from engine.cli import main
from engine.evaluate import load_benchmark
from engine.evaluate.poses import BASELINE_KIND, COLUMNS, evaluate_poses

REAL_CLIPS = Path(__file__).parent / "data" / "re10k-clips"
OTHER = "raxels, another clip's prediction"


@pytest.fixture(scope="module")
def eng():
    return small_random_engine(9, 16)


@pytest.fixture(scope="module")
def real_clips(eng):
    return load_benchmark(f"re10k:{REAL_CLIPS}", eng.config.clip, 3)


def test_real_clips_keep_their_own_frames_and_intrinsics_for_the_baselines(eng, real_clips):
    assert len(real_clips) == 3
    for clip in real_clips:
        assert clip.baseline_frames.shape == (16, 256, 384, 3) and clip.pose_frames.shape == (16, 16, 16, 3)
        cams = clip.baseline_cameras
        assert (cams.width, cams.height) == (384, 256) and len(cams) == 16
        assert np.allclose(cams.c2w.numpy(), clip.pose_cameras.c2w.numpy())      # same poses, other pixels
        assert float(cams.K[0, 0, 0]) > 10 * float(clip.pose_cameras.K[0, 0, 0])


def test_rows_labels_and_input_free_scores(eng, real_clips):
    rows, per_clip = evaluate_poses(eng, real_clips, (1,))
    assert [(r["method"], r["kind"]) for r in rows] == [
        ("raxels", "model"), (OTHER, "control: model, another clip"), ("identity", "input-free"),
        ("forward line", "input-free"), ("two-view", BASELINE_KIND)]
    by = {r["method"]: r for r in rows}
    # An all-zero translation scores exactly 1 on ATE_rel and 0 on AUC@30, by construction.
    assert by["identity"]["ATE_rel"] == pytest.approx(1.0, abs=1e-12)
    assert by["identity"]["AUC@30"] == 0.0
    assert 0 <= by["forward line"]["ATE_rel"] <= 1 + 1e-12 and by["forward line"]["AUC@30"] > 0
    assert by["identity"]["input_dependence"] == 0 and by["forward line"]["input_dependence"] == 0
    # The baseline saw the clips' own 384x256 frames, took time, and it is good at rotation on them.
    assert by["two-view"]["sec_per_clip"] > 0 and by["two-view"]["clips"] == 3
    assert by["two-view"]["RRA_AUC@30"] > 0.8
    assert {r["frames"] for r in per_clip} == {16}


def test_unknown_baseline_is_named(eng, real_clips):
    with pytest.raises(ValueError, match="unknown baseline.*'sift'.*two-view, colmap"):
        evaluate_poses(eng, real_clips[:1], (1,), baselines=("sift",))


def test_cli_re10k_benchmark_end_to_end(eng, tmp_path):
    ckpt = eng.save(tmp_path / "ckpt")
    out = tmp_path / "run"
    assert main(["evaluate", "--checkpoint", str(ckpt), "--device", "cpu", "--benchmark", f"re10k:{REAL_CLIPS}",
                 "--num-clips", "3", "--steps", "1", "--pose-steps", "1", "--video-steps", "1", "--no-cycle",
                 "--out", str(out)]) == 0
    with open(out / "poses.csv") as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames == list(COLUMNS) and COLUMNS[3:5] == ("ATE_rel", "AUC@30")
        rows = {r["method"]: r for r in reader}
    assert set(rows) == {"raxels", OTHER, "identity", "forward line", "two-view"}
    assert float(rows["identity"]["ATE_rel"]) == pytest.approx(1.0)
    assert float(rows["two-view"]["sec_per_clip"]) > 0 and rows["two-view"]["clips"] == "3"
    with open(out / "poses_per_clip.csv") as f:
        assert {r["frames"] for r in csv.DictReader(f)} == {"16"}
    report = (out / "report.md").read_text()
    assert "384x256" in report and "forward line" in report and "| two-view | baseline" in report


def test_recover_cameras_takes_non_contiguous_raxels():
    """The evaluator's windows at several ray steps hand recovery a denoised preview that is not contiguous
    in memory; recovery must give the same cameras as for a contiguous copy (it raised before)."""
    import torch

    from geometry import Cameras
    from geometry.rays import raxels
    from geometry.recover import recover_cameras

    angle = torch.linspace(0, 0.3, 4, dtype=torch.float64)
    c2w = torch.eye(4, dtype=torch.float64).repeat(4, 1, 1)
    c2w[:, 0, 0], c2w[:, 0, 2], c2w[:, 2, 0], c2w[:, 2, 2] = angle.cos(), angle.sin(), -angle.sin(), angle.cos()
    c2w[:, :3, 3] = torch.stack([angle, 0 * angle, 2 * angle], -1)
    K = torch.tensor([[20.0, 0, 8], [0, 20.0, 6], [0, 0, 1]], dtype=torch.float64).expand(4, 3, 3)
    x = raxels(Cameras(c2w, K, 16, 12), 12, 16)                               # (4, 3, 12, 16)
    strided = x.transpose(0, 1).contiguous().transpose(0, 1)                  # same values, frames interleaved
    assert not strided.is_contiguous()
    a = recover_cameras(x, width=16, height=12, ref=0)
    b = recover_cameras(strided, width=16, height=12, ref=0)
    assert torch.allclose(a.c2w, b.c2w, atol=1e-12) and torch.allclose(a.K, b.K, atol=1e-12)
