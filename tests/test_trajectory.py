"""Trajectory authoring: keyframes, spline interpolation, presets, random walks.

The studio sends exactly these cameras to the model, so the tests pin what a user sees:
keyframes are hit bit for bit, rotations never flip, speed is even when asked, loops close
smoothly, and every preset does the move its name promises.
"""

from __future__ import annotations

import inspect
import json
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import geometry as g
from geometry import trajectory as tr

W, H = 64, 48
seeds = st.integers(min_value=0, max_value=2**31 - 1)
tensions = st.sampled_from([-1.0, -0.5, 0.0, 0.5, 1.0])


# --------------------------------------------------------------------------------------
# Builders and measurements
# --------------------------------------------------------------------------------------

def random_keyframes(seed: int, n: int, *, max_turn_deg: float = 80.0, durations=None) -> list[tr.Keyframe]:
    """``n`` keyframes at random positions in [-2, 2]^3, each turned 5..max_turn_deg from the previous,
    random FOV in [30, 80]."""
    rng = np.random.default_rng(seed)
    R = g.axis_angle_to_matrix(torch.from_numpy(rng.normal(size=3)))
    kfs = []
    for k in range(n):
        if k:
            axis = rng.normal(size=3)
            angle = math.radians(rng.uniform(5.0, max_turn_deg))
            R = R @ g.axis_angle_to_matrix(torch.from_numpy(axis / np.linalg.norm(axis) * angle))
        c2w = g.make_pose(R, torch.from_numpy(rng.uniform(-2, 2, 3)))
        kfs.append(tr.Keyframe(c2w, rng.uniform(30, 80), duration=None if durations is None else durations[k]))
    return kfs


def yaw_keyframe(deg: float, position=(0.0, 0.0, 0.0), fov: float = 50.0) -> tr.Keyframe:
    """Camera at ``position`` turned ``deg`` about WORLD_UP from looking down +z."""
    R = g.axis_angle_to_matrix(torch.tensor(g.WORLD_UP, dtype=torch.float64) * math.radians(deg))
    return tr.Keyframe(g.make_pose(R, torch.tensor(position, dtype=torch.float64)), fov)


def step_angles_deg(cams: g.Cameras) -> torch.Tensor:
    """(N - 1,) rotation between consecutive frames."""
    return g.relative_rotation_angle_deg(cams.R[:-1], cams.R[1:])


def step_lengths(cams: g.Cameras) -> torch.Tensor:
    """(N - 1,) distance between consecutive camera centres."""
    return torch.linalg.vector_norm(cams.centers[1:] - cams.centers[:-1], dim=-1)


def second_differences(x: torch.Tensor) -> torch.Tensor:
    """(N - 2,) norms of x[i+1] - 2 x[i] + x[i-1] for x (N, D)."""
    return torch.linalg.vector_norm(x[2:] - 2 * x[1:-1] + x[:-2], dim=-1)


def project(cams: g.Cameras, point) -> torch.Tensor:
    """(N, 2) pixel coordinates of a world point (3,) in every frame, and (N,) its depth."""
    p = torch.as_tensor(point, dtype=cams.dtype)
    cam = (cams.R.transpose(-1, -2) @ (p - cams.centers)[..., None])[..., 0]  # (N, 3)
    uvw = (cams.K @ cam[..., None])[..., 0]
    return uvw[:, :2] / uvw[:, 2:], cam[:, 2]


def assert_orthonormal(cams: g.Cameras) -> None:
    R = cams.R
    eye = torch.eye(3, dtype=R.dtype)
    assert float((R.transpose(-1, -2) @ R - eye).abs().max()) < 1e-12
    assert float((torch.linalg.det(R) - 1).abs().max()) < 1e-12


