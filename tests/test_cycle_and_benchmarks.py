"""Evaluation numbers that cannot mislead: benchmark clips whose pose rows and frames disagree are refused by
name; the cycle test's mean PSNR has one definition (source frames excluded) everywhere; and a model whose
poses ignore its input is flagged by the control along another trajectory (docs/metrics.md)."""

import csv
import json
import shutil
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import torch

from engine import Engine, frame_metrics
from engine.cli import main as cli_main
from engine.evaluate import load_benchmark, run_evaluation
from engine.evaluate.benchmarks import EvalClip
from engine.evaluate.cycle import evaluate_cycle
from engine.evaluate.cycle_metrics import generated_frame_quality, other_trajectory, other_trajectory_check
from geometry import relative_rotation_angle_deg
from geometry.trajectory.presets import dolly_in, orbit

RE10K = Path(__file__).parent / "data" / "re10k"
CLIP_ID = "0c9b371cc6225682"          # the one clip there with a video: 16 frames, 16 pose rows


@pytest.fixture(scope="module")
def tiny():
    """The untrained tiny preset: its zero-initialised head predicts the same trajectory for every clip."""
    return Engine.from_checkpoint("tiny", device="cpu")


@pytest.fixture(scope="module")
def clip(tiny):
    c = tiny.config.clip
    return (np.random.default_rng(0).random((c.num_frames, c.height, c.width, 3)) * 255).astype(np.uint8)


@pytest.fixture(scope="module")
def report(tiny, clip):
    return tiny.cycle(clip, pose_steps=1, video_steps=1)


def _pose_rows(n: int) -> str:
    lines = (RE10K / f"{CLIP_ID}.txt").read_text().splitlines()
    return "\n".join(lines[:1 + n]) + "\n"          # the first line is the source URL


# ---- finding 1: pose rows and frames must pair one to one -----------------------------------------------

@pytest.mark.parametrize("rows", [12, 8])
def test_re10k_pose_rows_not_matching_the_video_name_both_files_and_counts(tiny, tmp_path, rows):
    shutil.copy(RE10K / f"{CLIP_ID}.mp4", tmp_path)
    (tmp_path / f"{CLIP_ID}.txt").write_text(_pose_rows(rows))
    with pytest.raises(ValueError) as err:
        load_benchmark(f"re10k:{tmp_path}", tiny.config.clip, 4)
    msg = str(err.value)
    assert f"{CLIP_ID}.mp4 has 16 frames" in msg and f"{CLIP_ID}.txt has {rows} pose rows" in msg
    assert "\n" not in msg


def test_re10k_matching_clip_loads_and_a_short_frame_folder_names_its_file(tiny, tmp_path):
    shutil.copy(RE10K / f"{CLIP_ID}.mp4", tmp_path)
    shutil.copy(RE10K / f"{CLIP_ID}.txt", tmp_path)
    [loaded] = load_benchmark(f"re10k:{tmp_path}", tiny.config.clip, 4)
    assert loaded.id == CLIP_ID and len(loaded.cameras) == tiny.config.clip.num_frames

    short = tmp_path / "short"
    (short / CLIP_ID).mkdir(parents=True)
    for i, frame in enumerate(iio.imread(RE10K / f"{CLIP_ID}.mp4")[:8]):
        iio.imwrite(short / CLIP_ID / f"{i:03d}.png", frame)
    (short / f"{CLIP_ID}.txt").write_text(_pose_rows(8))
    [eight] = load_benchmark(f"re10k:{short}", tiny.config.clip, 4)     # shorter than the model's 9: poses
    assert len(eight.pose_cameras) == 8 and len(eight.cameras) == 5     # on all 8, generation on 1 + 4k of them
    (short / f"{CLIP_ID}.txt").write_text(_pose_rows(12))
    with pytest.raises(ValueError, match=rf"{CLIP_ID} has 8 frames but .*{CLIP_ID}\.txt has 12 pose rows"):
        load_benchmark(f"re10k:{short}", tiny.config.clip, 4)


