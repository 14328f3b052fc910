"""Camera file I/O: real RealEstate10K files, convention pins, round trips, malformed files."""

from __future__ import annotations

import json
import math
import pickle
import tempfile
import warnings
from pathlib import Path

import pytest
import torch
from camera_strategies import random_cameras, seeds
from hypothesis import given, settings

import geometry as g
import geometry.io as gio
from geometry.io import reading

DATA = Path(__file__).parent / "data" / "re10k"
RE10K_FILES = sorted(DATA.glob("*.txt"))
CLIP_WITH_VIDEO = DATA / "0c9b371cc6225682.txt"  # the one clip whose .mp4 is copied beside it
CLIP_WITHOUT_VIDEO = DATA / "0bf152ef84195293.txt"
TIGHT = dict(rtol=0, atol=1e-12)


def assert_same_cameras(a: g.Cameras, b: g.Cameras, *, timestamps: bool = True, atol: float = 1e-12) -> None:
    assert (a.width, a.height) == (b.width, b.height)
    assert a.c2w.dtype == b.c2w.dtype == torch.float64
    torch.testing.assert_close(a.c2w, b.c2w, rtol=0, atol=atol)
    torch.testing.assert_close(a.K, b.K, rtol=1e-13, atol=atol)
    if timestamps:
        assert (a.timestamps is None) == (b.timestamps is None)
        if a.timestamps is not None:
            torch.testing.assert_close(a.timestamps, b.timestamps, rtol=0, atol=1e-9)


def timed_cameras(seed: int, n: int = 6, width: int = 104, height: int = 60) -> g.Cameras:
    """Random rigid cameras, per-frame off-centre K, non-square image, timestamps on a 25 fps grid."""
    cams = random_cameras(seed, (), n, width=width, height=height)
    return g.Cameras(cams.c2w, cams.K, width, height, torch.arange(n, dtype=torch.float64) / 25)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


# ---- RealEstate10K: the real files --------------------------------------------------------

@pytest.mark.parametrize("path", RE10K_FILES, ids=lambda p: p.stem)
def test_real_re10k_files_load_as_16_frame_clips(path):
    clip = gio.read_re10k(path, width=384, height=256)
    cams = clip.cameras
    assert clip.url.startswith("https://www.youtube.com/watch?v=")
    assert cams.batch_shape == (16,) and (cams.width, cams.height) == (384, 256)
    assert bool((cams.timestamps.diff() > 0).all()), "timestamps must increase"
    # a 30 fps video sampled every 8th frame: about 0.27 s between frames
    assert 0.2 < float(cams.timestamps.diff().mean()) < 0.35


def test_real_re10k_first_frame_pinned_by_hand():
    cams = gio.load_re10k(CLIP_WITHOUT_VIDEO, width=384, height=256)
    # first row of the file: 158692025 0.474812461 0.844111024 0.5 0.5 0 0 | w2c 3x4
    R = [[0.780003667, 0.059620168, -0.622928321],
         [-0.062449891, 0.997897983, 0.017311305],
         [0.622651041, 0.025398925, 0.782087326]]
    t = [0.726968666, 0.217967188, -1.002211444]
    centre = [-sum(R[r][c] * t[r] for r in range(3)) for c in range(3)]  # -R^T t
    assert float(cams.K[0, 0, 0]) == pytest.approx(0.474812461 * 384, abs=1e-9)  # 182.328 px
    assert float(cams.K[0, 1, 1]) == pytest.approx(0.844111024 * 256, abs=1e-9)
    assert (float(cams.K[0, 0, 2]), float(cams.K[0, 1, 2])) == (192.0, 128.0)
    assert float(cams.timestamps[0]) == pytest.approx(158.692025, abs=1e-12)
    # the file's 9-decimal rotation is snapped to SO(3), which moves values by ~1e-9
    torch.testing.assert_close(cams.c2w[0, :3, 3], torch.tensor(centre, dtype=torch.float64), rtol=0, atol=1e-7)
    torch.testing.assert_close(cams.c2w[0, :3, :3], torch.tensor(R, dtype=torch.float64).T, rtol=0, atol=1e-7)


def test_re10k_frame_size_comes_from_the_sibling_video():
    cams = gio.load_cameras(CLIP_WITH_VIDEO)
    assert (cams.width, cams.height) == (384, 256)
    assert float(cams.K[0, 0, 0]) == pytest.approx(0.479272232 * 384, abs=1e-9)


