"""Named camera moves around a look-at target, each returning the whole path as ``Cameras``.

Every preset starts from the camera at ``eye`` looking at ``target`` (upright w.r.t. ``WORLD_UP``)
and takes the same keyword-only frame arguments: ``num_frames``, ``fov_y_deg`` (vertical, degrees;
the start FOV for zooms), ``width``, ``height`` and ``fps`` (timestamps ``i / fps``). Motion is
evenly spaced in its own parameter (angle, distance, log focal length): constant speed.
Angles are degrees and distances scene units; a ``direction`` picks the sign and magnitudes are >= 0.
Closed moves (a full orbit, the lemniscate) do not repeat the first frame at the end, so they
loop seamlessly. ``PRESETS`` lists them by name for a UI; ``keyframes_from_cameras`` turns a
preset's output into keyframes.
"""

from __future__ import annotations

import math
from typing import Callable, Literal

import torch

from ..cameras import Cameras, focal_to_fov, fov_to_focal
from ..transforms import axis_angle_to_matrix, look_at, make_pose
from ..validation import FloatLike, as_tensor
from .defaults import (DEFAULT_EYE, DEFAULT_FOV_Y_DEG, DEFAULT_FPS, DEFAULT_HEIGHT, DEFAULT_NUM_FRAMES,
                       DEFAULT_TARGET, DEFAULT_WIDTH)

Vec3 = FloatLike


# --------------------------------------------------------------------------------------
# Shared pieces
# --------------------------------------------------------------------------------------

class _Start:
    """The start camera: eye (3,), target (3,), distance between them, and its c2w (4, 4), float64."""

    def __init__(self, eye: Vec3, target: Vec3, name: str):
        from .. import WORLD_UP

        self.eye = as_tensor(eye, f"{name}: eye", dtype=torch.float64).reshape(-1)
        self.target = as_tensor(target, f"{name}: target", dtype=torch.float64).reshape(-1)
        if self.eye.shape != (3,) or self.target.shape != (3,):
            raise ValueError(f"{name}: eye and target must be 3-vectors")
        self.distance = float(torch.linalg.vector_norm(self.target - self.eye))
        try:
            self.c2w = look_at(self.eye, self.target)
        except ValueError as exc:
            raise ValueError(f"{name}: {exc}") from exc
        self.up = torch.tensor(WORLD_UP, dtype=torch.float64)
        self.right, self.down, self.forward = self.c2w[:3, 0], self.c2w[:3, 1], self.c2w[:3, 2]


def _progress(num_frames: int, name: str, *, closed: bool = False) -> torch.Tensor:
    """(N,) evenly spaced progress in [0, 1]; a closed move stops one step short of 1."""
    if isinstance(num_frames, bool) or int(num_frames) != num_frames or num_frames < 2:
        raise ValueError(f"{name}: num_frames must be an integer >= 2, got {num_frames}")
    n = int(num_frames)
    return torch.arange(n, dtype=torch.float64) / (n if closed else n - 1)


def _magnitude(value: float, what: str, name: str) -> float:
    value = float(value)
    if not (value >= 0 and math.isfinite(value)):
        raise ValueError(f"{name}: {what} must be a finite number >= 0 (the direction argument sets the sign), "
                         f"got {value}")
    return value


def _direction(direction: str, options: tuple[str, str], name: str) -> float:
    """+1 for the first option, -1 for the second."""
    if direction not in options:
        raise ValueError(f"{name}: direction must be one of {options}, got {direction!r}")
    return 1.0 if direction == options[0] else -1.0


def _rotations(axis: torch.Tensor, angles_rad: torch.Tensor) -> torch.Tensor:
    """(N, 3, 3) right-handed rotations by ``angles_rad`` (N,) about the unit ``axis`` (3,)."""
    return axis_angle_to_matrix(angles_rad[:, None] * axis)