def in_frame(R: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """World vector (3,) in the axes of a camera with rotation R (3, 3)."""
    return R.T @ v


# --------------------------------------------------------------------------------------
# Keyframe
# --------------------------------------------------------------------------------------

def test_keyframe_dict_round_trip_is_plain_json():
    kf = tr.Keyframe.look_at([1.0, -0.5, 0.2], [0.0, 0.0, 3.0], fov_y_deg=35.0, roll_deg=12.0, time=0.5,
                             duration=2.0)
    d = json.loads(json.dumps(kf.to_dict()))
    assert set(d) == {"c2w", "fov_y_deg", "time", "duration"}
    back = tr.Keyframe.from_dict(d)
    assert torch.equal(back.c2w, kf.c2w)
    assert (back.fov_y_deg, back.time, back.duration) == (35.0, 0.5, 2.0)
    flat = dict(d, c2w=np.asarray(d["c2w"]).reshape(-1).tolist())  # row-major flat 16 is accepted
    assert torch.equal(tr.Keyframe.from_dict(flat).c2w, kf.c2w)
    bare = tr.Keyframe.from_dict({"c2w": d["c2w"]})
    assert bare.time is None and bare.duration is None and bare.fov_y_deg == tr.DEFAULT_FOV_Y_DEG


@settings(max_examples=30, deadline=None)
@given(seed=seeds, roll=st.floats(-179.0, 179.0), dist=st.floats(0.5, 5.0))
def test_keyframe_look_at_accessors(seed, roll, dist):
    rng = np.random.default_rng(seed)
    eye = rng.uniform(-3, 3, 3)
    direction = rng.normal(size=3)
    direction[1] *= 0.3  # keep clear of looking straight along WORLD_UP
    target = eye + dist * direction / np.linalg.norm(direction)
    kf = tr.Keyframe.look_at(eye, target, roll_deg=roll)
    assert torch.allclose(kf.position, torch.from_numpy(eye), atol=1e-12)
    assert torch.allclose(kf.target(dist), torch.from_numpy(target), atol=1e-9)
    assert kf.roll_deg == pytest.approx(roll, abs=1e-8)
    # the roll turns the camera about its view axis only
    upright = tr.Keyframe.look_at(eye, target)
    assert upright.roll_deg == pytest.approx(0.0, abs=1e-9)
    assert torch.allclose(upright.c2w, g.look_at(torch.from_numpy(eye), torch.from_numpy(target)), atol=1e-15)
    assert torch.allclose(kf.forward, upright.forward, atol=1e-12)


def test_roll_sign_is_clockwise_from_behind():
    kf = tr.Keyframe.look_at([0, 0, 0], [0, 0, 1], roll_deg=90.0)
    # clockwise seen from behind: the camera's right axis swings to image-down (+y, since the camera looks down +z)
    assert torch.allclose(kf.c2w[:3, 0], torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64), atol=1e-12)


@settings(max_examples=15, deadline=None)
@given(seed=seeds, loop=st.booleans())
def test_moving_all_keyframes_moves_the_path_rigidly(seed, loop):
    kfs = random_keyframes(seed, 4)
    rng = np.random.default_rng(seed + 1)
    T = g.make_pose(g.axis_angle_to_matrix(torch.from_numpy(rng.normal(size=3))), torch.from_numpy(rng.normal(size=3)))
    a = tr.interpolate(kfs, 30, width=W, height=H, loop=loop)
    b = tr.interpolate([kf.transformed(T) for kf in kfs], 30, width=W, height=H, loop=loop)
    assert torch.allclose(b.c2w, T @ a.c2w, atol=1e-10)
    assert torch.allclose(b.K, a.K)


# --------------------------------------------------------------------------------------
# interpolate
# --------------------------------------------------------------------------------------

@settings(max_examples=30, deadline=None)
@given(seed=seeds, n=st.integers(2, 6), tension=tensions, loop=st.booleans(), explicit_times=st.booleans(),
       constant_fps=st.booleans())
def test_interpolation_hits_every_keyframe_exactly_at_its_time(seed, n, tension, loop, explicit_times, constant_fps):
    rng = np.random.default_rng(seed)
    frames_per_transition = rng.integers(1, 7, n)  # uneven transitions, whole frames at 4 fps
    durations = frames_per_transition * 0.25
    kfs = random_keyframes(seed, n, durations=durations.tolist())
    starts = np.concatenate([[0.0], np.cumsum(durations)])
    if explicit_times:  # the same timing, stated as times starting at 1.5 s
        kfs = [tr.Keyframe(kf.c2w, kf.fov_y_deg, time=1.5 + starts[k], duration=kf.duration if k == n - 1 else None)
               for k, kf in enumerate(kfs)]
    num_frames = int(frames_per_transition[: n if loop else n - 1].sum()) + (0 if loop else 1)  # >= 2
    cams = tr.interpolate(kfs, num_frames, width=W, height=H, tension=tension, loop=loop,
                          fps=4.0 if constant_fps else None)
    assert cams.c2w.shape == (num_frames, 4, 4) and cams.dtype == torch.float64
    frame_of_key = np.concatenate([[0], np.cumsum(frames_per_transition)])[:n]
    for k, (kf, i) in enumerate(zip(kfs, frame_of_key)):
        assert torch.equal(cams.c2w[i], kf.c2w)
        assert torch.equal(cams.K[i], g.Cameras.from_fov(kf.c2w, fov_y_deg=kf.fov_y_deg, width=W, height=H).K)
        want_time = i / 4.0 if constant_fps else (1.5 if explicit_times else 0.0) + starts[k]
        assert float(cams.timestamps[i]) == want_time
    assert_orthonormal(cams)


