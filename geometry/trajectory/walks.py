"""Random smooth camera paths for training data, in the style of the two training sets.

``re10k``: RealEstate10K-like. Mostly a walk forward with gentle curves, slow pans, small pitch,
almost no roll, little vertical motion; sometimes a near-static pan.
``dl3dv``: DL3DV-like. An arc or orbit around content (the ``target``), with radius, height and
aim wandering, so rotations are large.

A walk is a handful of random keyframes splined by ``interpolate`` (C1, no flips), so it is
smooth by construction. Nothing here knows about a scene: ``bounds`` (an axis-aligned box for the
camera centres) and ``target`` (what to look at) are the hooks a scene module can use to keep
walks in free space and pointed at content. Same seed, same path.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import torch

from ..cameras import Cameras
from ..transforms import axis_angle_to_matrix, look_at
from ..validation import FloatLike, as_tensor
from .defaults import DEFAULT_FOV_Y_DEG, DEFAULT_FPS, DEFAULT_HEIGHT, DEFAULT_NUM_FRAMES, DEFAULT_WIDTH
from .interpolate import interpolate
from .keyframes import Keyframe

WalkKind = Literal["re10k", "dl3dv"]
WALK_KINDS: tuple[str, ...] = ("re10k", "dl3dv")
_ATTEMPTS = 8            # fresh draws tried before shrinking a walk into its bounds
_BOUNDS_MARGIN = 0.999   # shrink a little more than needed, so rounding never puts a camera outside


def random_walk(kind: WalkKind = "re10k", num_frames: int = DEFAULT_NUM_FRAMES, *, seed: int | None = None,
                generator: np.random.Generator | None = None, eye: FloatLike | None = None,
                target: FloatLike | None = None, bounds: FloatLike | None = None, scale: float = 1.0,
                fov_y_deg: float = DEFAULT_FOV_Y_DEG, width: int = DEFAULT_WIDTH, height: int = DEFAULT_HEIGHT,
                fps: float = DEFAULT_FPS) -> Cameras:
    """A random smooth trajectory of ``num_frames`` cameras.

    Args:
        kind: ``"re10k"`` (forward walks, slow pans) or ``"dl3dv"`` (arcs and orbits around ``target``).
        seed / generator: randomness; the same seed gives the same path. Give at most one
            (neither: fresh entropy).
        eye: (3,) start camera centre; default the centre of ``bounds``, else the origin.
        target: (3,) what the camera looks at first (``re10k``: only the start heading; ``dl3dv``: the
            orbit centre it keeps looking at). Default 2 * ``scale`` ahead along +z.
        bounds: (2, 3) ``[min_xyz, max_xyz]`` box that every camera centre must stay inside; ``eye``
            must be strictly inside. A walk that leaves the box is redrawn a few times, then shrunk
            toward a fixed point until it fits: for ``dl3dv`` the target when it is inside the box
            (every camera keeps its bearing on the target, the start moves closer to it), else the
            start camera (orientations unchanged).
        scale: scene units of the motion (``re10k`` walks ~0.5 to 1.5 * scale; ``dl3dv`` radius 2 * scale).
        fov_y_deg, width, height: intrinsics of every frame.
        fps: timestamps are ``i / fps``.

    Returns:
        ``Cameras`` (num_frames,), float64, OpenCV c2w.
    """
    if kind not in WALK_KINDS:
        raise ValueError(f"random_walk: kind must be one of {WALK_KINDS}, got {kind!r}")
    if seed is not None and generator is not None:
        raise ValueError("random_walk: give either seed or generator, not both")
    if not (float(scale) > 0 and math.isfinite(scale)):
        raise ValueError(f"random_walk: scale must be positive, got {scale}")
    rng = generator if generator is not None else np.random.default_rng(seed)
    box = None if bounds is None else _checked_bounds(bounds)
    eye_np = _vec3(eye, "eye") if eye is not None else (box.mean(0) if box is not None else np.zeros(3))
    if box is not None and not _strictly_inside(eye_np, box):
        raise ValueError(f"random_walk: eye {eye_np.tolist()} is not strictly inside bounds {box.tolist()}")
    target_np = _vec3(target, "target") if target is not None else eye_np + np.array([0.0, 0.0, 2.0 * scale])
    if np.linalg.norm(target_np - eye_np) < 1e-9:
        raise ValueError("random_walk: eye and target coincide, the start view direction is undefined")

    draw = _re10k_keyframes if kind == "re10k" else _dl3dv_keyframes
    best, best_fit, best_anchor = None, -1.0, eye_np
    for _ in range(_ATTEMPTS if box is not None else 1):
        keyframes, steady = draw(rng, eye_np, target_np, float(scale), fov_y_deg)
        cams = interpolate(keyframes, num_frames, width=width, height=height, fps=fps, constant_speed=steady)
        if box is None:
            return cams
        anchor = target_np if kind == "dl3dv" and _strictly_inside(target_np, box) else eye_np
        fit = _fit_factor(cams.centers.numpy(), anchor, box)
        if fit >= 1.0:
            return cams
        if fit > best_fit:
            best, best_fit, best_anchor = cams, fit, anchor
    # Shrinking toward a fixed point is an affine map of the centres: it keeps the path smooth
    # and, about the target, keeps every view direction toward it.
    anchor_t = torch.from_numpy(best_anchor)
    c2w = best.c2w.clone()
    c2w[:, :3, 3] = anchor_t + _BOUNDS_MARGIN * best_fit * (best.centers - anchor_t)
    return best.with_poses(c2w)


# --------------------------------------------------------------------------------------
# The two styles
# --------------------------------------------------------------------------------------

def _re10k_keyframes(rng: np.random.Generator, eye: np.ndarray, target: np.ndarray, scale: float,
                     fov_y_deg: float) -> tuple[list[Keyframe], bool]:
    """4 keyframes: a walk along a slowly turning heading (80%) or a near-static pan (20%).
    Also whether to space frames by arc length: yes for walks (a steady walking pace), no for a
    pan (its few millimetres of drift must not set the pace of the turn)."""
    up = _world_up()
    try:
        start = look_at(torch.from_numpy(eye), torch.from_numpy(target)).numpy()
    except ValueError as exc:
        raise ValueError(f"random_walk: {exc}") from exc
    forward = start[:3, 2] - (start[:3, 2] @ up) * up  # walk on the level, whatever the start pitch
    forward /= np.linalg.norm(forward)  # not zero: look_at refuses a view along up
    n_key = 4
    walking = rng.random() < 0.8
    if walking:
        step = scale * rng.uniform(0.5, 1.5) / (n_key - 1) * rng.uniform(0.8, 1.2, n_key - 1)
        heading = np.cumsum(np.concatenate([[0.0], rng.normal(0.0, math.radians(8.0), n_key - 1)]))
        look_yaw = heading + np.cumsum(rng.normal(0.0, math.radians(5.0), n_key))  # drifting pan, few reversals
        lateral = rng.normal(0.0, 0.1, n_key) * step.mean()
        vertical = rng.normal(0.0, 0.02, n_key) * step.mean()
    else:  # pan, barely moving
        step = scale * rng.uniform(0.0, 0.1) / (n_key - 1) * np.ones(n_key - 1)
        heading = np.zeros(n_key)
        look_yaw = np.linspace(0.0, math.radians(rng.uniform(20.0, 70.0)) * rng.choice([-1.0, 1.0]), n_key)
        look_yaw += rng.normal(0.0, math.radians(2.0), n_key)
        lateral = np.zeros(n_key)
        vertical = np.zeros(n_key)
    pitch = np.clip(np.cumsum(rng.normal(0.0, math.radians(2.5), n_key)), -math.radians(10), math.radians(10))
    roll = rng.normal(0.0, math.radians(1.0), n_key)
    for a in (look_yaw, pitch, roll, lateral, vertical):  # the walk starts exactly at the start camera
        a[0] = 0.0
    keyframes, position = [], eye.copy()
    for k in range(n_key):
        if k:
            position = position + step[k - 1] * _yawed(forward, 0.5 * (heading[k - 1] + heading[k]))
        right = np.cross(-up, _yawed(forward, heading[k]))
        centre = position + lateral[k] * right + vertical[k] * up
        R = _about(up, look_yaw[k]) @ start[:3, :3] @ _about(np.array([1.0, 0, 0]), pitch[k]) \
            @ _about(np.array([0, 0, 1.0]), roll[k])
        keyframes.append(_keyframe(R, centre, fov_y_deg))
    return keyframes, walking


def _dl3dv_keyframes(rng: np.random.Generator, eye: np.ndarray, target: np.ndarray, scale: float,
                     fov_y_deg: float) -> tuple[list[Keyframe], bool]:
    """4 to 8 keyframes on an arc of 40-180 degrees (sometimes 300) around the target, with the
    radius, height and aim point wandering; frames spaced by arc length (a steady pace)."""
    up = _world_up()
    offset = eye - target
    height = offset @ up
    horizontal = offset - height * up
    radius = np.linalg.norm(horizontal)
    if radius < 1e-6 * max(1.0, np.linalg.norm(offset)):
        raise ValueError("random_walk: for 'dl3dv' the eye must not be straight above or below the target")
    sweep = math.radians(300.0 if rng.random() < 0.2 else rng.uniform(40.0, 180.0)) * rng.choice([-1.0, 1.0])
    n_key = max(4, math.ceil(abs(sweep) / math.radians(45.0)) + 1)  # <= 45 degrees apart: a round arc
    fractions = np.linspace(0.0, 1.0, n_key)
    fractions[1:-1] += rng.uniform(-0.15, 0.15, n_key - 2) / (n_key - 1)  # uneven, never bunched up
    # Radius and height drift (cumulative steps) rather than jump per keyframe: no zig-zags.
    radius_scale = np.exp(np.cumsum(rng.normal(0.0, 0.06, n_key)))
    rise = np.cumsum(rng.normal(0.0, 0.05, n_key)) * radius
    aim = target + rng.normal(0.0, 0.05, (n_key, 3)) * radius
    roll = rng.normal(0.0, 2.0, n_key)
    radius_scale /= radius_scale[0]  # start exactly at the start camera
    rise -= rise[0]
    aim[0], roll[0] = target, 0.0
    keyframes = []
    for k in range(n_key):
        centre = target + radius_scale[k] * (_about(up, sweep * fractions[k]) @ horizontal) + (height + rise[k]) * up
        keyframes.append(Keyframe.look_at(centre, aim[k], fov_y_deg=fov_y_deg, roll_deg=float(roll[k])))
    return keyframes, True


# --------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------

def _world_up() -> np.ndarray:
    from .. import WORLD_UP

    return np.asarray(WORLD_UP, dtype=np.float64)


def _about(axis: np.ndarray, angle_rad: float) -> np.ndarray:
    """(3, 3) right-handed rotation by ``angle_rad`` about the unit ``axis`` (3,)."""
    return axis_angle_to_matrix(torch.from_numpy(np.asarray(axis, dtype=np.float64) * angle_rad)).numpy()


def _yawed(direction: np.ndarray, angle_rad: float) -> np.ndarray:
    return _about(_world_up(), angle_rad) @ direction


def _keyframe(R: np.ndarray, centre: np.ndarray, fov_y_deg: float) -> Keyframe:
    c2w = np.eye(4)
    c2w[:3, :3], c2w[:3, 3] = R, centre
    return Keyframe(c2w, fov_y_deg)


def _vec3(x: FloatLike, name: str) -> np.ndarray:
    v = as_tensor(x, f"random_walk: {name}", dtype=torch.float64).reshape(-1).numpy()
    if v.shape != (3,) or not np.isfinite(v).all():
        raise ValueError(f"random_walk: {name} must be a finite 3-vector, got {v.tolist()}")
    return v


def _checked_bounds(bounds: FloatLike) -> np.ndarray:
    box = as_tensor(bounds, "random_walk: bounds", dtype=torch.float64).numpy()
    if box.shape != (2, 3) or not np.isfinite(box).all():
        raise ValueError(f"random_walk: bounds must be a finite (2, 3) array [min_xyz, max_xyz], "
                         f"got shape {box.shape}")
    if np.any(box[1] <= box[0]):
        raise ValueError(f"random_walk: bounds must have min < max on every axis, got {box.tolist()}")
    return box


def _strictly_inside(p: np.ndarray, box: np.ndarray) -> bool:
    return bool(np.all(p > box[0]) and np.all(p < box[1]))


def _fit_factor(centres: np.ndarray, anchor: np.ndarray, box: np.ndarray) -> float:
    """Largest s <= 1 (or > 1 when it already fits) with ``anchor + s (centres - anchor)`` inside the box."""
    d = centres - anchor  # (N, 3)
    with np.errstate(divide="ignore", invalid="ignore"):
        room = np.where(d > 0, (box[1] - anchor) / d, np.where(d < 0, (box[0] - anchor) / d, np.inf))
    return float(room.min())