def _cameras(c2w: torch.Tensor, *, fov_y_deg: FloatLike, width: int, height: int, fps: float,
             name: str) -> Cameras:
    if not (float(fps) > 0 and math.isfinite(fps)):
        raise ValueError(f"{name}: fps must be a positive number, got {fps}")
    ts = torch.arange(c2w.shape[0], dtype=torch.float64) / float(fps)
    try:
        return Cameras.from_fov(c2w, fov_y_deg=fov_y_deg, width=width, height=height, timestamps=ts)
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from exc


def _looking_at(eyes: torch.Tensor, target: torch.Tensor, name: str) -> torch.Tensor:
    """(N, 4, 4) upright cameras at ``eyes`` (N, 3) all looking at ``target`` (3,)."""
    try:
        return look_at(eyes, target.expand_as(eyes))
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from exc


def _translated(start: _Start, offsets: torch.Tensor) -> torch.Tensor:
    """(N, 4, 4) the start camera moved by ``offsets`` (N, 3), orientation unchanged."""
    R = start.c2w[:3, :3].expand(offsets.shape[0], 3, 3)
    return make_pose(R, start.eye + offsets)


def _rotated_in_place(start: _Start, R_world: torch.Tensor | None = None,
                      R_camera: torch.Tensor | None = None) -> torch.Tensor:
    """(N, 4, 4) the start camera turned about its own centre: ``R_world @ R @ R_camera``."""
    R = start.c2w[:3, :3]
    if R_world is not None:
        R = R_world @ R
    if R_camera is not None:
        R = R @ R_camera
    return make_pose(R, start.eye.expand(R.shape[0], 3))


def _orbit_eyes(start: _Start, angles_rad: torch.Tensor, radius_scale: torch.Tensor | float = 1.0,
                rise: torch.Tensor | float = 0.0) -> torch.Tensor:
    """(N, 3) eyes turned by ``angles_rad`` (N,) about the ``WORLD_UP`` axis through the target,
    with the horizontal radius scaled and the height raised by ``rise`` along ``WORLD_UP``.
    Positive angles move the camera to its right."""
    offset = start.eye - start.target
    height = offset @ start.up
    horizontal = offset - height * start.up
    # A right-handed turn about up carries the eye to the camera's right (and the view to the left).
    turned = _rotations(start.up, angles_rad) @ horizontal  # (N, 3)
    r = torch.as_tensor(radius_scale, dtype=torch.float64).reshape(-1, 1)
    h = (height + torch.as_tensor(rise, dtype=torch.float64)).reshape(-1, 1)
    return start.target + r * turned + h * start.up


# --------------------------------------------------------------------------------------
# Presets
# --------------------------------------------------------------------------------------

def static(*, eye: Vec3 = DEFAULT_EYE, target: Vec3 = DEFAULT_TARGET, num_frames: int = DEFAULT_NUM_FRAMES,
           fov_y_deg: float = DEFAULT_FOV_Y_DEG, width: int = DEFAULT_WIDTH, height: int = DEFAULT_HEIGHT,
           fps: float = DEFAULT_FPS) -> Cameras:
    """The start camera held still for ``num_frames`` frames."""
    start, n = _Start(eye, target, "static"), _progress(num_frames, "static").shape[0]
    return _cameras(start.c2w.expand(n, 4, 4).clone(), fov_y_deg=fov_y_deg, width=width, height=height, fps=fps,
                    name="static")


def orbit(*, degrees: float = 360.0, eye: Vec3 = DEFAULT_EYE, target: Vec3 = DEFAULT_TARGET,
          num_frames: int = DEFAULT_NUM_FRAMES, fov_y_deg: float = DEFAULT_FOV_Y_DEG, width: int = DEFAULT_WIDTH,
          height: int = DEFAULT_HEIGHT, fps: float = DEFAULT_FPS) -> Cameras:
    """Circle the target about the ``WORLD_UP`` axis through it, at constant radius and height, looking
    at the target. ``degrees`` > 0 moves the camera to its right, < 0 to its left. A whole number of
    turns is a closed loop (the last frame is one step before the first)."""
    name = "orbit"
    start = _Start(eye, target, name)
    degrees = float(degrees)
    if not math.isfinite(degrees):
        raise ValueError(f"{name}: degrees must be finite, got {degrees}")
    closed = degrees != 0 and degrees % 360.0 == 0
    angles = math.radians(degrees) * _progress(num_frames, name, closed=closed)
    c2w = _looking_at(_orbit_eyes(start, angles), start.target, name)
    return _cameras(c2w, fov_y_deg=fov_y_deg, width=width, height=height, fps=fps, name=name)