@settings(max_examples=30, deadline=None)
@given(seed=seeds, n=st.integers(2, 6), tension=tensions, loop=st.booleans(), constant_speed=st.booleans())
def test_rotations_stay_orthonormal_and_never_flip(seed, n, tension, loop, constant_speed):
    kfs = random_keyframes(seed, n, max_turn_deg=80.0)
    per_segment = 20
    num_frames = per_segment * (n if loop else n - 1) + (0 if loop else 1)
    cams = tr.interpolate(kfs, num_frames, width=W, height=H, tension=tension, loop=loop,
                          constant_speed=constant_speed)
    assert_orthonormal(cams)
    pairs = list(zip(kfs, kfs[1:])) + ([(kfs[-1], kfs[0])] if loop else [])
    widest = max(float(g.relative_rotation_angle_deg(a.c2w[:3, :3], b.c2w[:3, :3])) for a, b in pairs)
    steps = step_angles_deg(cams)
    if loop:
        steps = torch.cat([steps, g.relative_rotation_angle_deg(cams.R[-1:], cams.R[:1])])
    # A flip turns the long way round a transition: >= 360 - 2 * 80 = 200 degrees more than needed.
    # Splines overshoot a little (loose tension: up to ~60 degrees over the whole path here).
    shortest = sum(float(g.relative_rotation_angle_deg(a.c2w[:3, :3], b.c2w[:3, :3])) for a, b in pairs)
    assert float(steps.sum()) < shortest + 120.0
    # Per frame: spline speed varies (up to ~2x the mean here); a flip is >= 280 degrees per 20 frames.
    if not constant_speed:  # (arc length by position may bunch up a turn, which is not a flip)
        assert float(steps.max()) < 2.5 * widest / per_segment


def test_no_flip_where_the_quaternion_sign_changes():
    # 170 -> 190 degrees of yaw crosses w = 0: the canonical (w >= 0) quaternions are q and about -q.
    yaws = [0.0, 80.0, 170.0, 190.0, 260.0]
    kfs = [yaw_keyframe(y, position=(0.1 * i, 0.0, 0.0)) for i, y in enumerate(yaws)]
    q = g.matrix_to_quaternion(torch.stack([kf.c2w[:3, :3] for kf in kfs]))
    assert float(q[2] @ q[3]) < 0  # the input really flips sign
    cams = tr.interpolate(kfs, 81, width=W, height=H)
    steps = step_angles_deg(cams)
    assert float(steps.sum()) == pytest.approx(260.0, rel=0.02)  # not 260 + 360
    assert float(steps.max()) < 2.0 * 90.0 / 20


def test_align_quaternion_signs_undoes_q_minus_q():
    q = g.matrix_to_quaternion(g.axis_angle_to_matrix(torch.tensor([0.3, -0.2, 0.1], dtype=torch.float64))).numpy()
    aligned = tr.align_quaternion_signs(np.stack([q, -q, q, -q]))
    assert np.array_equal(aligned, np.stack([q, q, q, q]))


def _uneven_keyframes() -> list[tr.Keyframe]:
    """A gently curving forward path whose keyframes are 1 or 3 units apart (1 s each)."""
    centres = [(0.0, 0.0, 0.0), (0.2, 0.0, 1.0), (0.8, -0.1, 4.0), (1.2, -0.2, 5.0), (1.4, -0.2, 8.0)]
    return [tr.Keyframe.look_at(c, np.add(c, (0.1 * i, 0.0, 1.0))) for i, c in enumerate(centres)]


def test_constant_speed_evens_out_uneven_keyframe_spacing():
    kfs = _uneven_keyframes()
    timed = step_lengths(tr.interpolate(kfs, 80, width=W, height=H))
    even = tr.interpolate(kfs, 80, width=W, height=H, constant_speed=True)
    steps = step_lengths(even)
    assert float(timed.max() / timed.min()) > 2.0  # keyframe timing alone makes the speed vary
    assert float(steps.max() / steps.min()) < 1.05
    # Arc length reparametrisation changes timing, not the path: the ends are still the keyframes.
    assert torch.equal(even.c2w[0], kfs[0].c2w) and torch.equal(even.c2w[-1], kfs[-1].c2w)
    assert float(even.timestamps[-1]) == 4.0


def test_constant_speed_of_a_pure_pan_uses_the_turn_angle():
    kfs = [yaw_keyframe(0.0), yaw_keyframe(25.0), yaw_keyframe(80.0), yaw_keyframe(100.0)]
    timed = step_angles_deg(tr.interpolate(kfs, 60, width=W, height=H))
    even = step_angles_deg(tr.interpolate(kfs, 60, width=W, height=H, constant_speed=True))
    assert float(timed.max() / timed.min()) > 2.0
    assert float(even.max() / even.min()) < 1.05


