"""Presets inserted as keyframes or whole paths, and path import/export round trips in every format."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from geometry import CameraFileError, load_cameras
from studio.camera_path import PathError
from studio.path_io import EXPORT_FORMATS, import_path, keyframes_from_trajectory
from studio.presets import LABELS, clean_params, preset_keyframes, preset_names, preset_params
from studio.session import StudioSession

RE10K = Path(__file__).parent / "data" / "re10k"


@pytest.fixture
def session(tmp_path):
    s = StudioSession()
    yield s
    s.close()


@pytest.mark.parametrize("name", preset_names())
def test_every_preset_makes_a_valid_path(session, name):
    msg = session.apply_preset(name, {})
    assert LABELS[name] in msg
    cams = session.path.cameras()
    assert len(cams) == session.path.settings.num_frames
    kf0 = session.path.keyframes[0]
    assert np.allclose(kf0.position.numpy(), [0, 0, 0])        # starts at the anchor camera


def test_preset_parameters_come_from_the_signatures():
    truck = {p.name: p for p in preset_params("truck")}
    assert truck["direction"].choices == ("right", "left") and truck["distance"].optional
    assert clean_params("orbit", {"degrees": "90"}) == {"degrees": 90.0}
    assert clean_params("dolly_in", {"distance": None}) == {}
    with pytest.raises(ValueError, match="no parameter"):
        clean_params("orbit", {"distance": 1})
    with pytest.raises(ValueError, match="must be one of"):
        clean_params("pan", {"direction": "up"})


def test_closed_moves_loop_and_open_moves_do_not(session):
    session.apply_preset("orbit", {"degrees": 360})
    assert session.path.settings.loop and len(session.path) == 8
    session.apply_preset("arc_left", {})
    assert not session.path.settings.loop


def test_orbit_keyframes_circle_the_look_at_point():
    kfs, closed = preset_keyframes("orbit", {}, eye=[0, 0, 0], target=[0, 0, 2], count=6)
    radii = [float(np.linalg.norm(k.position.numpy() - [0, 0, 2])) for k in kfs]
    assert closed and np.allclose(radii, 2.0)
    assert sum(k.duration for k in kfs) == pytest.approx(2.0)


def test_preset_inserted_after_the_selected_keyframe(session):
    session.apply_preset("dolly_in", {"distance": 0.5}, count=3)
    session.path.select(2)
    before = len(session.path)
    session.apply_preset("pan", {"direction": "left", "degrees": 30}, mode="insert", count=3)
    assert len(session.path) == before + 2       # the shared start camera is not duplicated
    session.path.cameras()


def test_bad_preset_keeps_the_path(session):
    session.apply_preset("orbit", {})
    snap = session.path.snapshot
    assert not session.guarded(lambda: session.apply_preset("dolly_in", {"distance": 10}), what="preset")
    assert "pass the target" in session.notice.text and session.notice.level == "error"
    assert session.path.snapshot is snap


@pytest.mark.parametrize("fmt", list(EXPORT_FORMATS))
def test_export_import_round_trip(session, fmt):
    session.apply_preset("spiral", {}, count=9)
    session.path.set_settings(num_frames=17, fps=12.0, tension=0.2)
    sent = session.path.cameras()
    file = session.export_path_file(fmt)
    assert file.exists() and file.name == EXPORT_FORMATS[fmt][1]
    back = load_cameras(file, width=32, height=32) if fmt == "re10k" else load_cameras(file)
    assert torch.allclose(back.c2w, sent.c2w, atol=1e-5)
    fresh = StudioSession()
    try:
        fresh.import_path_file(file)
        again = fresh.path.cameras()
        assert len(again) == 17
        assert torch.allclose(again.c2w, sent.c2w, atol=1e-4)   # the same frames come back
    finally:
        fresh.close()


def test_trajectory_json_restores_the_editor_state(session):
    session.apply_preset("lemniscate", {}, count=6)
    session.path.set_settings(tension=0.4, constant_speed=True, fps=24)
    file = session.export_path_file("trajectory")
    doc = json.loads(file.read_text())
    assert doc["interpolation"]["tension"] == 0.4 and len(doc["keyframes"]) == 6
    fresh = StudioSession()
    try:
        fresh.import_path_file(file)
        assert fresh.path.settings == session.path.settings
        assert all(torch.equal(a.c2w, b.c2w) for a, b in zip(fresh.path.keyframes, session.path.keyframes))
    finally:
        fresh.close()


def test_realestate10k_file_imports_as_a_path(session):
    msg = session.import_path_file(RE10K / "0bf152ef84195293.txt")
    assert "16 frames" in msg
    assert session.path.settings.num_frames == 17 and len(session.path.cameras()) == 17


def test_bad_files_raise_and_keep_the_path(session, tmp_path):
    session.apply_preset("orbit", {})
    snap = session.path.snapshot
    bad = {"notes.json": '{"hello": 1}', "broken.json": "{not json", "camera_path.json": '{"camera_path": []}',
           "poses.txt": "http://x\n1 2 3\n", "image.png": "PNG"}
    for name, text in bad.items():
        f = tmp_path / name
        f.write_text(text)
        assert not session.guarded(lambda: session.import_path_file(f), what="import"), name
        assert name in session.notice.text
    assert session.path.snapshot is snap


def test_trajectory_with_repeated_cameras_keeps_distinct_keyframes():
    cams = load_cameras(RE10K / "0bf152ef84195293.txt", width=64, height=64)
    doubled = cams[[0, 0, 1, 1, 2]]
    kfs = keyframes_from_trajectory(doubled, keep_all=True)
    assert len(kfs) == 3
    with pytest.raises(PathError):
        keyframes_from_trajectory(cams[[0, 0, 0]], keep_all=True)


def test_colmap_models_are_refused_as_paths(tmp_path):
    (tmp_path / "cameras.txt").write_text("# Camera list\n")
    with pytest.raises(CameraFileError, match="COLMAP"):
        import_path(tmp_path / "cameras.txt", width=32, height=32, current=StudioSession().path.settings)


@pytest.mark.parametrize("fmt", ["re10k", "transforms", "trajectory_frames"])
def test_per_frame_file_comes_back_exactly_whatever_the_settings(session, tmp_path, fmt):
    """A file with one camera per model frame reopens as those frames, even with constant speed and loop left
    on and uneven timestamps (frames speeding up along an orbit, timestamps jittered)."""
    from geometry import save_cameras

    session.apply_preset("orbit", {}, count=8)
    dense = session.path.cameras(num_frames=81)
    frames = dense[np.round(np.linspace(0, 1, 9) ** 2 * 80).astype(int).tolist()]
    jitter = torch.tensor([0, 0.01, -0.01, 0.02, 0, 0.01, -0.02, 0, 0], dtype=torch.float64)
    frames = dataclasses.replace(frames, timestamps=torch.arange(9, dtype=torch.float64) / 8 + jitter)
    file = tmp_path / ("cams.txt" if fmt == "re10k" else "cams.json")
    save_cameras(frames, file, format="trajectory" if fmt == "trajectory_frames" else fmt,
                 **({} if fmt == "transforms" else {"fps": 8}))
    expected = load_cameras(file, width=32, height=32) if fmt == "re10k" else load_cameras(file)

    fresh = StudioSession()
    try:
        fresh.path.set_settings(constant_speed=True, loop=True, tension=0.5)
        msg = fresh.import_path_file(file)
        assert "come back exactly" in msg and "constant speed and loop switched off" in msg
        back = fresh.path.cameras()
        assert torch.allclose(back.c2w, expected.c2w.double(), atol=1e-9)
        assert torch.allclose(back.fov_y, expected.fov_y.double(), atol=1e-9)
        again = fresh.export_path_file(fmt if fmt != "trajectory_frames" else "transforms")
        assert torch.allclose(load_cameras(again, width=32, height=32).c2w.double(), expected.c2w.double(),
                              atol=1e-6)                # what the issue measured: the re-exported cameras
    finally:
        fresh.close()


def test_presets_use_their_own_fov_unless_asked(session):
    session.apply_preset("dolly_zoom", {})
    session.path.select(len(session.path) - 1)
    wide = session.path.keyframes[-1].fov_y_deg
    assert wide > 80                                   # a dolly-zoom ends wide ...
    session.apply_preset("orbit", {})
    assert {round(kf.fov_y_deg, 6) for kf in session.path.keyframes} == {50.0}   # ... the next preset does not copy it
    session.apply_preset("orbit", {}, fov_y_deg=35.0)
    assert {round(kf.fov_y_deg, 6) for kf in session.path.keyframes} == {35.0}
    with pytest.raises(ValueError, match="between 0 and 180"):
        session.apply_preset("orbit", {}, fov_y_deg=200.0)


def test_inserting_a_preset_that_turns_in_place_warns(session):
    from geometry import Keyframe

    session.path.add(Keyframe.look_at([0.0, 0.0, 0.0], [0.0, 0.0, 1.0]))
    session.path.add(Keyframe.look_at([1.0, 0.0, 0.0], [1.0, 0.0, 1.0]))     # faces +z, not the look-at point
    session.set_look_at([4.0, 0.0, 0.0])
    assert session.apply_preset("orbit", {"degrees": 90.0}, mode="insert", count=3) is None
    assert session.notice.level == "warning"
    assert "Keyframes 2 and 3 are at the same spot: the path turns in place" in session.notice.text
    session.path.select(len(session.path) - 1)           # the orbit's end faces the point: no turn
    assert "inserted after keyframe" in session.apply_preset("pan", {}, mode="insert", count=2)