def test_re10k_without_size_or_video_asks_for_width_and_height():
    with pytest.raises(ValueError, match=r"pass width= and height="):
        gio.load_cameras(CLIP_WITHOUT_VIDEO)


def test_load_cameras_resizes_to_the_requested_size(tmp_path):
    native = gio.load_cameras(CLIP_WITH_VIDEO)
    small = gio.load_cameras(gio.save_cameras(native, tmp_path / "clip.json"), width=192, height=96)
    assert (small.width, small.height) == (192, 96)
    torch.testing.assert_close(small.K[:, 0], native.K[:, 0] / 2, **TIGHT)
    torch.testing.assert_close(small.K[:, 1], native.K[:, 1] * 96 / 256, **TIGHT)
    torch.testing.assert_close(small.c2w, native.c2w, **TIGHT)


def test_cross_format_re10k_to_transforms_json(tmp_path):
    cams = gio.load_cameras(CLIP_WITHOUT_VIDEO, width=384, height=256)
    back = gio.load_cameras(gio.save_cameras(cams, tmp_path / "transforms.json"))
    assert_same_cameras(cams, back)


# ---- convention pins ------------------------------------------------------------------------

def test_transforms_json_identity_opengl_pose_flips_y_and_z(tmp_path):
    doc = {"fl_x": 100, "fl_y": 100, "cx": 32, "cy": 24, "w": 64, "h": 48,
           "frames": [{"file_path": "a.png", "transform_matrix": torch.eye(4).tolist()}]}
    cams, paths = gio.load_transforms(write(tmp_path / "transforms.json", json.dumps(doc)))
    torch.testing.assert_close(cams.c2w[0], torch.diag(torch.tensor([1.0, -1.0, -1.0, 1.0], dtype=torch.float64)))
    assert paths == ["a.png"]


def test_re10k_identity_w2c_gives_identity_c2w(tmp_path):
    row = "0 0.5 0.75 0.5 0.5 0 0 1 0 0 0 0 1 0 0 0 0 1 0"
    cams = gio.load_cameras(write(tmp_path / "clip.txt", f"https://example.com\n{row}\n"), width=64, height=48)
    torch.testing.assert_close(cams.c2w[0], torch.eye(4, dtype=torch.float64), **TIGHT)
    torch.testing.assert_close(cams.K[0], g.intrinsics_matrix(32.0, 36.0, 32.0, 24.0).double(), **TIGHT)


def test_re10k_w2c_translation_becomes_camera_centre(tmp_path):
    # w2c = [R | t] with R = 90 deg about z; the camera centre is -R^T t
    row = "0 1 1 0.5 0.5 0 0 0 -1 0 1 1 0 0 2 0 0 1 3"
    cams = gio.load_cameras(write(tmp_path / "clip.txt", f"url\n{row}\n"), width=10, height=10)
    torch.testing.assert_close(cams.centers[0], torch.tensor([-2.0, 1.0, -3.0], dtype=torch.float64), **TIGHT)


def test_nerfstudio_vertical_fov_maps_to_fy(tmp_path):
    fov, W, H = 50.0, 320, 180
    doc = {"render_width": W, "render_height": H, "fps": 24, "seconds": 1 / 24, "camera_type": "perspective",
           "camera_path": [{"camera_to_world": torch.eye(4).reshape(-1).tolist(), "fov": fov, "aspect": W / H}]}
    cams = gio.load_cameras(write(tmp_path / "camera_path.json", json.dumps(doc)))
    f = 0.5 * H / math.tan(math.radians(fov) / 2)
    torch.testing.assert_close(cams.K[0], g.intrinsics_matrix(f, f, W / 2, H / 2).double(), rtol=1e-14, atol=0)
    torch.testing.assert_close(cams.c2w[0], torch.diag(torch.tensor([1.0, -1.0, -1.0, 1.0], dtype=torch.float64)))


