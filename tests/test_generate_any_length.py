"""Generation from camera paths of any length (resampled to the model's 1 + 4k count, and said so), and honest
output size (the model's resolution in every message; an upscaled copy labelled as a plain resize)."""

from __future__ import annotations

import shutil
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import torch

import geometry as g
from camera_strategies import random_cameras
from engine import Engine, cli, upscaled_copy
from engine.upscale import upscaled_size
from geometry.trajectory import resample

RE10K = Path(__file__).parent / "data" / "re10k"
CLIP_ID = "0c9b371cc6225682"          # 16 rows, with its mp4 beside it (so the frame size is known)


def _angle_deg(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return g.relative_rotation_angle_deg(a[..., :3, :3], b[..., :3, :3])


def _timed(cams: g.Cameras) -> g.Cameras:
    ts = torch.linspace(3.0, 4.5, len(cams), dtype=cams.dtype) ** 2     # uneven, increasing
    return g.Cameras(cams.c2w, cams.K, cams.width, cams.height, ts)


# ---- geometry.trajectory.resample --------------------------------------------------------------------------

@pytest.mark.parametrize("n", [2, 5, 16])
def test_resampling_n_to_n_returns_the_input_bit_for_bit(n):
    cams = _timed(random_cameras(n, (), n))
    out = resample(cams, n)
    assert torch.equal(out.c2w, cams.c2w) and torch.equal(out.K, cams.K)
    assert torch.equal(out.timestamps, cams.timestamps) and (out.width, out.height) == (cams.width, cams.height)


def test_output_frames_on_input_frames_copy_them():
    cams = _timed(random_cameras(1, (), 5))
    out = resample(cams, 9)                     # frames 0, 2, 4, 6, 8 fall on inputs 0..4
    assert torch.equal(out.c2w[::2], cams.c2w) and torch.equal(out.K[::2], cams.K)
    assert torch.equal(out.timestamps[::2], cams.timestamps)


def test_rotations_are_slerped_between_neighbours_and_intrinsics_timestamps_linear():
    cams = _timed(random_cameras(7, (), 6))      # random rotations, per-frame K (off-centre, non-square)
    out = resample(cams, 17)
    u = np.linspace(0, 5, 17)
    for j, uj in enumerate(u):
        i = min(int(np.floor(uj)), 4)
        f = uj - i
        whole = float(_angle_deg(cams.c2w[i], cams.c2w[i + 1]))
        # on the geodesic between the neighbours, at the fraction f of the way
        assert float(_angle_deg(cams.c2w[i], out.c2w[j])) == pytest.approx(f * whole, abs=1e-6)
        assert float(_angle_deg(out.c2w[j], cams.c2w[i + 1])) == pytest.approx((1 - f) * whole, abs=1e-6)
        assert torch.allclose(out.K[j], (1 - f) * cams.K[i] + f * cams.K[i + 1], rtol=0, atol=1e-9)
        assert float(out.timestamps[j]) == pytest.approx((1 - f) * float(cams.timestamps[i])
                                                         + f * float(cams.timestamps[i + 1]), abs=1e-12)


def test_positions_pass_through_inputs_and_keep_straight_constant_speed_motion():
    n = 16
    centres = torch.stack([torch.tensor([0.3 * i, -0.1 * i, 0.05 * i], dtype=torch.float64) for i in range(n)])
    cams = g.Cameras.from_fov(g.look_at(centres, centres + torch.tensor([0.2, 0.0, 1.0], dtype=torch.float64)),
                              fov_y_deg=50.0, width=64, height=48)
    for m in (9, 13, 17, 33):
        out = resample(cams, m)
        s = torch.linspace(0, n - 1, m, dtype=torch.float64)
        expected = torch.stack([0.3 * s, -0.1 * s, 0.05 * s], dim=-1)
        assert torch.allclose(out.centers, expected, rtol=0, atol=1e-12)
        assert float(_angle_deg(out.c2w, cams.c2w[:1]).max()) < 1e-6        # fixed orientation stays fixed


def test_resampling_keeps_dtype_and_handles_one_camera_and_bad_counts():
    cams = random_cameras(3, (), 4, dtype=torch.float32)
    out = resample(cams, 9)
    assert out.dtype == torch.float32 and out.timestamps is None and len(out) == 9
    still = resample(cams[:1], 5)
    assert torch.equal(still.c2w, cams.c2w[:1].expand(5, 4, 4))
    for bad in (0, 2.5, True):
        with pytest.raises(ValueError, match="num_frames must be a whole number"):
            resample(cams, bad)
    with pytest.raises(ValueError, match=r"batch shape \(N,\)"):
        resample(random_cameras(3, (2,), 4), 9)


# ---- Engine.generate with the shipped checkpoint ---------------------------------------------------------

@pytest.fixture(scope="module")
def shipped() -> Engine:
    return Engine.from_checkpoint(device="cpu")


@pytest.fixture(scope="module")
def re10k_cams() -> g.Cameras:
    return g.load_cameras(RE10K / f"{CLIP_ID}.txt")


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return next(iter(iio.imiter(RE10K / f"{CLIP_ID}.mp4")))[..., :3]


def test_sixteen_cameras_default_to_seventeen_frames_and_say_so(shipped, re10k_cams, photo):
    assert len(re10k_cams) == 16
    events = list(shipped.generate_stream([photo], re10k_cams, steps=1))
    done = events[-1]
    assert done.stage == "done" and done.result.shape == (17, 32, 32, 3)
    assert "16-camera path was resampled to 17 cameras" in done.message
    assert len(done.cameras) == 17 and torch.equal(done.cameras.c2w[0], re10k_cams.c2w[0])
    assert torch.equal(done.cameras.c2w[-1], re10k_cams.c2w[-1])       # the whole path, both ends kept


def test_num_frames_resamples_and_a_valid_count_is_untouched(shipped, re10k_cams, photo):
    frames = shipped.generate([photo], re10k_cams[:10], steps=1)        # 10 -> 13, the nearest 1 + 4k above
    assert frames.shape == (13, 32, 32, 3)
    done = list(shipped.generate_stream([photo], re10k_cams, num_frames=9, steps=1))[-1]
    assert done.result.shape[0] == 9 and "num_frames=9" in done.message
    done = list(shipped.generate_stream([photo], re10k_cams[:9], steps=1))[-1]
    assert done.message == "" and torch.equal(done.cameras.c2w, re10k_cams[:9].c2w)
    with pytest.raises(ValueError, match=r"num_frames must be 1 \+ 4k, got 10"):
        shipped.generate([photo], re10k_cams, num_frames=10, steps=1)


# ---- the CLI --------------------------------------------------------------------------------------------

def _cli(argv, capsys) -> tuple[int, str, str]:
    try:
        code = cli.main([str(a) for a in argv])
    except SystemExit as exc:
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def photo_file(tmp_path, photo) -> Path:
    path = tmp_path / "photo.png"
    iio.imwrite(path, photo)
    return path


@pytest.mark.parametrize("num_frames, expected", [(9, 9), (None, 17)])
def test_cli_generates_from_a_sixteen_row_re10k_file(tmp_path, capsys, photo_file, photo, num_frames, expected):
    out, up, cams_out = tmp_path / "out.mp4", tmp_path / "up.mp4", tmp_path / "cams.json"
    argv = ["generate", "--images", photo_file, "--cameras", RE10K / f"{CLIP_ID}.txt", "--out", out,
            "--upscaled-out", up, "--cameras-out", cams_out, "--steps", "1", "--device", "cpu"]
    code, stdout, stderr = _cli(argv + (["--num-frames", num_frames] if num_frames else []), capsys)
    assert code == 0, stderr
    assert f"wrote {out}: {expected} frames at 32x32, the model's resolution" in stdout
    assert f"resampled to {expected} cameras" in stderr
    assert iio.imread(out).shape == (expected, 32, 32, 3)
    h, w = photo.shape[:2]
    big = iio.imread(up)
    assert big.shape == (expected, h, h, 3)           # the photo's centre square the 32x32 frames cover
    assert f"wrote {up}: {expected} frames at {h}x{h}, upscaled copy (plain bicubic resize)" in stdout
    assert len(g.load_cameras(cams_out)) == expected


def test_cli_width_height_only_where_the_format_needs_them(tmp_path, capsys, photo_file, monkeypatch):
    def refuse(*a, **k):
        raise AssertionError("the engine was built before the bad argument was caught")
    monkeypatch.setattr(Engine, "from_checkpoint", refuse)
    lone = tmp_path / "poses.txt"
    shutil.copy(RE10K / f"{CLIP_ID}.txt", lone)                          # no mp4 beside it: size unknown
    base = ["generate", "--images", photo_file, "--out", tmp_path / "o.mp4"]
    code, _, err = _cli(base + ["--cameras", lone], capsys)
    assert code == 2 and err.count("\n") == 1 and "pass --width and --height" in err and str(lone) in err
    traj = tmp_path / "path.json"
    g.save_cameras(resample(g.load_cameras(RE10K / f"{CLIP_ID}.txt"), 9), traj)
    code, _, err = _cli(base + ["--cameras", traj, "--width", "640", "--height", "360"], capsys)
    assert code == 2 and err.count("\n") == 1 and "--width/--height" in err and "records its own image size" in err
    code, _, err = _cli(base + ["--cameras", lone, "--width", "640"], capsys)
    assert code == 2 and "--width and --height go together" in err
    code, _, err = _cli(base + ["--cameras", traj, "--upscaled-out", tmp_path / "o.mp4"], capsys)
    assert code == 2 and "--upscaled-out and --out are the same file" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["path.json", "photo.png", "poses.txt"]  # nothing written


# ---- the upscaled copy ----------------------------------------------------------------------------------

@pytest.mark.parametrize("photo_wh, model_wh, expected", [
    ((640, 360), (32, 32), (360, 360)),       # a square model frame covers the photo's centre square
    ((384, 256), (32, 32), (256, 256)),
    ((360, 640), (32, 32), (360, 360)),       # portrait
    ((640, 360), (48, 32), (538, 360)),       # the model's aspect: the engine's crop, 48 of 57 resized columns
    ((4000, 3000), (32, 32), (1270, 1280)),   # capped at 1280 on the longer side (crop: 32 of 43 columns)
    ((20, 20), (32, 32), (32, 32)),           # never below the model's own size
])
def test_upscaled_size_is_the_covered_photo_region(photo_wh, model_wh, expected):
    assert upscaled_size(*photo_wh, *model_wh) == expected


def test_upscaled_copy_is_a_plain_resize_of_the_frames():
    frames = np.zeros((3, 32, 32, 3), np.uint8)
    frames[:, :, 16:] = 200                       # left half black, right half bright
    frames[1] = 90                                # a flat frame stays flat
    big = upscaled_copy(frames, 640, 360)
    assert big.shape == (3, 360, 360, 3) and big.dtype == np.uint8
    assert (big[1] == 90).all()
    # each half keeps its value away from the edge (bicubic rings within ~2 source pixels of it)
    assert (big[0, :, :155] == 0).all() and (big[0, :, 205:] == 200).all()
    with pytest.raises(ValueError, match="uint8"):
        upscaled_copy(frames.astype(np.float32), 640, 360)


# ---- the studio's result ---------------------------------------------------------------------------------

def test_studio_generation_states_the_model_size_and_offers_the_upscaled_copy(shipped, photo):
    from studio import views, workflows
    from studio.engine_service import EngineService
    from studio.session import StudioSession

    service = EngineService(loader=lambda: shipped)
    session = StudioSession(frame_width=32, frame_height=32)
    try:
        service.engine(timeout=60)
        session.apply_preset("orbit", {})
        session.set_photo_arrays([photo], ["frame0.png"])
        updates = list(workflows.generate_video(session, service, steps=1))
        assert updates[-1].ok, updates[-1].text
        h = photo.shape[0]
        assert "9 frames at 32x32, the model's resolution" in updates[-1].text
        assert f"{h}x{h} upscaled copy (plain bicubic resize), not model output detail" in updates[-1].text
        up = [f for f in session.generation.files if f.name.startswith("upscaled-")]
        assert [f.name for f in up] == [f"upscaled-{h}x{h}-plain-bicubic-resize.mp4"]
        assert iio.imread(up[0]).shape == (9, h, h, 3)
        assert session.generation.files[0].name == "video.mp4"          # the model's own frames stay first
        assert views.result_video_label(session) == "result: 32x32, the model's resolution (enlarged with sharp pixels)"
    finally:
        session.close()
        service.queue.shutdown()