def arc_left(*, degrees: float = 45.0, eye: Vec3 = DEFAULT_EYE, target: Vec3 = DEFAULT_TARGET,
             num_frames: int = DEFAULT_NUM_FRAMES, fov_y_deg: float = DEFAULT_FOV_Y_DEG, width: int = DEFAULT_WIDTH,
             height: int = DEFAULT_HEIGHT, fps: float = DEFAULT_FPS) -> Cameras:
    """Partial orbit by ``degrees`` to the camera's left, looking at the target."""
    return orbit(degrees=-_magnitude(degrees, "degrees", "arc_left"), eye=eye, target=target, num_frames=num_frames,
                 fov_y_deg=fov_y_deg, width=width, height=height, fps=fps)


def arc_right(*, degrees: float = 45.0, eye: Vec3 = DEFAULT_EYE, target: Vec3 = DEFAULT_TARGET,
              num_frames: int = DEFAULT_NUM_FRAMES, fov_y_deg: float = DEFAULT_FOV_Y_DEG, width: int = DEFAULT_WIDTH,
              height: int = DEFAULT_HEIGHT, fps: float = DEFAULT_FPS) -> Cameras:
    """Partial orbit by ``degrees`` to the camera's right, looking at the target."""
    return orbit(degrees=_magnitude(degrees, "degrees", "arc_right"), eye=eye, target=target, num_frames=num_frames,
                 fov_y_deg=fov_y_deg, width=width, height=height, fps=fps)


def _dolly(name: str, sign: float, distance: float | None, eye: Vec3, target: Vec3, num_frames: int,
           fov_y_deg: float, width: int, height: int, fps: float) -> Cameras:
    start = _Start(eye, target, name)
    dist = 0.5 * start.distance if distance is None else _magnitude(distance, "distance", name)
    if sign > 0 and dist >= start.distance:
        raise ValueError(f"{name}: distance {dist:.4g} would reach or pass the target, which is "
                         f"{start.distance:.4g} away")
    s = _progress(num_frames, name)
    c2w = _translated(start, (sign * dist * s)[:, None] * start.forward)
    return _cameras(c2w, fov_y_deg=fov_y_deg, width=width, height=height, fps=fps, name=name)


def dolly_in(*, distance: float | None = None, eye: Vec3 = DEFAULT_EYE, target: Vec3 = DEFAULT_TARGET,
             num_frames: int = DEFAULT_NUM_FRAMES, fov_y_deg: float = DEFAULT_FOV_Y_DEG, width: int = DEFAULT_WIDTH,
             height: int = DEFAULT_HEIGHT, fps: float = DEFAULT_FPS) -> Cameras:
    """Move ``distance`` (default: half the way) toward the target along the view axis."""
    return _dolly("dolly_in", 1.0, distance, eye, target, num_frames, fov_y_deg, width, height, fps)


def dolly_out(*, distance: float | None = None, eye: Vec3 = DEFAULT_EYE, target: Vec3 = DEFAULT_TARGET,
              num_frames: int = DEFAULT_NUM_FRAMES, fov_y_deg: float = DEFAULT_FOV_Y_DEG, width: int = DEFAULT_WIDTH,
              height: int = DEFAULT_HEIGHT, fps: float = DEFAULT_FPS) -> Cameras:
    """Move ``distance`` (default: half the target distance) away from the target along the view axis."""
    return _dolly("dolly_out", -1.0, distance, eye, target, num_frames, fov_y_deg, width, height, fps)


