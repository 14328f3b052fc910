"""Hostile media files and output files: header-first pixel and frame limits (one limit for API, CLI and
studio), decoding only the frames used, one-line errors for corrupt files, and safe video writing."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
from PIL import Image

from engine import media
from engine.media import MediaError, check_video_output, frames_to_tensor, load_frames, probe_media, save_video
from studio.config import StudioConfig
from studio.uploads import UploadError, load_clip, load_photos

REPO = Path(__file__).resolve().parent.parent
BIG_FRAMES, BIG_SIDE = 33, 2048
GRAY_STEP = 7                                   # frame i of the big clip is gray level 7 * i


@pytest.fixture(scope="module")
def huge_png(tmp_path_factory) -> Path:
    """A 10000x10000 PNG of a few hundred KB: 100 MP once decoded."""
    path = tmp_path_factory.mktemp("bomb") / "huge.png"
    Image.fromarray(np.zeros((10_000, 10_000), np.uint8)).save(path)
    assert path.stat().st_size < 2**20
    return path


@pytest.fixture(scope="module")
def big_clip(tmp_path_factory) -> Path:
    """33 frames of 2048x2048 in a few KB (H.264 when ffmpeg has it, else a GIF); frame i is gray 7 * i."""
    folder = tmp_path_factory.mktemp("clip")
    frames = np.repeat((np.arange(BIG_FRAMES, dtype=np.uint8) * GRAY_STEP)[:, None, None, None], 3, -1)
    frames = np.broadcast_to(frames, (BIG_FRAMES, BIG_SIDE, BIG_SIDE, 3))
    try:
        path = folder / "clip.mp4"
        iio.imwrite(path, frames, fps=8, codec="libx264", macro_block_size=1, plugin="FFMPEG",
                    output_params=["-preset", "ultrafast"])
    except Exception:
        path = folder / "clip.gif"
        iio.imwrite(path, frames, duration=125, loop=0)
    return path


def _peak_growth_mb(setup: str, call: str, *, refused: bool = False) -> float:
    """How far the peak resident memory of a fresh interpreter rises during ``call`` (after ``setup``).
    ``call`` must succeed, or with ``refused`` must raise ValueError; anything else fails the test."""
    handler = "    print('refused:', exc)" if refused else "    raise"
    script = (f"import json, resource\n{setup}\n"
              "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
              f"try:\n    {call}\n    print('done')\nexcept ValueError as exc:\n{handler}\n"
              "after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
              "print(json.dumps((after - before) / 1024))\n")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop(media.MAX_IMAGE_PIXELS_ENV, None)
    run = subprocess.run([sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    lines = run.stdout.strip().splitlines()
    assert lines[-2].startswith("refused:" if refused else "done"), run.stdout[-2000:]
    return float(json.loads(lines[-1]))


# ---- pixel limit -------------------------------------------------------------------------------------

def test_huge_image_refused_from_its_header(huge_png):
    expected = f"{huge_png}: 10000x10000 pixels (100.0 MP) is over the 40 MP limit (RAXEL_MAX_IMAGE_PIXELS)"
    with pytest.raises(MediaError) as err:
        load_frames(huge_png, 64, 64, name="images")
    assert str(err.value) == expected
    with pytest.raises(MediaError, match="huge.png: 10000x10000 pixels"):
        load_frames([str(huge_png)], 64, 64, name="images")   # the list form the CLI's --images gives


def test_huge_image_is_refused_without_allocating(huge_png):
    setup = "from engine.media import load_frames"
    growth = _peak_growth_mb(setup, f"load_frames([{str(huge_png)!r}], 64, 64)", refused=True)
    assert growth < 64, f"refusing a decompression bomb grew memory by {growth:.0f} MB"


def test_one_pixel_limit_for_engine_and_studio(tmp_path, monkeypatch):
    photo = tmp_path / "photo.png"
    iio.imwrite(photo, np.zeros((40, 50, 3), np.uint8))
    monkeypatch.setenv(media.MAX_IMAGE_PIXELS_ENV, "1000")
    with pytest.raises(MediaError, match=r"photo.png: 50x40 pixels \(0.0 MP\) is over the 0.001 MP limit"):
        load_frames(photo, 16, 16)
    with pytest.raises(UploadError, match=r"^photo.png: 50x40 pixels .* \(RAXEL_MAX_IMAGE_PIXELS\)$"):
        load_photos([photo], StudioConfig())
    assert StudioConfig().max_image_pixels == 1000
    monkeypatch.setenv(media.MAX_IMAGE_PIXELS_ENV, "2000")
    assert load_photos([photo], StudioConfig())[0].shape == (40, 50, 3)
    assert load_frames(photo, 16, 16)[0].shape == (1, 3, 16, 16)
    monkeypatch.setenv(media.MAX_IMAGE_PIXELS_ENV, "lots")
    with pytest.raises(MediaError, match="RAXEL_MAX_IMAGE_PIXELS='lots': expected a positive number"):
        load_frames(photo, 16, 16)


def test_studio_refuses_the_bomb_with_the_shared_message(huge_png):
    with pytest.raises(UploadError, match=r"^huge.png: 10000x10000 pixels \(100.0 MP\) is over the 40 MP limit"):
        load_photos([huge_png], StudioConfig())


def test_higher_limit_lets_the_header_through(huge_png, monkeypatch):
    monkeypatch.setenv(media.MAX_IMAGE_PIXELS_ENV, "1e8")
    info = probe_media(huge_png)
    assert (info.width, info.height, info.num_frames) == (10_000, 10_000, 1)


# ---- decoding only what is used ----------------------------------------------------------------------

def test_only_the_chosen_frames_are_decoded(big_clip, monkeypatch):
    shrunk = []
    real_shrink = media._shrink
    monkeypatch.setattr(media, "_shrink", lambda frame, size: shrunk.append(frame.shape) or real_shrink(frame, size))
    x, crop, idx = load_frames(big_clip, 32, 48, num_frames=9)
    assert idx.tolist() == [0, 4, 8, 12, 16, 20, 24, 28, 32]
    assert shrunk == [(BIG_SIDE, BIG_SIDE, 3)] * 9
    assert x.shape == (9, 3, 32, 48)
    gray = (x[:, :, 8:24, 8:40].mean(dim=(1, 2, 3)).numpy() + 1) * 127.5
    np.testing.assert_allclose(gray, idx * GRAY_STEP, atol=3)   # the right frames, in order
    assert (crop.src_width, crop.src_height) == (BIG_SIDE, BIG_SIDE)
    assert crop.sx == pytest.approx(48 / BIG_SIDE) and crop.y0 == 8


def test_subsampling_a_big_clip_keeps_memory_low(big_clip):
    setup = "from engine.media import load_frames"
    growth = _peak_growth_mb(setup, f"load_frames({str(big_clip)!r}, 64, 64, num_frames=9)")
    assert growth < 150, f"9 frames of a 33-frame 2048x2048 clip grew memory by {growth:.0f} MB"


def test_engine_prepare_clip_decodes_lazily(big_clip):
    setup = ("from engine import Engine\n"
             "eng = Engine.from_checkpoint('tiny', device='cpu')")
    growth = _peak_growth_mb(setup, f"eng.prepare_clip({str(big_clip)!r}, num_frames=9)")
    assert growth < 150, f"Engine.prepare_clip grew memory by {growth:.0f} MB"


def test_crop_refers_to_the_files_pixels(tmp_path):
    yy, xx = np.mgrid[0:200, 0:300]
    smooth = np.stack([xx * 255 // 299, yy * 255 // 199, (xx + yy) * 255 // 498], -1).astype(np.uint8)
    path = tmp_path / "smooth.png"
    iio.imwrite(path, smooth)
    from_file, crop_file, _ = load_frames(path, 32, 40)
    from_array, crop_array, _ = load_frames(smooth, 32, 40)
    assert crop_file == crop_array and (crop_file.src_width, crop_file.src_height) == (300, 200)
    assert float((from_file - from_array).abs().max()) < 0.03


def test_frame_cap_is_checked_before_decoding(tmp_path):
    gif = tmp_path / "long.gif"
    iio.imwrite(gif, np.zeros((12, 8, 8, 3), np.uint8) + np.arange(12, dtype=np.uint8)[:, None, None, None] * 20,
                duration=100, loop=0)
    with pytest.raises(MediaError, match="long.gif: 12 frames is more than 10 frames allowed"):
        probe_media(gif, limits=media.MediaLimits(max_frames=10))
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(4):
        iio.imwrite(folder / f"{i}.png", np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(MediaError, match="4 frames is more than 3 frames allowed"):
        load_frames(folder, 8, 8, limits=media.MediaLimits(max_frames=3))


# ---- corrupt files -----------------------------------------------------------------------------------

def _one_line(exc: BaseException) -> str:
    text = str(exc)
    assert "\n" not in text and "ffmpeg version" not in text and "pip install" not in text
    return text


def test_corrupt_files_give_one_line_naming_the_file(tmp_path):
    png = tmp_path / "broken.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    with pytest.raises(MediaError) as err:
        frames_to_tensor(str(png))
    assert _one_line(err.value) == f"{png}: not a readable image or video (cannot identify image file)"
    mp4 = tmp_path / "broken.mp4"
    mp4.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(300))
    with pytest.raises(MediaError) as err:
        load_frames(mp4, 16, 16)
    assert _one_line(err.value) == f"{mp4}: not a readable image or video (moov atom not found)"
    truncated = tmp_path / "truncated.png"
    iio.imwrite(tmp_path / "whole.png", np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8))
    truncated.write_bytes((tmp_path / "whole.png").read_bytes()[:600])
    with pytest.raises(MediaError) as err:
        load_frames(truncated, 16, 16)
    assert _one_line(err.value).startswith(f"{truncated}: not a readable image or video (")


def test_studio_names_the_upload_not_its_temporary_path(tmp_path):
    mp4 = tmp_path / "broken.mp4"
    mp4.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(300))
    with pytest.raises(UploadError) as err:
        load_clip([mp4], StudioConfig())
    assert _one_line(err.value) == "broken.mp4: cannot be decoded as a video (moov atom not found)"


# ---- writing -----------------------------------------------------------------------------------------

# Distinct frames: a GIF writer merges repeated ones.
FRAMES = np.zeros((3, 16, 16, 3), np.uint8) + np.array([0, 100, 200], np.uint8)[:, None, None, None]


@pytest.mark.parametrize("fps", [-5, 0, float("nan"), float("inf"), "fast"])
@pytest.mark.parametrize("suffix", [".mp4", ".gif"])
def test_bad_fps_is_refused_and_nothing_written(tmp_path, fps, suffix):
    with pytest.raises(MediaError, match="fps must be a number in"):
        save_video(FRAMES, tmp_path / f"out{suffix}", fps=fps)
    assert list(tmp_path.iterdir()) == []


def test_a_failing_writer_leaves_no_partial_file(tmp_path, monkeypatch):
    target = tmp_path / "out.gif"
    target.write_bytes(b"previous result")

    def half_write(path, *args, **kwargs):
        Path(path).write_bytes(b"GIF89a half")
        raise OSError("No space left on device")

    monkeypatch.setattr(iio, "imwrite", half_write)
    with pytest.raises(MediaError, match=r"out.gif: could not write it \(No space left on device\)"):
        save_video(FRAMES, target, fps=8)
    assert [p.name for p in tmp_path.iterdir()] == ["out.gif"] and target.read_bytes() == b"previous result"


@pytest.mark.parametrize("suffix", [".mp4", ".gif"])
def test_written_videos_follow_the_umask(tmp_path, suffix):
    old = os.umask(0o027)
    try:
        path = save_video(FRAMES, tmp_path / f"out{suffix}", fps=4)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert iio.imread(path).shape[0] == 3 and [p.name for p in tmp_path.iterdir()] == [f"out{suffix}"]
    if suffix == ".mp4":
        assert iio.immeta(path, plugin="FFMPEG")["fps"] == pytest.approx(4)


def test_mp4_with_odd_size_is_refused_up_front(tmp_path):
    with pytest.raises(MediaError, match="mp4 needs even frame sizes, got 15x16"):
        save_video(np.zeros((2, 16, 15, 3), np.uint8), tmp_path / "odd.mp4")
    assert list(tmp_path.iterdir()) == []


def test_check_video_output(tmp_path):
    assert check_video_output(tmp_path / "a.mp4") == tmp_path / "a.mp4" and not (tmp_path / "a.mp4").exists()
    with pytest.raises(MediaError, match=r"a.avi: unsupported video type .avi; use .mp4 or .gif"):
        check_video_output(tmp_path / "a.avi")
    (tmp_path / "d.mp4").mkdir()
    with pytest.raises(MediaError, match="d.mp4: is a folder"):
        check_video_output(tmp_path / "d.mp4")
    with pytest.raises(MediaError, match="missing does not exist"):
        check_video_output(tmp_path / "missing" / "a.gif")


def test_check_video_output_refuses_a_read_only_folder(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    if os.access(locked, os.W_OK):
        pytest.skip("running as a user who can write anywhere (root)")
    with pytest.raises(MediaError, match="locked is not writable"):
        check_video_output(locked / "a.mp4")
    assert not (tmp_path / "a.mp4").exists() and not any(locked.iterdir())