def test_nerf_synthetic_camera_angle_x_is_horizontal_fov(tmp_path):
    doc = {"camera_angle_x": 0.6911112070083618,
           "frames": [{"file_path": "./train/r_0", "transform_matrix": torch.eye(4).tolist()}]}
    path = write(tmp_path / "transforms_train.json", json.dumps(doc))
    cams = gio.load_cameras(path, width=800, height=800)
    assert float(cams.K[0, 0, 0]) == pytest.approx(0.5 * 800 / math.tan(0.6911112070083618 / 2), rel=1e-14)
    assert float(cams.K[0, 1, 1]) == float(cams.K[0, 0, 0]) and float(cams.K[0, 0, 2]) == 400.0
    with pytest.raises(ValueError, match=r"frames\[0\].*width= and height="):
        gio.load_cameras(path)  # no w/h in the file and no image on disk


def test_colmap_text_model_pose_sorting_and_mixed_sizes(tmp_path):
    write(tmp_path / "cameras.txt", "# Camera list\n1 PINHOLE 200 100 150 160 100.5 50.25\n"
                                    "2 SIMPLE_PINHOLE 400 200 300 200 100\n")
    s = math.sqrt(0.5)  # 90 deg about x
    write(tmp_path / "images.txt", "# Image list\n"
                                   f"7 {s} {s} 0 0 1 2 3 2 b.png\n10 20 -1 30 40 5\n"
                                   "3 1 0 0 0 0 0 0 1 a.png\n\n")
    cams, names = gio.load_colmap(tmp_path)
    assert names == ["a.png", "b.png"]
    assert (cams.width, cams.height) == (200, 100)  # the first (sorted) image's camera
    torch.testing.assert_close(cams.K[1], g.intrinsics_matrix(150.0, 150.0, 100.0, 50.0).double(), **TIGHT)
    # w2c rotation Rx(90): y -> z, z -> -y; centre = -R^T t = -(1, 3, -2)
    torch.testing.assert_close(cams.centers[1], torch.tensor([-1.0, -3.0, 2.0], dtype=torch.float64), atol=1e-15,
                               rtol=0)
    for path in (tmp_path / "images.txt", tmp_path / "cameras.txt"):
        assert_same_cameras(gio.load_cameras(path), cams)


def test_colmap_distortion_is_dropped_with_a_warning(tmp_path):
    write(tmp_path / "cameras.txt", "1 OPENCV 64 48 50 50 32 24 0.1 0 0 0\n")
    write(tmp_path / "images.txt", "1 1 0 0 0 0 0 0 1 a.png\n\n")
    with pytest.warns(UserWarning, match="distortion.*ignored"):
        cams, _ = gio.load_colmap(tmp_path / "cameras.txt")
    assert float(cams.K[0, 0, 0]) == 50.0


# ---- round trips ----------------------------------------------------------------------------

@pytest.mark.parametrize("fmt,name,keeps_time", [("re10k", "clip.txt", True), ("colmap", "sparse/0", False),
                                                 ("transforms", "transforms.json", True),
                                                 ("trajectory", "path.json", True)])
def test_round_trip_random_cameras(tmp_path, fmt, name, keeps_time):
    cams = timed_cameras(seed=7)
    written = gio.save_cameras(cams, tmp_path / name)
    assert gio.format_for_saving(tmp_path / name) == fmt
    back = gio.load_cameras(written, width=cams.width, height=cams.height)
    assert_same_cameras(cams, back, timestamps=keeps_time)


def test_round_trip_nerfstudio_path(tmp_path):
    c2w = random_cameras(3, (), 5).c2w
    cams = g.Cameras.from_fov(c2w, fov_y_deg=torch.linspace(30, 70, 5, dtype=torch.float64), width=160, height=90,
                              timestamps=torch.arange(5, dtype=torch.float64) / 24)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # square pixels and centred principal point: nothing is lost
        back = gio.load_cameras(gio.save_cameras(cams, tmp_path / "camera_path.json", fps=24))
    assert_same_cameras(cams, back)