def test_cli_evaluate_refuses_the_mismatch_before_writing_anything(tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(RE10K / f"{CLIP_ID}.mp4", data)
    (data / f"{CLIP_ID}.txt").write_text(_pose_rows(12))
    out = tmp_path / "run"
    assert cli_main(["evaluate", "--checkpoint", "tiny", "--device", "cpu", "--benchmark", f"re10k:{data}",
                     "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "has 16 frames" in err and "has 12 pose rows" in err and not out.exists()


# ---- finding 2: one definition of the cycle's mean image quality ------------------------------------------

def test_generated_frame_quality_leaves_out_the_source_frames():
    psnr = np.array([40.0, 10.0, np.inf, 20.0, 50.0])
    ssim = np.array([1.0, 0.2, 1.0, 0.4, 0.9])
    assert generated_frame_quality(psnr, ssim, [0, 4]) == pytest.approx((15.0, (0.2 + 1.0 + 0.4) / 3))
    assert generated_frame_quality(np.full(3, np.inf), np.ones(3), [0])[0] == np.inf
    with pytest.raises(ValueError, match="all 2 frames are source frames"):
        generated_frame_quality(psnr[:2], ssim[:2], [0, 1])


def test_the_copy_answer_beside_the_cycle_takes_the_nearest_source_frame(report, clip):
    from engine.evaluate.cycle_metrics import nearest_source_copy

    frames = np.arange(9)[:, None, None, None] * np.ones((9, 2, 2, 3), np.uint8)
    assert nearest_source_copy(frames, [0, 4, 8])[:, 0, 0, 0].tolist() == [0, 0, 0, 4, 4, 4, 4, 8, 8]
    with pytest.raises(ValueError, match="not frames of a 9-frame clip"):
        nearest_source_copy(frames, [0, 9])
    # in the report, scored like the regenerated frames (sources left out)
    orig = report["original_frames"]
    copied = frame_metrics(nearest_source_copy(orig, report["source_frames"]), orig)
    assert report["copy_nearest_source_mean_psnr"] == pytest.approx(
        generated_frame_quality(copied["psnr"], copied["ssim"], report["source_frames"])[0], rel=1e-12)
    assert report["copy_nearest_source_mean_psnr"] != pytest.approx(report["mean_psnr"])


def test_engine_report_harness_and_cli_share_the_mean_psnr(tiny, clip, report, tmp_path, capsys):
    keep = np.ones(len(clip), dtype=bool)
    keep[report["source_frames"]] = False
    assert np.isfinite(report["psnr"]).all()
    assert report["mean_psnr"] == pytest.approx(report["psnr"][keep].mean(), rel=1e-9)
    assert report["mean_ssim"] == pytest.approx(report["ssim"][keep].mean(), rel=1e-9)
    assert report["mean_psnr"] != pytest.approx(report["psnr"].mean(), rel=1e-9)   # sources do move the mean

    [row] = evaluate_cycle(tiny, [EvalClip("random", clip, None)], pose_steps=1, video_steps=1)
    assert (row["psnr"], row["ssim"]) == (report["mean_psnr"], report["mean_ssim"])

    video = tmp_path / "clip.mp4"
    iio.imwrite(video, clip, fps=8, codec="libx264", macro_block_size=1, plugin="FFMPEG")
    out = tmp_path / "cycle.json"
    assert cli_main(["cycle", str(video), "--checkpoint", "tiny", "--device", "cpu", "--steps", "1",
                     "--out", str(out)]) == 0
    doc = json.loads(out.read_text())
    psnr = np.array(doc["psnr"])
    generated = np.setdiff1d(np.arange(len(psnr)), doc["source_frames"])
    assert doc["mean_psnr"] == pytest.approx(psnr[generated].mean(), rel=1e-9)


# ---- finding 3: the control along another trajectory ------------------------------------------------------

def test_other_trajectory_is_the_prediction_panned_and_the_check_tells_following_from_ignoring():
    pred = orbit(degrees=40.0, num_frames=9, width=32, height=32)
    other = other_trajectory(pred)
    assert torch.allclose(other.c2w[0], pred.c2w[0]) and torch.allclose(other.centers, pred.centers)
    turn = relative_rotation_angle_deg(pred.c2w[..., :3, :3], other.c2w[..., :3, :3])
    assert turn[-1] == pytest.approx(30.0) and turn[4] == pytest.approx(15.0)

    follows = other_trajectory_check(pred, other, other, cycle_rot_err_deg=0.0)
    assert follows["other_rot_err_deg"] == pytest.approx(0.0, abs=1e-6) and not follows["input_independent"]
    assert follows["warnings"] == [] and follows["other_ignoring_input_rot_err_deg"] > 5.0
    ignores = other_trajectory_check(pred, other, pred, cycle_rot_err_deg=0.0)
    assert ignores["input_independent"] and "may not depend on its input" in ignores["warnings"][0]
    assert ignores["other_rot_err_deg"] == pytest.approx(ignores["other_ignoring_input_rot_err_deg"])
    # Any trajectory works as the prediction, a straight dolly included.
    straight = dolly_in(num_frames=9, width=32, height=32)
    assert not other_trajectory_check(straight, other_trajectory(straight), other_trajectory(straight),
                                      0.0)["input_independent"]


def test_cycle_flags_a_model_whose_poses_ignore_the_clip(report):
    assert report["rot_err_deg"] < 0.1                      # agrees with itself: the misleading number
    assert report["other_rot_err_deg"] > 5.0
    assert report["other_rot_err_deg"] == pytest.approx(report["other_ignoring_input_rot_err_deg"], rel=0.05)
    assert report["input_independent"] is True
    assert "may not depend on its input" in report["warnings"][0]
    assert len(report["other_poses"]) == len(report["other_trajectory"]) == len(report["other_frames"])


def test_harness_table_and_report_carry_the_control(tiny, tmp_path):
    clips = load_benchmark("procedural", tiny.config.clip, 1)
    path = run_evaluation(tiny, clips, tmp_path, steps=(1,), generation=False, pose_steps=1, video_steps=1)
    with open(tmp_path / "cycle.csv") as f:
        rows = list(csv.DictReader(f))
    assert rows[0]["input_independent"] == "True" and float(rows[0]["other_rot_err_deg"]) > 5.0
    assert float(rows[0]["other_ignoring_input_rot_err_deg"]) > 5.0
    assert "may not depend on its input" in path.read_text()


def test_cli_cycle_prints_the_control_and_the_warning(tiny, clip, tmp_path, capsys):
    video = tmp_path / "clip.mp4"
    iio.imwrite(video, clip, fps=8, codec="libx264", macro_block_size=1, plugin="FFMPEG")
    assert cli_main(["cycle", str(video), "--checkpoint", "tiny", "--device", "cpu", "--steps", "1"]) == 0
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    assert doc["input_independent"] is True and doc["other_rot_err_deg"] > 5.0
    assert "along another" in captured.err and "warning: " in captured.err
    assert "may not depend on its input" in captured.err


def test_studio_cycle_display_shows_the_control_and_the_flag(tiny):
    from studio import views, workflows
    from studio.engine_service import EngineService
    from studio.session import StudioSession
    from studio.uploads import Clip

    service = EngineService(loader=lambda: tiny)
    service.engine(timeout=30)
    session = StudioSession(frame_width=32, frame_height=32)
    try:
        session.clip = Clip("random", (np.random.default_rng(1).random((9, 32, 32, 3)) * 255).astype(np.uint8))
        updates = list(workflows.run_cycle(session, service, pose_steps=1, video_steps=1))
        assert updates[-1].ok and "may not depend on its input" in updates[-1].text
        table = dict(views.cycle_table(session))
        assert float(table["rotation error along another trajectory (°)"]) > 5.0
        assert "may not depend on its input" in table["⚠ warning"]
    finally:
        service.queue.shutdown()
        session.close()
