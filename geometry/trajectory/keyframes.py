"""``Keyframe``: one camera the user placed on a path, its JSON form, and keyframe timing.

A keyframe is an OpenCV camera-to-world pose plus a vertical field of view; a path is a list
of them. Timing comes either from explicit ``time``s (seconds, strictly increasing) or from
per-transition ``duration``s (seconds from this keyframe to the next, default 1 s each).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch

from ..cameras import Cameras
from ..transforms import axis_angle_to_matrix, look_at
from ..validation import FloatLike, as_tensor, check_pose, check_shape
from .defaults import DEFAULT_FOV_Y_DEG, DEFAULT_FPS, DEFAULT_TRANSITION_SEC

_DICT_KEYS = ("c2w", "fov_y_deg", "time", "duration")


def _world_up() -> torch.Tensor:
    from .. import WORLD_UP  # the convention lives in one place

    return torch.tensor(WORLD_UP, dtype=torch.float64)


def _optional_seconds(value: float | None, name: str, *, positive: bool) -> float | None:
    if value is None:
        return None
    try:
        value = float(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"Keyframe.{name}: expected seconds as a number, got {value!r}") from exc
    if not math.isfinite(value):
        raise ValueError(f"Keyframe.{name}: must be finite, got {value}")
    if positive and value <= 0:
        raise ValueError(f"Keyframe.{name}: a transition must last a positive number of seconds, got {value}")
    return value


@dataclass(frozen=True, eq=False)
class Keyframe:
    """One user-placed camera.

    Attributes:
        c2w: (4, 4) OpenCV camera-to-world pose (x right, y down, z forward), stored as float64.
        fov_y_deg: vertical field of view in degrees, in (0, 180).
        time: optional time of this keyframe in seconds. Either every keyframe of a path has one or none.
        duration: optional seconds of the transition from this keyframe to the next (default 1 s).
            On the last keyframe it is the closing transition of a looped path.

    Frozen: edit with ``dataclasses.replace(kf, fov_y_deg=...)``, which validates again.
    """

    c2w: torch.Tensor
    fov_y_deg: float = DEFAULT_FOV_Y_DEG
    time: float | None = None
    duration: float | None = None

    def __post_init__(self) -> None:
        c2w = as_tensor(self.c2w, "Keyframe.c2w", dtype=torch.float64).detach().cpu().clone()
        if tuple(c2w.shape) != (4, 4):
            raise ValueError(f"Keyframe.c2w: expected shape (4, 4), got {tuple(c2w.shape)}")
        check_pose(c2w, "Keyframe.c2w")
        try:
            fov = float(self.fov_y_deg)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"Keyframe.fov_y_deg: expected degrees as a number, got {self.fov_y_deg!r}") from exc
        if not (0.0 < fov < 180.0):  # also rejects NaN
            raise ValueError(f"Keyframe.fov_y_deg: vertical field of view must be in (0, 180) degrees, got {fov}")
        object.__setattr__(self, "c2w", c2w)
        object.__setattr__(self, "fov_y_deg", fov)
        object.__setattr__(self, "time", _optional_seconds(self.time, "time", positive=False))
        object.__setattr__(self, "duration", _optional_seconds(self.duration, "duration", positive=True))

    # ---- construction -------------------------------------------------------------------

    @classmethod
    def look_at(cls, eye: FloatLike, target: FloatLike, *, fov_y_deg: float = DEFAULT_FOV_Y_DEG,
                roll_deg: float = 0.0, time: float | None = None, duration: float | None = None) -> "Keyframe":
        """Camera at ``eye`` (3,) looking at ``target`` (3,), upright w.r.t. ``WORLD_UP``, then rolled
        by ``roll_deg`` about its view axis (positive = clockwise as seen from behind the camera,
        so the image content turns counter-clockwise)."""
        c2w = look_at(as_tensor(eye, "eye", dtype=torch.float64), as_tensor(target, "target", dtype=torch.float64))
        c2w[:3, :3] = c2w[:3, :3] @ _roll_matrix(roll_deg)
        return cls(c2w, fov_y_deg, time, duration)

    # ---- accessors -----------------------------------------------------------------------

    @property
    def position(self) -> torch.Tensor:
        """(3,) camera centre in world coordinates."""
        return self.c2w[:3, 3].clone()

    @property
    def forward(self) -> torch.Tensor:
        """(3,) unit view axis (camera +z) in world coordinates."""
        return self.c2w[:3, 2].clone()

    def target(self, distance: float = 1.0) -> torch.Tensor:
        """(3,) the point ``distance`` scene units ahead on the optical axis (what the camera looks at)."""
        if not (distance > 0):
            raise ValueError(f"Keyframe.target: distance must be positive, got {distance}")
        return self.position + distance * self.forward

    @property
    def roll_deg(self) -> float:
        """Rotation about the view axis away from upright (``WORLD_UP``), degrees in (-180, 180].

        Same sign as ``Keyframe.look_at(roll_deg=...)``. Undefined when looking along ``WORLD_UP``.
        """
        z, x = self.c2w[:3, 2], self.c2w[:3, 0]
        level_x = torch.linalg.cross(-_world_up(), z)  # right axis of an upright camera: down x forward
        n = float(torch.linalg.vector_norm(level_x))
        if n < 1e-9:
            raise ValueError("Keyframe.roll_deg: the view axis is parallel to WORLD_UP, roll is undefined")
        level_x = level_x / n
        level_y = torch.linalg.cross(z, level_x)
        return math.degrees(math.atan2(float(x @ level_y), float(x @ level_x)))

    def transformed(self, world_from_world: FloatLike) -> "Keyframe":
        """This keyframe moved by a rigid (4, 4) world transform (moving a whole path keyframe by keyframe)."""
        T = as_tensor(world_from_world, "world_from_world", dtype=torch.float64)
        check_shape(T, (4, 4), "world_from_world")
        check_pose(T, "world_from_world")
        return Keyframe(T @ self.c2w, self.fov_y_deg, self.time, self.duration)

    # ---- JSON ----------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict: ``c2w`` nested 4x4 list (OpenCV camera-to-world), ``fov_y_deg``,
        ``time`` and ``duration`` (seconds or None)."""
        return {"c2w": self.c2w.tolist(), "fov_y_deg": self.fov_y_deg, "time": self.time, "duration": self.duration}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Keyframe":
        """Inverse of ``to_dict``. ``c2w`` may also be a flat list of 16 numbers (row-major).
        Unknown keys are an error, so a ``fov`` in radians or an OpenGL ``matrix`` is not silently misread."""
        if not isinstance(d, dict):
            raise ValueError(f"Keyframe.from_dict: expected a dict, got {type(d).__name__}")
        unknown = sorted(set(d) - set(_DICT_KEYS))
        if unknown:
            raise ValueError(f"Keyframe.from_dict: unknown key(s) {unknown}; expected {list(_DICT_KEYS)}")
        if "c2w" not in d:
            raise ValueError("Keyframe.from_dict: missing 'c2w' (OpenCV camera-to-world 4x4)")
        c2w = np.asarray(d["c2w"], dtype=np.float64)
        if c2w.shape == (16,):
            c2w = c2w.reshape(4, 4)
        return cls(c2w, d.get("fov_y_deg", DEFAULT_FOV_Y_DEG), d.get("time"), d.get("duration"))