def test_nerfstudio_export_has_the_viewer_schema(tmp_path):
    cams = g.Cameras.from_fov(random_cameras(4, (), 4).c2w, fov_y_deg=40.0, width=192, height=108)
    keyframes = [(cams.c2w[0], 40.0), (cams.c2w[3].numpy(), 55.0)]
    path = gio.save_cameras(cams, tmp_path / "out.json", format="nerfstudio_path", fps=12, keyframes=keyframes)
    doc = json.loads(path.read_text())
    assert {"default_fov", "default_transition_sec", "keyframes", "camera_type", "render_height", "render_width",
            "fps", "seconds", "is_cycle", "smoothness_value", "camera_path"} <= doc.keys()
    assert doc["camera_type"] == "perspective" and (doc["render_width"], doc["render_height"]) == (192, 108)
    assert doc["seconds"] == pytest.approx(4 / 12)
    assert len(doc["camera_path"]) == 4 and len(doc["keyframes"]) == 2
    kf = doc["keyframes"][1]
    assert kf.keys() >= {"matrix", "fov", "aspect", "override_transition_enabled", "override_transition_sec"}
    assert kf["fov"] == 55.0 and kf["aspect"] == pytest.approx(192 / 108)
    gl = torch.tensor(kf["matrix"], dtype=torch.float64).reshape(4, 4)  # flat, row-major, OpenGL
    torch.testing.assert_close(g.opengl_to_opencv_c2w(gl), cams.c2w[3], **TIGHT)
    entry = doc["camera_path"][0]
    assert len(entry["camera_to_world"]) == 16 and entry["fov"] == pytest.approx(40.0, abs=1e-12)


def test_nerfstudio_export_warns_when_intrinsics_do_not_fit(tmp_path):
    with pytest.warns(UserWarning, match="vertical FOV"):
        gio.save_cameras(timed_cameras(1), tmp_path / "camera_path.json")


@settings(max_examples=20, deadline=None)
@given(seed=seeds)
def test_round_trip_hypothesis_colmap_and_trajectory(seed):
    cams = timed_cameras(seed, n=3, width=96 + seed % 17, height=64 - seed % 13)
    with tempfile.TemporaryDirectory() as tmp:
        back, names = gio.load_colmap(gio.save_colmap(cams, Path(tmp) / "model", image_names=["c", "a", "b"]))
        assert names == ["a", "b", "c"]  # sorted by name: saved frames 1, 2, 0
        assert_same_cameras(cams[torch.tensor([1, 2, 0])], back, timestamps=False)
        assert_same_cameras(cams, gio.load_cameras(gio.save_cameras(cams, Path(tmp) / "t.json")))


def test_colmap_binary_model_matches_text(tmp_path):
    pycolmap = pytest.importorskip("pycolmap")
    cams = timed_cameras(11)
    text_dir = gio.save_colmap(cams, tmp_path / "text")
    (tmp_path / "bin").mkdir()
    pycolmap.Reconstruction(str(text_dir)).write_binary(str(tmp_path / "bin"))
    assert (tmp_path / "bin" / "images.bin").is_file()
    back, names = gio.load_colmap(tmp_path / "bin" / "images.bin")
    assert names == [f"frame_{i:05d}.png" for i in range(len(cams))]
    assert_same_cameras(cams, back, timestamps=False)


def test_trajectory_document_keeps_editor_state_verbatim(tmp_path):
    cams = timed_cameras(5)
    cams.K[2, 0, 1] = 0.25  # the project's own format keeps skew
    keyframes = [{"c2w": torch.eye(4).tolist(), "fov_deg": 50.0, "t": 0.0, "label": "start"},
                 {"c2w": torch.eye(4).tolist(), "fov_deg": 60.0, "t": 2.5, "ease": [0.1, 0.9]}]
    interpolation = {"position": "kochanek_bartels", "tension": 0.5, "fov": "linear"}
    meta = {"title": "hallway", "seed": 3}
    path = gio.save_cameras(cams, tmp_path / "edit.json", fps=25, keyframes=keyframes,
                            interpolation=interpolation, meta=meta)
    doc = gio.load_trajectory_document(path)
    assert doc["version"] == gio.TRAJECTORY_VERSION and doc["fps"] == 25.0
    assert (doc["keyframes"], doc["interpolation"], doc["meta"]) == (keyframes, interpolation, meta)
    assert_same_cameras(cams, doc["cameras"])


def test_trajectory_rejects_future_versions_and_other_formats(tmp_path):
    path = gio.save_cameras(timed_cameras(2), tmp_path / "t.json")
    doc = json.loads(path.read_text())
    with pytest.raises(ValueError, match=r"t\.json, at version: .*newer raxel-studio"):
        gio.load_cameras(write(tmp_path / "t.json", json.dumps({**doc, "version": 2})))
    with pytest.raises(ValueError, match=r"at format: .*not a raxel-studio trajectory"):
        gio.load_cameras(write(tmp_path / "t.json", json.dumps({**doc, "format": "something.else"})))