def truck(*, direction: Literal["right", "left"] = "right", distance: float | None = None,
          eye: Vec3 = DEFAULT_EYE, target: Vec3 = DEFAULT_TARGET, num_frames: int = DEFAULT_NUM_FRAMES,
          fov_y_deg: float = DEFAULT_FOV_Y_DEG, width: int = DEFAULT_WIDTH, height: int = DEFAULT_HEIGHT,
          fps: float = DEFAULT_FPS) -> Cameras:
    """Slide sideways along the camera's x axis by ``distance`` (default: half the target distance),
    orientation fixed."""
    start = _Start(eye, target, "truck")
    sign = _direction(direction, ("right", "left"), "truck")
    dist = 0.5 * start.distance if distance is None else _magnitude(distance, "distance", "truck")
    c2w = _translated(start, (sign * dist * _progress(num_frames, "truck"))[:, None] * start.right)
    return _cameras(c2w, fov_y_deg=fov_y_deg, width=width, height=height, fps=fps, name="truck")


def pedestal(*, direction: Literal["up", "down"] = "up", distance: float | None = None,
             eye: Vec3 = DEFAULT_EYE, target: Vec3 = DEFAULT_TARGET, num_frames: int = DEFAULT_NUM_FRAMES,
             fov_y_deg: float = DEFAULT_FOV_Y_DEG, width: int = DEFAULT_WIDTH, height: int = DEFAULT_HEIGHT,
             fps: float = DEFAULT_FPS) -> Cameras:
    """Rise or sink along ``WORLD_UP`` by ``distance`` (default: half the target distance), orientation fixed."""
    start = _Start(eye, target, "pedestal")
    sign = _direction(direction, ("up", "down"), "pedestal")
    dist = 0.5 * start.distance if distance is None else _magnitude(distance, "distance", "pedestal")
    c2w = _translated(start, (sign * dist * _progress(num_frames, "pedestal"))[:, None] * start.up)
    return _cameras(c2w, fov_y_deg=fov_y_deg, width=width, height=height, fps=fps, name="pedestal")


def pan(*, direction: Literal["right", "left"] = "right", degrees: float = 45.0, eye: Vec3 = DEFAULT_EYE,
        target: Vec3 = DEFAULT_TARGET, num_frames: int = DEFAULT_NUM_FRAMES, fov_y_deg: float = DEFAULT_FOV_Y_DEG,
        width: int = DEFAULT_WIDTH, height: int = DEFAULT_HEIGHT, fps: float = DEFAULT_FPS) -> Cameras:
    """Turn in place about ``WORLD_UP`` by ``degrees`` (a yaw; the horizon stays level)."""
    sign = _direction(direction, ("right", "left"), "pan")
    angle = math.radians(_magnitude(degrees, "degrees", "pan"))
    start = _Start(eye, target, "pan")
    # A right-handed turn about up swings the view to the left, so negate: positive = right.
    R_world = _rotations(start.up, -sign * angle * _progress(num_frames, "pan"))
    return _cameras(_rotated_in_place(start, R_world=R_world), fov_y_deg=fov_y_deg, width=width, height=height,
                    fps=fps, name="pan")


def tilt(*, direction: Literal["up", "down"] = "up", degrees: float = 20.0, eye: Vec3 = DEFAULT_EYE,
         target: Vec3 = DEFAULT_TARGET, num_frames: int = DEFAULT_NUM_FRAMES, fov_y_deg: float = DEFAULT_FOV_Y_DEG,
         width: int = DEFAULT_WIDTH, height: int = DEFAULT_HEIGHT, fps: float = DEFAULT_FPS) -> Cameras:
    """Turn in place about the camera's x axis by ``degrees`` (a pitch)."""
    sign = _direction(direction, ("up", "down"), "tilt")
    angle = math.radians(_magnitude(degrees, "degrees", "tilt"))
    start = _Start(eye, target, "tilt")
    x_axis = torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64)
    # OpenCV: a right-handed turn about +x moves +z toward -y, i.e. up.
    R_cam = _rotations(x_axis, sign * angle * _progress(num_frames, "tilt"))
    return _cameras(_rotated_in_place(start, R_camera=R_cam), fov_y_deg=fov_y_deg, width=width, height=height,
                    fps=fps, name="tilt")


