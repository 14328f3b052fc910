"""The Engine's public API: events, cancellation, determinism, input validation, CLI."""

import json

import numpy as np
import pytest
import torch

import geometry as g
from camera_strategies import small_random_engine
from engine import CancelToken, Cancelled, Engine, preset
from engine.cli import main as cli_main

T, SIZE = 9, 16


@pytest.fixture(scope="module")
def eng():
    return small_random_engine(T, SIZE)


@pytest.fixture(scope="module")
def clip():
    return (np.random.default_rng(0).random((T, 24, 40, 3)) * 255).astype(np.uint8)


def _path(n=T, w=40, h=24):
    eyes = torch.stack([torch.tensor([0.1 * i, 0.0, 0.0], dtype=torch.float64) for i in range(n)])
    return g.Cameras.from_fov(g.look_at(eyes, eyes + torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64)),
                              fov_y_deg=50.0, width=w, height=h)


def test_pose_events_stream_in_order_and_cameras_refer_to_the_input_pixels(eng, clip):
    events = list(eng.estimate_poses_stream(clip, steps=3, ensemble="none"))    # one pass: 3 steps
    stages = [e.stage for e in events]
    assert stages[0] == "encode" and stages[-1] == "done" and stages.count("denoise") == 3
    assert [e.step for e in events if e.stage == "denoise"] == [1, 2, 3]
    assert all(e.cameras is not None for e in events if e.stage == "denoise")  # streamed estimates
    cams = events[-1].result.cameras
    assert cams.batch_shape == (T,) and (cams.width, cams.height) == (40, 24)
    # 40x24 is resized to 27x16 and cropped at x0 = 5 (integer pixels): the model grid's centre (8, 8)
    # maps back to ((8 + 5) * 40 / 27, 8 * 24 / 16) in the input.
    assert torch.allclose(cams.K[:, 0, 2], torch.full((T,), 13 * 40 / 27), atol=1e-3)
    assert torch.allclose(cams.K[:, 1, 2], torch.full((T,), 12.0), atol=1e-3)
    assert events[-1].elapsed >= events[0].elapsed


