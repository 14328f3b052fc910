"""Uploads: photos, clips and ground-truth camera files, with configurable limits and clear refusals."""

from __future__ import annotations

import shutil
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest

from studio.config import StudioConfig
from studio.session import StudioSession
from studio.uploads import UploadError, load_camera_file, load_clip, load_photos, read_photos

RE10K = Path(__file__).parent / "data" / "re10k"
CLIP = RE10K / "0c9b371cc6225682.mp4"


def image(path: Path, h: int = 24, w: int = 32, value: int = 100) -> Path:
    iio.imwrite(path, np.full((h, w, 3), value, np.uint8))
    return path


@pytest.fixture
def config() -> StudioConfig:
    return StudioConfig(max_upload_mb=1.0, max_photos=2, max_clip_frames=20)


def test_photos_load_and_limits(tmp_path, config):
    a, b, c = (image(tmp_path / f"{n}.png") for n in "abc")
    assert [p.shape for p in load_photos([a, b], config)] == [(24, 32, 3)] * 2
    with pytest.raises(UploadError, match="more than the limit of 2"):
        load_photos([a, b, c], config)
    with pytest.raises(UploadError, match="no photo"):
        load_photos([], config)


def test_an_upload_uses_its_readable_photos_and_names_the_rest(tmp_path, config):
    good = image(tmp_path / "good.png")
    notes = tmp_path / "notes.txt"
    notes.write_text("not a photo")
    photos, names, skipped = read_photos([notes, good], config)
    assert names == ["good.png"] and photos[0].shape == (24, 32, 3)
    assert len(skipped) == 1 and "notes.txt" in skipped[0] and "unsupported image type" in skipped[0]
    with pytest.raises(UploadError, match="notes.txt"):
        read_photos([notes], config)
    s = StudioSession(config)
    try:
        assert s.set_photos([good]).startswith("1 photo(s) ready: good.png")
        with pytest.raises(UploadError):
            s.set_photos([notes])                           # refused: the photo already held stays
        assert s.photo_names == ["good.png"]
        assert s.set_photos([notes, good]) is None          # taken, with a warning naming the skipped file
        assert s.notice.level == "warning" and "skipped notes.txt" in s.notice.markdown
    finally:
        s.close()


def test_corrupt_unsupported_empty_and_oversized_photos(tmp_path, config):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG not really")
    with pytest.raises(UploadError, match="bad.png: cannot be read"):
        load_photos([bad], config)
    doc = tmp_path / "notes.pdf"
    doc.write_bytes(b"%PDF")
    with pytest.raises(UploadError, match="unsupported image type .pdf"):
        load_photos([doc], config)
    empty = tmp_path / "empty.jpg"
    empty.touch()
    with pytest.raises(UploadError, match="empty"):
        load_photos([empty], config)
    big = tmp_path / "big.png"
    big.write_bytes(b"0" * (2 * 2**20))
    with pytest.raises(UploadError, match="over the 1 MiB upload limit"):
        load_photos([big], config)


def test_limits_come_from_the_environment():
    cfg = StudioConfig.from_env({"RAXEL_STUDIO_MAX_UPLOAD_MB": "3.5", "RAXEL_STUDIO_MAX_CLIP_FRAMES": "7"})
    assert cfg.max_upload_bytes == int(3.5 * 2**20) and cfg.max_clip_frames == 7
    with pytest.raises(ValueError, match="RAXEL_STUDIO_MAX_PHOTOS"):
        StudioConfig.from_env({"RAXEL_STUDIO_MAX_PHOTOS": "many"})


def test_clip_from_mp4_gif_and_frames(tmp_path):
    config = StudioConfig()
    clip = load_clip([CLIP], config)
    assert clip.frames.shape == (16, 256, 384, 3) and clip.fps == pytest.approx(8.0)
    gif = tmp_path / "c.gif"
    iio.imwrite(gif, np.random.default_rng(0).integers(0, 255, (6, 16, 16, 3), dtype=np.uint8), duration=100, loop=0)
    assert load_clip([gif], config).num_frames == 6
    frames = [image(tmp_path / f"f{i:02d}.png", value=10 * i) for i in range(5)]
    clip = load_clip(list(reversed(frames)), config)
    assert clip.num_frames == 5 and clip.frames[0, 0, 0, 0] == 0   # name order, not upload order


def test_clip_refusals(tmp_path, config):
    with pytest.raises(UploadError, match="more than 10 frames"):
        load_clip([CLIP], StudioConfig(max_clip_frames=10))
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(300))
    with pytest.raises(UploadError, match="broken.mp4: cannot be decoded"):
        load_clip([broken], config)
    mixed = [image(tmp_path / "a.png"), image(tmp_path / "b.png", h=30)]
    with pytest.raises(UploadError, match="differ in size"):
        load_clip(mixed, config)
    with pytest.raises(UploadError, match="unsupported clip file"):
        load_clip([image(tmp_path / "a2.png"), tmp_path / "x.txt"], config)


def test_ground_truth_files(tmp_path):
    config = StudioConfig()
    cams = load_camera_file([RE10K / "0c9b371cc6225682.txt"], config, width=384, height=256, expected=16)
    assert len(cams) == 16 and (cams.width, cams.height) == (384, 256)
    with pytest.raises(UploadError, match="mismatched frame counts: the camera file has 16 cameras but the clip has 9"):
        load_camera_file([RE10K / "0c9b371cc6225682.txt"], config, width=384, height=256, expected=9)
    wrong = tmp_path / "poses.txt"
    wrong.write_text("http://example\n0 1 2\n")
    with pytest.raises(UploadError, match="poses.txt"):
        load_camera_file([wrong], config, width=32, height=32)
    with pytest.raises(UploadError, match="not a camera file"):
        load_camera_file([image(tmp_path / "a.png")], config, width=32, height=32)


def test_colmap_model_as_two_files(tmp_path):
    from geometry import save_cameras

    cams = load_camera_file([RE10K / "0c9b371cc6225682.txt"], StudioConfig(), width=384, height=256)
    folder = save_cameras(cams, tmp_path / "model", format="colmap")
    files = [folder / "cameras.txt", folder / "images.txt"]
    back = load_camera_file(files, StudioConfig(), width=384, height=256, expected=16)
    assert np.allclose(back.c2w.numpy(), cams.c2w.numpy(), atol=1e-6)


def test_session_keeps_its_clip_when_an_upload_fails(tmp_path):
    s = StudioSession()
    try:
        s.set_clip([CLIP])
        broken = tmp_path / "broken.gif"
        broken.write_bytes(b"GIF89a")
        assert not s.guarded(lambda: s.set_clip([broken]), what="clip")
        assert s.clip.name == CLIP.stem and "broken.gif" in s.notice.text
        shutil.copy(RE10K / "0c9b371cc6225682.txt", tmp_path / "gt.txt")
        assert s.guarded(lambda: s.set_ground_truth([tmp_path / "gt.txt"]), what="ground truth")
        assert len(s.clip_gt) == 16
    finally:
        s.close()