def test_constant_speed_of_a_pure_zoom_is_even_in_log_focal():
    kfs = [yaw_keyframe(0.0, fov=60.0), yaw_keyframe(0.0, fov=55.0), yaw_keyframe(0.0, fov=20.0)]
    cams = tr.interpolate(kfs, 40, width=W, height=H, constant_speed=True)
    dlog = torch.diff(torch.log(cams.K[:, 1, 1]))
    assert float(dlog.max() / dlog.min()) < 1.05


@pytest.mark.parametrize("durations", [(1.0, 1.0, 1.0, 1.0), (1.0, 2.0, 0.5, 1.5)])
def test_loop_closes_smoothly(durations):
    # A full turn around a centre: the last keyframe's quaternion is nearer -q0, exercising the sign twist.
    centre = np.array([0.0, 0.0, 2.0])
    yaws = [0.0, 90.0, 180.0, 270.0]
    kfs = []
    for y, d in zip(yaws, durations):
        a = math.radians(y)
        eye = centre + 2.0 * np.array([math.sin(a), 0.3, -math.cos(a)])
        kfs.append(tr.Keyframe.look_at(eye, centre, duration=d))
    n = 64
    cams = tr.interpolate(kfs, n, width=W, height=H, loop=True)
    assert len(cams) == n
    assert not torch.allclose(cams.c2w[-1], cams.c2w[0])  # the start is not repeated
    closed = torch.cat([cams.centers, cams.centers[:2]])  # wrap around: ..., N-1, 0, 1
    d1 = torch.linalg.vector_norm(torch.diff(closed, dim=0), dim=-1)  # last entries: N-1 -> 0 -> 1
    d2 = second_differences(closed)
    interior = d2[:-2]
    assert float(d2[-2:].max()) < 1.5 * float(interior.max())  # no kink at the seam
    assert float(d1[-2]) < 1.5 * float(d1[:-2].max()) and float(d1[-2]) > 0.5 * float(d1[:-2].min())
    # rotations close too, without spinning round
    seam = float(g.relative_rotation_angle_deg(cams.R[-1], cams.R[0]))
    assert seam < 1.5 * float(step_angles_deg(cams).max())
    if len(set(durations)) == 1:  # evenly timed and symmetric: the step into keyframe 0 is the step into keyframe 1
        assert float(d1[-2]) == pytest.approx(float(d1[n // 4 - 1]), rel=1e-9)


@settings(max_examples=15, deadline=None)
@given(seed=seeds, n=st.integers(3, 6), loop=st.booleans())
def test_tension_bends_the_path_but_not_the_keyframes(seed, n, loop):
    kfs = random_keyframes(seed, n)
    per = 8
    num_frames = per * (n if loop else n - 1) + (0 if loop else 1)
    loose = tr.interpolate(kfs, num_frames, width=W, height=H, tension=0.0, loop=loop)
    tight = tr.interpolate(kfs, num_frames, width=W, height=H, tension=0.7, loop=loop)
    assert float((loose.centers - tight.centers).abs().max()) > 1e-3
    for k in range(n):
        assert torch.equal(loose.c2w[k * per], tight.c2w[k * per])
        assert torch.equal(loose.c2w[k * per], kfs[k].c2w)


def test_two_keyframes_are_a_straight_line_at_constant_speed():
    kfs = [tr.Keyframe.look_at([0, 0, 0], [0, 0, 1]), tr.Keyframe.look_at([2, 0, 1], [2, 0, 2])]
    cams = tr.interpolate(kfs, 11, width=W, height=H)
    want = torch.linspace(0, 1, 11, dtype=torch.float64)[:, None] * torch.tensor([2.0, 0.0, 1.0], dtype=torch.float64)
    assert torch.allclose(cams.centers, want, atol=1e-12)


def test_fov_follows_keyframes_and_stays_valid_with_loose_tension():
    kfs = [yaw_keyframe(0.0, fov=170.0), yaw_keyframe(5.0, fov=10.0), yaw_keyframe(10.0, fov=170.0)]
    cams = tr.interpolate(kfs, 41, width=W, height=H, tension=-1.0)
    fov = torch.rad2deg(cams.fov_y)
    assert float(fov.min()) > 0 and float(fov.max()) < 180
    assert float(fov[20]) == pytest.approx(10.0, abs=1e-9)


# --------------------------------------------------------------------------------------
# Presets
# --------------------------------------------------------------------------------------

EYE = (1.0, -0.5, -2.0)
TARGET = (0.2, 0.3, 1.5)
LOOKS_AT_TARGET = {"static", "orbit", "arc_left", "arc_right", "dolly_in", "dolly_out", "zoom", "dolly_zoom",
                   "spiral", "lemniscate", "roll"}


def run_preset(name: str, **kw) -> g.Cameras:
    return tr.PRESETS[name](eye=EYE, target=TARGET, num_frames=kw.pop("num_frames", 17), width=W, height=H, fps=8.0,
                            **kw)


def test_preset_registry_is_complete_and_keyword_only():
    expected = {"static", "orbit", "arc_left", "arc_right", "dolly_in", "dolly_out", "truck", "pedestal", "pan",
                "tilt", "roll", "zoom", "dolly_zoom", "spiral", "lemniscate"}
    assert set(tr.PRESETS) == expected
    for name, fn in tr.PRESETS.items():
        params = inspect.signature(fn).parameters.values()
        assert all(p.kind is inspect.Parameter.KEYWORD_ONLY and p.default is not inspect.Parameter.empty
                   for p in params), name
        assert {"eye", "target", "num_frames", "fov_y_deg", "width", "height"} <= {p.name for p in params}
        assert len(fn()) == tr.DEFAULT_NUM_FRAMES


@pytest.mark.parametrize("name", sorted(tr.PRESETS))
def test_every_preset_has_the_frames_asked_for_and_rigid_poses(name):
    cams = run_preset(name)
    assert cams.c2w.shape == (17, 4, 4) and (cams.width, cams.height) == (W, H)
    assert_orthonormal(cams)
    assert torch.equal(cams.timestamps, torch.arange(17, dtype=torch.float64) / 8.0)
    start = g.look_at(torch.tensor(EYE, dtype=torch.float64), torch.tensor(TARGET, dtype=torch.float64))
    assert torch.allclose(cams.c2w[0], start, atol=1e-12)  # every move starts at the given camera
    uv, _ = project(cams, TARGET)
    centred = torch.allclose(uv, torch.tensor([W / 2, H / 2], dtype=torch.float64), atol=1e-9)
    assert centred == (name in LOOKS_AT_TARGET)


@pytest.mark.parametrize("name,kw", [("orbit", {}), ("orbit", {"degrees": -120.0}), ("arc_left", {}),
                                     ("arc_right", {"degrees": 70.0})])
def test_orbits_keep_radius_and_height(name, kw):
    cams = run_preset(name, **kw)
    up = torch.tensor(g.WORLD_UP, dtype=torch.float64)
    offset = cams.centers - torch.tensor(TARGET, dtype=torch.float64)
    height = offset @ up
    radius = torch.linalg.vector_norm(offset - height[:, None] * up, dim=-1)
    assert torch.allclose(radius, radius[0].expand_as(radius), atol=1e-12)
    assert torch.allclose(height, height[0].expand_as(height), atol=1e-12)
    assert float(step_lengths(cams).min()) > 0


def test_full_orbit_loops_without_repeating_its_first_frame():
    cams = run_preset("orbit", num_frames=24)
    steps = torch.cat([step_lengths(cams), torch.linalg.vector_norm(cams.centers[:1] - cams.centers[-1:], dim=-1)])
    assert torch.allclose(steps, steps[0].expand_as(steps), rtol=1e-9)


def test_spiral_changes_radius_and_height_steadily():
    cams = run_preset("spiral", degrees=540.0, end_radius_scale=0.4, rise=1.0)
    up = torch.tensor(g.WORLD_UP, dtype=torch.float64)
    offset = cams.centers - torch.tensor(TARGET, dtype=torch.float64)
    height = offset @ up
    radius = torch.linalg.vector_norm(offset - height[:, None] * up, dim=-1)
    assert float(radius[-1] / radius[0]) == pytest.approx(0.4, rel=1e-9)
    assert float(height[-1] - height[0]) == pytest.approx(1.0, rel=1e-9)
    assert bool((torch.diff(radius) < 0).all()) and bool((torch.diff(height) > 0).all())


@pytest.mark.parametrize("direction,distance", [("in", None), ("in", 2.5), ("out", 3.0)])
def test_dolly_zoom_keeps_the_target_size(direction, distance):
    cams = run_preset("dolly_zoom", direction=direction, distance=distance)
    _, depth = project(cams, TARGET)
    size = 0.7  # any object size at the target: its image size is focal * size / depth
    image_size = cams.K[:, 1, 1] * size / depth
    assert torch.allclose(image_size, image_size[0].expand_as(image_size), rtol=1e-12)
    assert float((depth[-1] - depth[0]) * (1 if direction == "out" else -1)) > 0.5  # it really moves
    fov = torch.rad2deg(cams.fov_y)
    assert (float(fov[-1]) > float(fov[0])) == (direction == "in")  # moving in widens the view


@pytest.mark.parametrize("name", ["pan", "tilt", "roll"])
def test_rotations_in_place_keep_the_centre(name):
    cams = run_preset(name)
    assert torch.allclose(cams.centers, cams.centers[0].expand_as(cams.centers), atol=1e-15)
    assert float(g.relative_rotation_angle_deg(cams.R[0], cams.R[-1])) > 10


def test_zoom_keeps_the_pose_and_scales_the_focal_length():
    zin = run_preset("zoom", factor=3.0)
    zout = run_preset("zoom", direction="out", factor=3.0)
    for cams, ratio in ((zin, 3.0), (zout, 1 / 3)):
        assert torch.equal(cams.c2w, cams.c2w[0].expand_as(cams.c2w))
        assert float(cams.K[-1, 1, 1] / cams.K[0, 1, 1]) == pytest.approx(ratio, rel=1e-12)
        steps = torch.diff(torch.log(cams.K[:, 1, 1]))
        assert torch.allclose(steps, steps[0].expand_as(steps), rtol=1e-9)  # a steady zoom rate


def test_translations_keep_the_orientation():
    for name in ("truck", "pedestal", "dolly_in", "dolly_out"):
        cams = run_preset(name)
        assert torch.equal(cams.R, cams.R[0].expand_as(cams.R)), name
        assert float(step_lengths(cams).min()) > 0, name


@pytest.mark.parametrize("name,kw,axis,sign", [
    # what moves in the start camera's own axes (x right, y down, z forward)
    ("arc_right", {}, "centre_x", 1), ("arc_left", {}, "centre_x", -1),
    ("truck", {}, "centre_x", 1), ("truck", {"direction": "left"}, "centre_x", -1),
    ("pedestal", {}, "centre_y", -1), ("pedestal", {"direction": "down"}, "centre_y", 1),
    ("dolly_in", {}, "centre_z", 1), ("dolly_out", {}, "centre_z", -1),
    ("pan", {}, "forward_x", 1), ("pan", {"direction": "left"}, "forward_x", -1),
    ("tilt", {}, "forward_y", -1), ("tilt", {"direction": "down"}, "forward_y", 1),
    ("roll", {}, "right_y", 1), ("roll", {"direction": "counterclockwise"}, "right_y", -1),
    ("spiral", {"rise": 1.0}, "centre_y", -1),
])
def test_preset_directions_mean_what_they_say(name, kw, axis, sign):
    cams = run_preset(name, **kw)
    R0 = cams.R[0]
    vec = {"centre": cams.centers[-1] - cams.centers[0], "forward": cams.R[-1][:, 2], "right": cams.R[-1][:, 0]}
    what, component = axis.split("_")
    value = float(in_frame(R0, vec[what])["xyz".index(component)])
    assert value * sign > 1e-3


def test_lemniscate_is_a_closed_figure_eight_through_the_eye():
    cams = run_preset("lemniscate", num_frames=32)
    eye = torch.tensor(EYE, dtype=torch.float64)
    assert torch.allclose(cams.centers[16], eye, atol=1e-12)  # it crosses itself at the eye half way
    local = (cams.R[0].T @ (cams.centers - eye)[..., None])[..., 0]  # in the start camera's axes
    left, right = local[:, 0] < -1e-9, local[:, 0] > 1e-9
    assert bool(left.any()) and bool(right.any())  # both lobes
    wrap = float(torch.linalg.vector_norm(cams.centers[0] - cams.centers[-1]))
    assert wrap < 1.5 * float(step_lengths(cams).max())  # closes back to the start


def test_preset_becomes_keyframes_that_reproduce_it():
    orbit = tr.orbit(eye=EYE, target=TARGET, num_frames=48, width=W, height=H, fps=24.0)
    kfs = tr.keyframes_from_cameras(orbit, every=6)
    assert len(kfs) == 9 and [kf.time for kf in kfs] == [i / 24.0 for i in (*range(0, 48, 6), 47)]
    kfs = tr.keyframes_from_cameras(orbit, indices=range(0, 48, 6))  # a closed orbit: no last frame
    for kf, i in zip(kfs, range(0, 48, 6)):
        assert torch.equal(kf.c2w, orbit.c2w[i]) and kf.fov_y_deg == pytest.approx(tr.DEFAULT_FOV_Y_DEG, abs=1e-12)
    again = tr.interpolate(kfs, 48, width=W, height=H, loop=True)
    assert torch.equal(again.c2w[::6], orbit.c2w[::6])
    assert torch.allclose(again.timestamps, orbit.timestamps, atol=1e-12)
    radius = torch.linalg.vector_norm(again.centers - torch.tensor(TARGET, dtype=torch.float64), dim=-1)
    r0 = float(radius[0])
    assert float((radius - r0).abs().max()) < 0.02 * r0  # Catmull-Rom through 8 points hugs the circle


def test_keyframes_to_cameras_shows_the_keyframes():
    kfs = random_keyframes(3, 4)
    cams = tr.keyframes_to_cameras(kfs, width=W, height=H)
    assert torch.equal(cams.c2w, torch.stack([kf.c2w for kf in kfs]))
    assert cams.timestamps is None


# --------------------------------------------------------------------------------------
# Random walks
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", tr.WALK_KINDS)
def test_random_walk_is_deterministic_per_seed(kind):
    a = tr.random_walk(kind, 33, seed=7)
    b = tr.random_walk(kind, 33, seed=7)
    c = tr.random_walk(kind, 33, generator=np.random.default_rng(7))
    d = tr.random_walk(kind, 33, seed=8)
    assert torch.equal(a.c2w, b.c2w) and torch.equal(a.c2w, c.c2w)
    assert float((a.c2w - d.c2w).abs().max()) > 1e-3
    assert len(a) == 33 and torch.equal(a.c2w[0], g.look_at(torch.zeros(3, dtype=torch.float64),
                                                           torch.tensor([0.0, 0.0, 2.0], dtype=torch.float64)))


@settings(max_examples=25, deadline=None)
@given(seed=seeds, kind=st.sampled_from(tr.WALK_KINDS))
def test_random_walk_is_smooth(seed, kind):
    cams = tr.random_walk(kind, 49, seed=seed)
    assert_orthonormal(cams)
    # A kink or jitter makes a second difference as large as a step; a C1 path keeps it a fraction.
    d1, d2 = step_lengths(cams), second_differences(cams.centers)
    assert float(d2.max()) < 0.4 * float(d1.mean()) + 1e-9
    fwd = cams.R[..., 2]
    e1 = torch.linalg.vector_norm(torch.diff(fwd, dim=0), dim=-1)
    assert float(second_differences(fwd).max()) < 0.75 * float(e1.mean()) + 1e-9


@settings(max_examples=12, deadline=None)
@given(seed=seeds, kind=st.sampled_from(tr.WALK_KINDS), half=st.tuples(*[st.floats(0.05, 2.0)] * 3))
def test_random_walk_stays_inside_bounds(seed, kind, half):
    centre = np.array([0.3, -0.2, 1.0])
    box = np.stack([centre - np.array(half), centre + np.array(half)])
    cams = tr.random_walk(kind, 17, seed=seed, bounds=box, target=centre + [0.0, 0.0, 1.0])
    c = cams.centers.numpy()
    assert (c >= box[0]).all() and (c <= box[1]).all()
    assert float(step_lengths(cams).max()) > 0  # it still moves


def test_dl3dv_walks_turn_more_than_re10k_walks_and_re10k_stays_level():
    def total_turn(kind, s):
        return float(step_angles_deg(tr.random_walk(kind, 25, seed=s)).sum())

    re10k = np.mean([total_turn("re10k", s) for s in range(12)])
    dl3dv = np.mean([total_turn("dl3dv", s) for s in range(12)])
    assert dl3dv > 2.0 * re10k
    up = torch.tensor(g.WORLD_UP, dtype=torch.float64)
    for s in range(12):
        move = tr.random_walk("re10k", 25, seed=s).centers
        move = move - move[0]
        vertical = (move @ up).abs().max()
        horizontal = torch.linalg.vector_norm(move - (move @ up)[:, None] * up, dim=-1).max()
        assert float(vertical) <= 0.2 * float(horizontal) + 1e-9


def test_dl3dv_walk_keeps_looking_near_its_target_after_shrinking_into_bounds():
    target = np.array([0.0, 0.0, 2.0])
    box = np.array([[-0.6, -0.6, -0.6], [0.6, 0.6, 2.6]])
    free = tr.random_walk("dl3dv", 25, seed=4, eye=[0.0, 0.0, 0.0], target=target, width=W, height=H)
    cams = tr.random_walk("dl3dv", 25, seed=4, eye=[0.0, 0.0, 0.0], target=target, bounds=box, width=W, height=H)
    assert float(np.abs(free.centers.numpy()).max()) > 0.6  # unbounded, it would leave the box
    uv, _ = project(cams, target)
    # the aim wanders by ~5% of the radius around the target: it stays near the image centre
    assert float((uv - torch.tensor([W / 2, H / 2], dtype=torch.float64)).abs().max()) < 0.25 * W


# --------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------

def _two():
    return [yaw_keyframe(0.0), yaw_keyframe(30.0)]


@pytest.mark.parametrize("call,match", [
    (lambda: tr.interpolate(_two()[:1], 10, width=W, height=H), "at least 2 keyframes"),
    (lambda: tr.interpolate(_two(), 1, width=W, height=H), "num_frames must be an integer >= 2"),
    (lambda: tr.interpolate(_two(), 10, width=W, height=H, tension=1.5), "tension must be in"),
    (lambda: tr.interpolate(_two(), 10, width=W, height=H, fps=0.0), "fps must be a positive"),
    (lambda: tr.interpolate([tr.Keyframe(torch.eye(4), time=1.0), tr.Keyframe(yaw_keyframe(5).c2w, time=1.0)], 10,
                            width=W, height=H), "strictly increase"),
    (lambda: tr.interpolate([tr.Keyframe(torch.eye(4), time=0.0), yaw_keyframe(5)], 10, width=W, height=H),
     "either every keyframe has a time or none"),
    (lambda: tr.interpolate([yaw_keyframe(0), yaw_keyframe(0), yaw_keyframe(5)], 10, width=W, height=H),
     "keyframes 0 and 1 are identical"),
    (lambda: tr.interpolate([yaw_keyframe(0), yaw_keyframe(5), yaw_keyframe(0)], 10, width=W, height=H, loop=True),
     "keyframes 2 and 0 are identical.*drop the repeated last one"),
    (lambda: tr.interpolate([{"c2w": torch.eye(4).tolist()}] * 2, 10, width=W, height=H), "Keyframe.from_dict"),
    (lambda: tr.Keyframe(torch.eye(4), duration=0.0), "positive number of seconds"),
    (lambda: tr.Keyframe(torch.eye(4), duration=-1.0), "positive number of seconds"),
    (lambda: tr.Keyframe(torch.eye(4), time=float("nan")), "time: must be finite"),
    (lambda: tr.Keyframe(torch.full((4, 4), float("nan"))), "NaN"),
    (lambda: tr.Keyframe(torch.eye(4), fov_y_deg=float("nan")), r"\(0, 180\)"),
    (lambda: tr.Keyframe(torch.eye(4), fov_y_deg=180.0), r"\(0, 180\)"),
    (lambda: tr.Keyframe(torch.eye(4) * 2), "not orthonormal"),
    (lambda: tr.Keyframe(torch.eye(3)), r"shape \(4, 4\)"),
    (lambda: tr.Keyframe.from_dict({"matrix": torch.eye(4).tolist(), "fov": 0.8}), "unknown key"),
    (lambda: tr.Keyframe.look_at([0, 0, 0], [0, -1, 0]).roll_deg, "parallel"),
    (lambda: tr.dolly_in(distance=5.0), "pass the target"),
    (lambda: tr.dolly_zoom(distance=2.0), "pass the target"),
    (lambda: tr.arc_left(degrees=-10.0), "direction argument sets the sign"),
    (lambda: tr.pan(direction="up"), "direction must be one of"),
    (lambda: tr.zoom(factor=0.5), "factor must be >= 1"),
    (lambda: tr.orbit(eye=(0, -3, 2)), "orbit: .*parallel to the up vector"),
    (lambda: tr.static(num_frames=1), "num_frames must be an integer >= 2"),
    (lambda: tr.static(eye=(0, 0, 2)), "coincide"),
    (lambda: tr.random_walk("kitti", 10, seed=0), "kind must be one of"),
    (lambda: tr.random_walk("re10k", 10, seed=0, generator=np.random.default_rng(0)), "either seed or generator"),
    (lambda: tr.random_walk("re10k", 10, seed=0, eye=[5, 0, 0], bounds=[[-1, -1, -1], [1, 1, 1]]),
     "not strictly inside bounds"),
    (lambda: tr.random_walk("re10k", 10, seed=0, bounds=[[1, -1, -1], [-1, 1, 1]]), "min < max"),
    (lambda: tr.keyframes_from_cameras(g.Cameras(torch.eye(4).expand(2, 4, 4), g.intrinsics_matrix(
        torch.tensor([50.0, 50.0]), torch.tensor([40.0, 40.0]), torch.tensor([32.0, 32.0]), torch.tensor([24.0, 24.0])),
        W, H)), "only a vertical FOV"),
])
def test_bad_input_is_refused_with_a_clear_message(call, match):
    with pytest.raises(ValueError, match=match):
        call()