def test_same_seed_same_result_other_seed_differs(eng, clip):
    a = eng.generate(clip[:1], _path(), steps=2, seed=3)
    b = eng.generate(clip[:1], _path(), steps=2, seed=3)
    c = eng.generate(clip[:1], _path(), steps=2, seed=4)
    assert a.shape == (T, SIZE, SIZE, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_generation_streams_frames_and_joint_returns_cameras(eng, clip):
    frames_seen = [e.frames for e in eng.generate_stream(clip[:1], _path(), steps=2) if e.stage == "denoise"]
    assert len(frames_seen) == 2 and all(f.shape == (T, SIZE, SIZE, 3) for f in frames_seen)
    frames, cams = eng.generate_joint(clip[:2], steps=2, ray_steps=1, source_frames="middle")
    assert frames.shape == (T, SIZE, SIZE, 3) and cams.batch_shape == (T,)


def test_cameras_first_joint_generation_makes_the_video_along_the_cameras_it_returns(eng, clip):
    events = list(eng.generate_joint_stream(clip[:1], steps=3, ray_steps=2, seed=5, order="cameras_first"))
    denoise = [e for e in events if e.stage == "denoise"]
    assert [e.step for e in denoise] == [1, 2, 1, 2, 3]                # the rays' steps, then the video's
    assert denoise[1].cameras is not None
    frames, cams = events[-1].result.frames, events[-1].result.poses.cameras
    along = eng.generate(clip[:1], cams, steps=3, seed=5)
    assert np.array_equal(frames, along)
    together, _ = eng.generate_joint(clip[:1], steps=3, ray_steps=2, seed=5, order="together")
    assert not np.array_equal(frames, together)
    with pytest.raises(ValueError, match="order must be one of"):
        eng.generate_joint(clip[:1], order="video_first")


def test_cancellation_stops_a_job(eng, clip):
    token = CancelToken()
    seen = []
    with pytest.raises(Cancelled):
        for ev in eng.generate_stream(clip[:1], _path(), steps=10, cancel=token):
            seen.append(ev.stage)
            if ev.stage == "denoise":
                token.cancel()
    assert seen.count("denoise") == 1


@pytest.mark.parametrize("video, match", [
    (np.zeros((1, 16, 16, 3), np.uint8), "at least 2 frames"),     # any other length runs in windows
    (np.full((9, 16, 16, 3), np.nan, np.float32), "NaN"),
    (np.zeros((9, 16, 16), np.uint8), r"\(T, H, W, 3\)"),
    (np.full((9, 16, 16, 3), 2.0, np.float32), r"\[0, 1\]"),
    ([], "empty"),
    ("/nonexistent/clip.mp4", "not found"),
])
def test_bad_video_input_gives_clear_errors(eng, video, match):
    with pytest.raises(ValueError, match=match):
        eng.estimate_poses(video)


def test_bad_generation_input_gives_clear_errors(eng, clip, tmp_path):
    with pytest.raises(ValueError, match=r"1 \+ 4k"):   # a 7-camera path is resampled; asking for 7 frames is not
        eng.generate(clip[:1], _path(), num_frames=7)
    with pytest.raises(ValueError, match="conditioning slots"):
        eng.generate(clip[:4], _path(), source_frames=[0, 2, 4, 6])
    corrupt = tmp_path / "broken.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    with pytest.raises(ValueError, match="broken.png"):
        eng.generate([str(corrupt)], _path())


def test_subsampling_a_long_clip(eng):
    long = (np.random.default_rng(1).random((16, 16, 16, 3)) * 255).astype(np.uint8)
    res = [e for e in eng.estimate_poses_stream(long, num_frames=9, steps=1)][-1].result
    assert res.cameras.batch_shape == (9,)
    assert any("frames used: [0, 2, 4, 6, 8, 9, 11, 13, 15]" in n for n in res.notes)


def test_untrained_preset_says_so():
    e = Engine.from_checkpoint("tiny", device="cpu")
    assert not e.trained and e.info()["training_domain"] == "untrained"
    with pytest.raises(ValueError, match="not a preset name|unknown preset"):
        Engine.from_checkpoint("no-such-preset", device="cpu")


def test_cli_estimate_generate_and_errors(eng, clip, tmp_path, capsys):
    import imageio.v3 as iio

    ckpt = eng.save(tmp_path / "ckpt")
    video = tmp_path / "clip.mp4"
    iio.imwrite(video, clip, fps=8, codec="libx264", macro_block_size=1, plugin="FFMPEG")
    out = tmp_path / "cams.json"
    assert cli_main(["estimate-poses", str(video), "--out", str(out), "--checkpoint", str(ckpt), "--steps", "1"]) == 0
    assert len(g.load_cameras(out)) == T
    image = tmp_path / "a.png"
    iio.imwrite(image, clip[0])
    mp4 = tmp_path / "gen.mp4"
    assert cli_main(["generate", "--images", str(image), "--cameras", str(out), "--out", str(mp4),
                     "--checkpoint", str(ckpt), "--steps", "1"]) == 0
    assert iio.imread(mp4).shape[0] == T
    warp = tmp_path / "warp.mp4"
    assert cli_main(["generate", "--images", str(image), "--cameras", str(out), "--out", str(warp),
                     "--checkpoint", str(ckpt), "--method", "warp"]) == 0
    assert "classical baseline" in capsys.readouterr().err and iio.imread(warp).shape[0] == T
    report = tmp_path / "cycle.json"
    assert cli_main(["cycle", str(video), "--checkpoint", str(ckpt), "--steps", "1", "--out", str(report)]) == 0
    assert {"rot_err_deg", "mean_psnr", "source_frames"} <= set(json.loads(report.read_text()))
    assert cli_main(["estimate-poses", str(tmp_path / "missing.mp4"), "--out", str(out),
                     "--checkpoint", str(ckpt)]) == 2
    assert "not found" in capsys.readouterr().err


def test_checkpoint_quality_note_reaches_the_status(eng, tmp_path):
    ckpt = eng.save(tmp_path / "noted", {"quality_note": "below the identity baseline", "training_domain": "procedural"})
    info = Engine.from_checkpoint(ckpt, device="cpu").info()
    assert info["quality_note"] == "below the identity baseline" and info["training_domain"] == "procedural"
    assert eng.info()["quality_note"] is None


def test_the_warp_baseline_turns_the_fitted_photo_into_each_camera(eng, clip):
    """``method="warp"`` answers like the model (same frame count, model grid, done event) but is the classical
    baseline: the photo as the model sees it, warped into every camera from its source frame, and says so."""
    from engine import GENERATION_METHODS
    from engine.baselines.warp import warp_source_frame
    from engine.media import load_frames, tensor_to_uint8

    photo = clip[0]
    turn = g.Cameras.from_fov(g.look_at(torch.zeros(T, 3, dtype=torch.float64), torch.stack(
        [torch.tensor([np.sin(a), 0.0, np.cos(a)]) for a in np.radians(np.linspace(0, 16, T))]).double()),
        fov_y_deg=50.0, width=40, height=24)
    events = list(eng.generate_stream([photo], turn, method="warp", source_frames=[4]))
    assert [e.stage for e in events] == ["done"] and "classical baseline" in events[0].message
    frames = events[0].result
    fitted = tensor_to_uint8(load_frames([photo], SIZE, SIZE, name="images")[0])[0]
    assert frames.shape == (T, SIZE, SIZE, 3) and np.array_equal(frames[4], fitted)
    grid = eng._to_model_grid(turn)
    assert np.array_equal(frames, warp_source_frame(fitted, grid, source=4))
    assert not np.array_equal(frames[0], frames[8])                            # it does turn
    assert GENERATION_METHODS == ("raxels", "warp")
    with pytest.raises(ValueError, match="method must be one of 'raxels', 'warp'"):
        eng.generate([photo], turn, method="copy")
