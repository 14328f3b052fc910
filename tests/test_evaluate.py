"""The evaluation harness end to end on 2 tiny held-out procedural scenes with a tiny untrained engine."""

import csv

import numpy as np
import pytest
import torch

from camera_strategies import small_random_engine
from engine.cli import main
from engine.evaluate import load_benchmark, run_evaluation
from engine.evaluate.poses import input_dependence, masked_pose_metrics, trajectory_spread_deg
from geometry.metrics import pose_metrics

SIZE, T = 16, 9


@pytest.fixture(scope="module")
def eng():
    return small_random_engine(T, SIZE)


@pytest.fixture(scope="module")
def clips(eng):
    return load_benchmark("procedural", eng.config.clip, 2)


def _header(path):
    with open(path) as f:
        return next(csv.reader(f))


def test_heldout_clips_are_fixed(eng, clips):
    assert [c.id for c in clips] == ["heldout-0000", "heldout-0001"]
    assert clips[0].frames.shape == (T, SIZE, SIZE, 3) and clips[0].frames.dtype == np.uint8
    again = load_benchmark("procedural", eng.config.clip, 1)[0]
    assert np.array_equal(again.frames, clips[0].frames)
    assert torch.allclose(again.cameras.c2w, clips[0].cameras.c2w)


def test_harness_writes_report_tables_and_plots(eng, clips, tmp_path):
    report = run_evaluation(eng, clips, tmp_path, benchmark="procedural", steps=(1, 2), video_steps=1, pose_steps=1)
    text = report.read_text()
    for section in ("Pose estimation", "Camera-controlled generation", "Cycle self-consistency",
                    "FID / FVD: not computed (no local extractor weights", "Untrained weights"):
        assert section in text
    assert _header(tmp_path / "poses.csv") == ["method", "kind", "steps", "ATE_rel", "AUC@30", "RRA_AUC@30",
                                              "mRRA@30", "RTA@30", "ATE", "mean_rot_err_deg", "input_dependence",
                                              "sec_per_clip", "clips", "failures", "unregistered_frames"]
    with open(tmp_path / "poses.csv") as f:
        rows = list(csv.DictReader(f))
    other = "raxels, another clip's prediction"
    assert [(r["method"], r["steps"]) for r in rows] == [("raxels", "1"), (other, "1"), ("raxels", "2"),
                                                        (other, "2"), ("identity", "-"), ("forward line", "-"),
                                                        ("two-view", "-")]
    assert float(rows[4]["ATE_rel"]) == pytest.approx(1.0, abs=1e-12)   # identity: all-zero translation = 1
    assert all(0 <= float(r["mRRA@30"]) <= 1 and np.isfinite(float(r["ATE"])) for r in rows)
    assert {"psnr", "psnr_other_path", "psnr_copy_first", "psnr_warp_first", "ssim", "adherence_rot_err_deg",
            "adherence_ATE"} <= set(_header(tmp_path / "generation.csv"))
    with open(tmp_path / "generation.csv") as f:
        gen_rows = [r for r in csv.DictReader(f) if r["clip"] in {c.id for c in clips}]
    # Copying the first frame is a real answer with a finite score, computed like the model's.
    assert all(np.isfinite(float(r["psnr_copy_first"])) and np.isfinite(float(r["psnr_other_path"]))
               for r in gen_rows)
    assert {"rot_err_deg", "trans_err_deg", "psnr", "ssim"} <= set(_header(tmp_path / "cycle.csv"))
    for png in ("poses_vs_steps.png", "generation.png", "cycle.png"):
        assert (tmp_path / png).read_bytes()[:4] == b"\x89PNG"