def _roll_matrix(roll_deg: float) -> torch.Tensor:
    """(3, 3) rotation about the camera's +z axis (applied on the right of a camera-to-world rotation)."""
    return axis_angle_to_matrix(torch.tensor([0.0, 0.0, math.radians(float(roll_deg))], dtype=torch.float64))


# --------------------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------------------

def keyframe_times(keyframes: Sequence[Keyframe], *, loop: bool = False) -> np.ndarray:
    """Times in seconds of the keyframes: (n,), or (n + 1,) with ``loop`` (the last entry is the
    return to the first keyframe).

    Explicit ``time``s win (all keyframes or none must have one; they must strictly increase);
    the closing transition of a loop then lasts the last keyframe's ``duration``, else the mean
    transition. Without times the path starts at 0 and each transition lasts its keyframe's
    ``duration`` (default 1 s).
    """
    n = len(keyframes)
    with_time = [kf.time is not None for kf in keyframes]
    if any(with_time) and not all(with_time):
        missing = [i for i, has in enumerate(with_time) if not has]
        raise ValueError(f"keyframe times: either every keyframe has a time or none does; "
                         f"keyframe(s) {missing} have none")
    if all(with_time) and n:
        times = np.array([kf.time for kf in keyframes], dtype=np.float64)
        steps = np.diff(times)
        if np.any(steps <= 0):
            i = int(np.argmax(steps <= 0))
            raise ValueError(f"keyframe times must strictly increase; keyframe {i + 1} is at {times[i + 1]} s, "
                             f"not after keyframe {i} at {times[i]} s")
        if loop:
            last = keyframes[-1].duration
            closing = last if last is not None else (float(steps.mean()) if len(steps) else DEFAULT_TRANSITION_SEC)
            times = np.append(times, times[-1] + closing)
        return times
    count = n if loop else max(n - 1, 0)
    durations = [DEFAULT_TRANSITION_SEC if kf.duration is None else kf.duration for kf in keyframes[:count]]
    return np.concatenate([[0.0], np.cumsum(durations)])