def roll(*, direction: Literal["clockwise", "counterclockwise"] = "clockwise", degrees: float = 30.0,
         eye: Vec3 = DEFAULT_EYE, target: Vec3 = DEFAULT_TARGET, num_frames: int = DEFAULT_NUM_FRAMES,
         fov_y_deg: float = DEFAULT_FOV_Y_DEG, width: int = DEFAULT_WIDTH, height: int = DEFAULT_HEIGHT,
         fps: float = DEFAULT_FPS) -> Cameras:
    """Turn in place about the view axis by ``degrees``; clockwise as seen from behind the camera
    (the image content turns counter-clockwise), the same sign as ``Keyframe.roll_deg``."""
    sign = _direction(direction, ("clockwise", "counterclockwise"), "roll")
    angle = math.radians(_magnitude(degrees, "degrees", "roll"))
    start = _Start(eye, target, "roll")
    z_axis = torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64)
    R_cam = _rotations(z_axis, sign * angle * _progress(num_frames, "roll"))
    return _cameras(_rotated_in_place(start, R_camera=R_cam), fov_y_deg=fov_y_deg, width=width, height=height,
                    fps=fps, name="roll")


def zoom(*, direction: Literal["in", "out"] = "in", factor: float = 2.0, eye: Vec3 = DEFAULT_EYE,
         target: Vec3 = DEFAULT_TARGET, num_frames: int = DEFAULT_NUM_FRAMES, fov_y_deg: float = DEFAULT_FOV_Y_DEG,
         width: int = DEFAULT_WIDTH, height: int = DEFAULT_HEIGHT, fps: float = DEFAULT_FPS) -> Cameras:
    """Change the focal length by ``factor`` (>= 1; ``in`` multiplies it, ``out`` divides it), pose
    fixed. The focal length changes geometrically, so the zoom rate looks steady."""
    sign = _direction(direction, ("in", "out"), "zoom")
    factor = _magnitude(factor, "factor", "zoom")
    if factor < 1:
        raise ValueError(f"zoom: factor must be >= 1 (direction='out' zooms out), got {factor}")
    start = _Start(eye, target, "zoom")
    s = _progress(num_frames, "zoom")
    f0 = fov_to_focal(torch.tensor(math.radians(fov_y_deg), dtype=torch.float64), 1.0)
    fov = torch.rad2deg(focal_to_fov(f0 * factor ** (sign * s), 1.0))
    return _cameras(start.c2w.expand(s.shape[0], 4, 4).clone(), fov_y_deg=fov, width=width, height=height, fps=fps,
                    name="zoom")


def dolly_zoom(*, direction: Literal["in", "out"] = "in", distance: float | None = None, eye: Vec3 = DEFAULT_EYE,
               target: Vec3 = DEFAULT_TARGET, num_frames: int = DEFAULT_NUM_FRAMES,
               fov_y_deg: float = DEFAULT_FOV_Y_DEG, width: int = DEFAULT_WIDTH, height: int = DEFAULT_HEIGHT,
               fps: float = DEFAULT_FPS) -> Cameras:
    """The "Vertigo" shot: dolly ``distance`` (default: half the target distance) along the view axis
    while the focal length follows the distance to the target (``f = f0 * depth / depth0``), so the
    target keeps its image size while the background stretches (``in``) or flattens (``out``)."""
    name = "dolly_zoom"
    sign = _direction(direction, ("in", "out"), name)
    start = _Start(eye, target, name)
    dist = 0.5 * start.distance if distance is None else _magnitude(distance, "distance", name)
    if sign > 0 and dist >= start.distance:
        raise ValueError(f"{name}: distance {dist:.4g} would reach or pass the target, which is "
                         f"{start.distance:.4g} away")
    moved = sign * dist * _progress(num_frames, name)
    depth = start.distance - moved
    f0 = fov_to_focal(torch.tensor(math.radians(fov_y_deg), dtype=torch.float64), 1.0)
    fov = torch.rad2deg(focal_to_fov(f0 * depth / start.distance, 1.0))
    if float(fov.max()) >= 179.0:
        raise ValueError(f"{name}: the field of view would reach {float(fov.max()):.1f} degrees; "
                         "use a smaller distance or a narrower start FOV")
    c2w = _translated(start, moved[:, None] * start.forward)
    return _cameras(c2w, fov_y_deg=fov, width=width, height=height, fps=fps, name=name)