def test_cli_evaluate_on_a_saved_checkpoint(eng, tmp_path, capsys):
    ckpt = eng.save(tmp_path / "ckpt")
    out = tmp_path / "run"
    rc = main(["evaluate", "--checkpoint", str(ckpt), "--device", "cpu", "--benchmark", "procedural",
               "--num-clips", "2", "--steps", "1", "--pose-steps", "1", "--video-steps", "1", "--no-cycle",
               "--out", str(out)])
    assert rc == 0
    assert (out / "report.md").is_file() and (out / "poses.csv").is_file() and not (out / "cycle.csv").exists()


def test_unregistered_frames_count_as_wrong(clips):
    gt = clips[0].cameras
    perfect = pose_metrics(gt, gt)
    assert perfect["RRA@30"] == 1.0
    reg = np.ones(T, dtype=bool)
    reg[3] = False
    m = masked_pose_metrics(gt, gt, reg)
    assert m["RRA@30"] == pytest.approx(1 - (T - 1) / (T * (T - 1) / 2))
    assert m["per_frame_rot_err_deg"][3] == 180.0 and m["RTA@30"] < 1.0


def test_compare_pairs_runs_clip_by_clip(eng, clips, tmp_path, capsys):
    a = tmp_path / "a"
    run_evaluation(eng, clips, a, steps=(2,), generation=False, cycle=False)
    other = small_random_engine(T, SIZE)
    with torch.no_grad():                       # a second, different model on the same clips
        for p in other.pipe.model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    b = tmp_path / "b"
    run_evaluation(other, clips, b, steps=(2,), generation=False, cycle=False)
    assert main(["compare", f"ref={a}", f"other={b}", "--out", str(tmp_path / "cmp")]) == 0
    with open(tmp_path / "cmp" / "compare.csv") as f:
        rows = {r["run"]: r for r in csv.DictReader(f)}

    def per_clip(folder):
        with open(folder / "poses_per_clip.csv") as f:
            return {r["clip"]: float(r["mean_rot_err_deg"]) for r in csv.DictReader(f) if r["method"] == "raxels"}

    ea, eb = per_clip(a), per_clip(b)
    diff = np.array([eb[c] - ea[c] for c in ea])
    assert float(rows["other"]["mean_diff_vs_ref_2"]) == pytest.approx(diff.mean(), abs=1e-9)
    assert rows["other"]["clips_better_than_ref_2"] == f"{int((diff < 0).sum())}/2"
    assert rows["ref"]["clips_better_than_ref_2"] == "0/2" and float(rows["ref"]["mean_diff_vs_ref_2"]) == 0
    assert float(rows["ref"]["rot_err_2"]) == pytest.approx(np.mean(list(ea.values())), abs=1e-6)
    assert (tmp_path / "cmp" / "compare.png").read_bytes()[:4] == b"\x89PNG"
    assert "| ref |" in capsys.readouterr().out

    # Reports of different clips are not compared; a missing report is named.
    c = tmp_path / "c"
    run_evaluation(eng, clips[:1], c, steps=(2,), generation=False, cycle=False)
    assert main(["compare", f"ref={a}", f"c={c}", "--out", str(tmp_path / "cmp2")]) == 2
    assert "different clips" in capsys.readouterr().err
    assert main(["compare", f"ref={a}", f"gone={tmp_path / 'nope'}", "--out", str(tmp_path / "cmp3")]) == 2
    assert "poses.csv: missing" in capsys.readouterr().err


def test_input_dependence_tells_a_model_that_ignores_its_input(clips):
    truth = [c.cameras.c2w for c in clips]
    assert input_dependence(truth, truth) == pytest.approx(1.0)
    same = [truth[0]] * len(truth)                      # one trajectory whatever the clip
    assert input_dependence(same, truth) == 0.0
    # Expressed in another world frame, or from another reference frame, a trajectory is the same one.
    moved = [torch.linalg.inv(c[0])[None] @ c for c in truth]
    assert input_dependence(moved, truth) == pytest.approx(1.0, abs=1e-9)
    spread = trajectory_spread_deg(truth)
    assert spread > 0 and np.isnan(trajectory_spread_deg(truth[:1]))