def test_format_detection_on_load_and_save(tmp_path):
    cams = timed_cameras(9)
    for name, fmt in [("a.txt", "re10k"), ("transforms.json", "transforms"), ("camera_path.json", "nerfstudio_path"),
                      ("path.json", "trajectory"), ("sparse/0", "colmap"), ("m/cameras.txt", "colmap")]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            written = gio.save_cameras(cams, tmp_path / name)
        assert gio.detect_format(written) == fmt, name
    # format= overrides the name, on save and on load
    written = gio.save_cameras(cams, tmp_path / "anything.json", format="transforms")
    assert gio.detect_format(written) == "transforms"
    assert_same_cameras(gio.load_cameras(written, format="transforms"), cams)
    with pytest.raises(ValueError, match="unknown format"):
        gio.save_cameras(cams, tmp_path / "x.json", format="ply")


# ---- malformed files: the message names the file and the line or key ------------------------

ROW = "0 0.5 0.75 0.5 0.5 0 0 1 0 0 0 0 1 0 0 0 0 1 0"
TRANSFORMS_OK = {"fl_x": 50, "w": 64, "h": 48, "frames": [{"transform_matrix": torch.eye(4).tolist()}]}

MALFORMED = [
    # (file name, content, text the message must contain)
    ("clip.txt", f"url\n{ROW}\n{ROW} 7\n", "line 3: expected 19 numbers"),
    ("clip.txt", f"url\n\n{ROW.replace('0.75', 'abc')}\n", "line 3: value 3 ('abc') is not a number"),
    ("clip.txt", f"url\n{ROW.replace('0.75', 'nan')}\n", "line 2: value 3 is nan (NaN"),
    ("clip.txt", f"url\n{ROW.replace(' 1 0 0 0 0 1', ' 2 0 0 0 0 1', 1)}\n", "line 2: rotation is not orthonormal"),
    ("clip.txt", f"url\n{ROW.replace('0 0.5 0.75', '0 0 0.75', 1)}\n", "line 2: focal lengths must be positive"),
    ("clip.txt", f"{ROW}\n{ROW}\n", "line 1: expected the video URL"),
    ("clip.txt", "url\n", "line 1: no camera rows"),
    ("clip.txt", "\n  \n", "file is empty"),
    ("clip.txt", "url\n" + ROW + "\n\x00\x01\x02garbage\n", "line 3: contains binary data"),
    ("clip.txt", "url\n" + ROW + "\n\xff\xfe", "line 3: is not UTF-8"),
    ("cameras.txt", "1 FISHEYE 64 48 50 32 24 0\n", "line 1: camera model 'FISHEYE' is not supported"),
    ("cameras.txt", "# c\n1 PINHOLE 64 48 50 32 24\n", "line 2: camera model PINHOLE takes 4 parameters"),
    ("cameras.txt", "1 PINHOLE 64 48 0 50 32 24\n", "line 1: focal lengths must be positive"),
    ("images.txt", "# i\n1 1 0 0 0 0 0 0 1\n\n", "line 2: expected IMAGE_ID QW QX QY QZ TX TY TZ CAMERA_ID NAME"),
    ("images.txt", "1 1 0 0 0 0 0 0 9 a.png\n\n", "line 1: camera 9 is not defined"),
    ("images.txt", "1 1 0 0 0 0 0 0 1 a.png\n1 2\n", "line 2: 2D points line"),
    ("images.txt", "1 0 0 0 0 0 0 0 1 a.png\n\n", "line 1: quaternion QW QX QY QZ is zero"),
    ("transforms.json", '{"w": 64,\n "h": 48\n "frames": []}', "line 3 column 2: invalid JSON"),
    ("transforms.json", json.dumps({**TRANSFORMS_OK, "frames": [{}]}), "at frames[0].transform_matrix: required key"),
    ("transforms.json", json.dumps({**TRANSFORMS_OK, "frames": [{"transform_matrix": [[2, 0, 0, 0], [0, 1, 0, 0],
                                                                                      [0, 0, 1, 0], [0, 0, 0, 1]]}]}),
     "at frames[0].transform_matrix: rotation is not orthonormal"),
    ("transforms.json", json.dumps({**TRANSFORMS_OK, "frames": [{"transform_matrix": [[1, 0, 0], [0, 1, 0]]}]}),
     "at frames[0].transform_matrix: expected a 4x4 nested rows"),
    ("transforms.json", json.dumps({**TRANSFORMS_OK, "fl_x": "50"}), "at fl_x: expected a number"),
    ("transforms.json", json.dumps({**TRANSFORMS_OK, "fl_x": 0}), "at frames[0]: focal lengths must be positive"),
    ("transforms.json", json.dumps({**TRANSFORMS_OK, "frames": [{"transform_matrix": [[float("nan")] * 4] * 4}]}),
     "at frames[0].transform_matrix[0][0]: number is nan"),
    ("transforms.json", json.dumps({"w": 64}), "at frames: required key is missing"),
    ("camera_path.json", json.dumps({"render_width": 64, "camera_path": []}), "at render_height: required key"),
    ("camera_path.json", json.dumps({"render_width": 64, "render_height": 48, "camera_path": [
        {"camera_to_world": torch.eye(4).reshape(-1).tolist(), "fov": 0}]}), "at camera_path[0].fov: must be positive"),
    ("path.json", json.dumps({"format": "raxel-studio.trajectory", "version": 1, "width": 4, "height": 4,
                              "frames": [{"c2w": torch.eye(4).tolist()}]}), "at frames[0].K: required key is missing"),
    ("path.json", "[" * 100_000, "nested too deeply"),
    ("path.json", json.dumps([1, 2]), "not a known camera format"),
]


