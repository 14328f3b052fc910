"""The studio's editable camera path: keyframe editing, undo/redo, settings and the cameras it sends."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from geometry import Keyframe, interpolate
from studio.camera_path import CameraPath, PathError, PathSettings, keyframe_look_at


def kf(x: float, z: float = 0.0, fov: float = 50.0) -> Keyframe:
    return Keyframe.look_at([x, 0.0, z], [0.0, 0.0, 5.0], fov_y_deg=fov)


@pytest.fixture
def path() -> CameraPath:
    return CameraPath(width=32, height=32)


def test_add_select_insert_after_selection(path):
    assert path.add(kf(0)) == 0
    assert path.add(kf(1)) == 1
    path.select(0)
    assert path.add(kf(2)) == 1          # after the selected keyframe
    assert [float(k.position[0]) for k in path.keyframes] == [0, 2, 1]
    assert path.selected == 1


def test_cameras_are_exactly_the_interpolation(path):
    for x in (0, 1, 2):
        path.add(kf(x))
    path.set_settings(num_frames=13, fps=10, tension=0.3, constant_speed=True)
    cams = path.cameras()
    ref = interpolate(list(path.keyframes), 13, width=32, height=32, tension=0.3, constant_speed=True, fps=10)
    assert torch.equal(cams.c2w, ref.c2w) and torch.equal(cams.K, ref.K)
    assert path.cameras() is cams           # cached until the next edit
    path.set_settings(tension=0.0)
    assert path.cameras() is not cams


def test_undo_redo_every_edit(path):
    path.add(kf(0))
    path.add(kf(1))
    path.add(kf(2))
    path.edit(1, fov_y_deg=30.0)
    path.move(1, -1)
    path.delete(2)
    snapshots = []
    while path.can_undo:
        snapshots.append([(float(k.position[0]), k.fov_y_deg) for k in path.keyframes])
        path.undo()
    assert len(path) == 0 and len(snapshots) == 6
    for expected in reversed(snapshots):
        path.redo()
        assert [(float(k.position[0]), k.fov_y_deg) for k in path.keyframes] == expected
    assert not path.can_redo


def test_a_new_edit_clears_redo(path):
    path.add(kf(0))
    path.undo()
    assert path.can_redo
    path.add(kf(1))
    assert not path.can_redo


def test_numeric_edit_position_look_at_roll(path):
    path.add(kf(0))
    path.add(kf(1))
    path.edit(0, position=[1.0, -1.0, 0.0], look_at=[1.0, -1.0, 4.0], roll_deg=15.0)
    k = path.keyframes[0]
    assert np.allclose(k.position.numpy(), [1, -1, 0])
    assert np.allclose(k.forward.numpy(), [0, 0, 1])
    assert k.roll_deg == pytest.approx(15.0)
    assert np.allclose(keyframe_look_at(k, [1.0, -1.0, 4.0]), [1, -1, 4])


def test_fov_and_duration_edits_keep_the_pose(path):
    path.add(kf(0))
    before = path.keyframes[0].c2w.clone()
    path.edit(0, fov_y_deg=20.0, duration=2.5)
    assert torch.equal(path.keyframes[0].c2w, before)
    assert path.keyframes[0].fov_y_deg == 20.0 and path.keyframes[0].duration == 2.5


def test_bad_edits_raise_and_change_nothing(path):
    path.add(kf(0))
    snap = path.snapshot
    with pytest.raises(PathError):
        path.edit(0, fov_y_deg=200.0)
    with pytest.raises(PathError):
        path.edit(0, position=[0, 0, 5], look_at=[0, 0, 5])
    with pytest.raises(PathError):
        path.set_settings(num_frames=10)
    with pytest.raises(PathError):
        path.edit(3, fov_y_deg=20.0)
    assert path.snapshot is snap


@pytest.mark.parametrize("n, message", [(0, "at least 2 keyframes"), (1, "at least 2 keyframes")])
def test_too_few_keyframes(path, n, message):
    for i in range(n):
        path.add(kf(i))
    with pytest.raises(PathError, match=message):
        path.cameras()
    assert path.try_cameras() is None


def test_coincident_keyframes_are_a_clear_error(path):
    path.add(kf(0))
    path.add(kf(0))
    with pytest.raises(PathError, match="degenerate: keyframes 1 and 2 are the same camera"):   # as the table counts
        path.cameras()
    path.add(kf(1), index=0)
    with pytest.raises(PathError, match="keyframes 2 and 3 are the same camera.*move or delete keyframe 3"):
        path.cameras()


def test_gizmo_drag_is_one_undo_step(path):
    path.add(kf(0))
    path.add(kf(1))
    start = path.keyframes[0].c2w.clone()
    path.checkpoint()
    for dx in (0.1, 0.2, 0.3):
        c2w = start.clone()
        c2w[0, 3] += dx
        path.set_pose(0, c2w, record=False)
    path.undo()
    assert torch.equal(path.keyframes[0].c2w, start)


def test_listeners_and_revision(path):
    heard = []
    path.subscribe(lambda: heard.append(path.revision))
    path.add(kf(0))
    path.select(0)          # already selected: nothing happens
    path.add(kf(1))
    path.select(0)
    assert heard == [1, 2, 3]


def test_settings_validation():
    assert PathSettings(num_frames=49).num_frames == 49
    for bad in ({"num_frames": 8}, {"num_frames": 1}, {"num_frames": 53}, {"fps": 0}, {"tension": 2}):
        with pytest.raises(PathError):
            PathSettings(**bad)


def test_rows_mark_selection_and_last_transition(path):
    path.add(kf(0))
    path.add(kf(1))
    rows = path.rows([0, 0, 5])
    assert rows[1][0] == "▶ 2" and rows[0][-1] == "1" and rows[1][-1] == ""