def spiral(*, degrees: float = 360.0, end_radius_scale: float = 0.5, rise: float | None = None,
           eye: Vec3 = DEFAULT_EYE, target: Vec3 = DEFAULT_TARGET, num_frames: int = DEFAULT_NUM_FRAMES,
           fov_y_deg: float = DEFAULT_FOV_Y_DEG, width: int = DEFAULT_WIDTH, height: int = DEFAULT_HEIGHT,
           fps: float = DEFAULT_FPS) -> Cameras:
    """Orbit by ``degrees`` (> 0: to the right) while the horizontal radius goes from the start's to
    ``end_radius_scale`` times it and the camera rises by ``rise`` along ``WORLD_UP`` (default: a
    quarter of the target distance; negative sinks), always looking at the target."""
    name = "spiral"
    start = _Start(eye, target, name)
    if not (float(end_radius_scale) > 0 and math.isfinite(end_radius_scale)):
        raise ValueError(f"{name}: end_radius_scale must be positive, got {end_radius_scale}")
    rise = 0.25 * start.distance if rise is None else float(rise)
    if not (math.isfinite(rise) and math.isfinite(float(degrees))):
        raise ValueError(f"{name}: degrees and rise must be finite")
    s = _progress(num_frames, name)
    radius = float(end_radius_scale) ** s  # geometric, so the radius shrinks at a steady rate
    eyes = _orbit_eyes(start, math.radians(float(degrees)) * s, radius_scale=radius, rise=rise * s)
    c2w = _looking_at(eyes, start.target, name)
    return _cameras(c2w, fov_y_deg=fov_y_deg, width=width, height=height, fps=fps, name=name)


def lemniscate(*, amplitude: float | None = None, eye: Vec3 = DEFAULT_EYE, target: Vec3 = DEFAULT_TARGET,
               num_frames: int = DEFAULT_NUM_FRAMES, fov_y_deg: float = DEFAULT_FOV_Y_DEG,
               width: int = DEFAULT_WIDTH, height: int = DEFAULT_HEIGHT, fps: float = DEFAULT_FPS) -> Cameras:
    """Figure-eight (lemniscate of Bernoulli) of half-width ``amplitude`` (default: a quarter of the
    target distance) in the plane through the eye facing the target, starting at its crossing point
    (the eye) and always looking at the target. A closed loop."""
    name = "lemniscate"
    start = _Start(eye, target, name)
    a = 0.25 * start.distance if amplitude is None else _magnitude(amplitude, "amplitude", name)
    phase = math.pi / 2 + 2 * math.pi * _progress(num_frames, name, closed=True)  # pi/2: the crossing point
    denom = 1.0 + torch.sin(phase) ** 2
    across = a * torch.cos(phase) / denom                    # along the camera's right axis
    upward = a * torch.sin(phase) * torch.cos(phase) / denom  # along up (the camera's -y)
    eyes = start.eye + across[:, None] * start.right - upward[:, None] * start.down
    c2w = _looking_at(eyes, start.target, name)
    return _cameras(c2w, fov_y_deg=fov_y_deg, width=width, height=height, fps=fps, name=name)


PRESETS: dict[str, Callable[..., Cameras]] = {
    "static": static,
    "orbit": orbit,
    "arc_left": arc_left,
    "arc_right": arc_right,
    "dolly_in": dolly_in,
    "dolly_out": dolly_out,
    "truck": truck,
    "pedestal": pedestal,
    "pan": pan,
    "tilt": tilt,
    "roll": roll,
    "zoom": zoom,
    "dolly_zoom": dolly_zoom,
    "spiral": spiral,
    "lemniscate": lemniscate,
}
"""Every preset by name. All take only keyword arguments with defaults, so ``PRESETS[name]()``
works and ``inspect.signature`` lists what a UI can expose (``direction`` is a ``Literal``)."""