@pytest.mark.parametrize("name,content,expected", MALFORMED, ids=[f"{i}-{m[0]}" for i, m in enumerate(MALFORMED)])
def test_malformed_files_name_the_file_and_the_place(tmp_path, name, content, expected):
    path = tmp_path / name
    path.write_bytes(content.encode("latin-1"))  # byte for byte, so "\xff" stays an invalid UTF-8 byte
    if name == "cameras.txt":
        write(tmp_path / "images.txt", "1 1 0 0 0 0 0 0 1 a.png\n\n")
    if name == "images.txt":
        write(tmp_path / "cameras.txt", "1 PINHOLE 64 48 50 50 32 24\n")
    with pytest.raises(ValueError) as info:
        gio.load_cameras(path, width=64, height=48) if name == "clip.txt" else gio.load_cameras(path)
    assert f"{path.name}, " in str(info.value) or f"{path.name}:" in str(info.value)
    assert expected in str(info.value)


def test_oversized_file_is_refused_without_reading_it(tmp_path):
    path = tmp_path / "huge.json"
    with open(path, "wb") as f:
        f.truncate(reading.MAX_FILE_BYTES + 1)  # sparse: costs no disk, and must not be read
    with pytest.raises(ValueError, match=r"huge\.json: file is 67,108,865 bytes, over the 64 MiB limit"):
        gio.load_cameras(path)


def test_size_limit_is_a_module_constant(tmp_path, monkeypatch):
    path = gio.save_cameras(timed_cameras(0), tmp_path / "t.json")
    monkeypatch.setattr(reading, "MAX_FILE_BYTES", 100)
    with pytest.raises(ValueError, match="over the 100 bytes limit"):
        gio.load_cameras(path)


def test_pickles_are_rejected_never_unpickled(tmp_path):
    payload = pickle.dumps({"c2w": [[1.0]]}, protocol=0)  # protocol 0 is plain ASCII text
    for name in ("clip.txt", "path.json"):
        (tmp_path / name).write_bytes(payload)
        with pytest.raises(ValueError, match=name.replace(".", r"\.")):
            gio.load_cameras(tmp_path / name, width=8, height=8)
    (tmp_path / "b.json").write_bytes(pickle.dumps(object()))  # binary protocol
    with pytest.raises(ValueError, match=r"b\.json, line 1: contains binary data"):
        gio.load_cameras(tmp_path / "b.json")


def test_colmap_binary_garbage_is_refused_before_pycolmap(tmp_path):
    gen = torch.Generator().manual_seed(0)
    for name in ("cameras.bin", "images.bin"):
        (tmp_path / name).write_bytes(bytes(torch.randint(0, 256, (4096,), generator=gen, dtype=torch.uint8).tolist()))
    with pytest.raises(ValueError, match=r"cameras\.bin: not a COLMAP cameras\.bin"):
        gio.load_cameras(tmp_path)


def test_camera_files_get_ordinary_permissions(tmp_path):
    import os
    import stat

    from geometry.io.writing import write_text_atomic

    old = os.umask(0o022)
    try:
        path = write_text_atomic(tmp_path / "cams.json", "{}")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