# --------------------------------------------------------------------------------------
# Cameras -> keyframes (presets inserted as keyframes)
# --------------------------------------------------------------------------------------

def keyframes_from_cameras(cams: Cameras, *, every: int | None = None, indices: Sequence[int] | None = None,
                           fps: float = DEFAULT_FPS) -> list[Keyframe]:
    """Keyframes at some frames of a trajectory ``cams`` (batch shape (N,)).

    Picks ``indices`` if given, else every ``every``-th frame (default: every frame) plus always
    the last one. Poses are copied exactly; FOV is the vertical FOV of ``K``. Times are the
    cameras' timestamps, else frame index / ``fps``.

    Keyframes only hold a vertical FOV, so ``K`` must be a centred pinhole with square pixels
    (as presets and ``interpolate`` make); anything else raises instead of being silently changed.
    """
    if len(cams.batch_shape) != 1:
        raise ValueError(f"keyframes_from_cameras: expected a trajectory of batch shape (N,), "
                         f"got {tuple(cams.batch_shape)}")
    n = len(cams)
    if indices is None:
        step = 1 if every is None else int(every)
        if step < 1:
            raise ValueError(f"keyframes_from_cameras: every must be >= 1, got {every}")
        idx = list(range(0, n, step))
        if idx[-1] != n - 1:
            idx.append(n - 1)
    else:
        if every is not None:
            raise ValueError("keyframes_from_cameras: give either every or indices, not both")
        idx = [int(i) for i in indices]
        if any(i < 0 or i >= n for i in idx) or any(b <= a for a, b in zip(idx, idx[1:])):
            raise ValueError(f"keyframes_from_cameras: indices must strictly increase within [0, {n}), got {idx}")
    K = cams.K.detach().to(torch.float64).cpu()
    fx, fy, cx, cy, skew = K[..., 0, 0], K[..., 1, 1], K[..., 0, 2], K[..., 1, 2], K[..., 0, 1]
    if (not torch.allclose(fx, fy, rtol=1e-6, atol=0) or not torch.allclose(cx, torch.full_like(cx, cams.width / 2))
            or not torch.allclose(cy, torch.full_like(cy, cams.height / 2)) or float(skew.abs().max()) > 0):
        raise ValueError("keyframes_from_cameras: keyframes store only a vertical FOV, but these intrinsics have "
                         "non-square pixels, skew or an off-centre principal point")
    if not fps > 0:
        raise ValueError(f"keyframes_from_cameras: fps must be positive, got {fps}")
    fov = torch.rad2deg(cams.fov_y.detach().to(torch.float64).cpu())
    ts = None if cams.timestamps is None else cams.timestamps.detach().to(torch.float64).cpu()
    c2w = cams.c2w.detach().to(torch.float64).cpu()
    return [Keyframe(c2w[i], float(fov[i]), float(ts[i]) if ts is not None else i / fps) for i in idx]


def keyframes_to_cameras(keyframes: Sequence[Keyframe], *, width: int, height: int) -> Cameras:
    """The keyframes themselves as a (n,) ``Cameras`` batch (for drawing frustums), timestamps if all have times."""
    if not keyframes:
        raise ValueError("keyframes_to_cameras: no keyframes")
    c2w = torch.stack([kf.c2w for kf in keyframes])
    fov = torch.tensor([kf.fov_y_deg for kf in keyframes], dtype=torch.float64)
    ts = None
    if all(kf.time is not None for kf in keyframes):
        ts = torch.tensor([kf.time for kf in keyframes], dtype=torch.float64)
    return Cameras.from_fov(c2w, fov_y_deg=fov, width=width, height=height, timestamps=ts)


__all__ = ["Keyframe", "keyframe_times", "keyframes_from_cameras", "keyframes_to_cameras"]
