"""``interpolate``: keyframes -> the exact per-frame cameras sent to the model (and shown in the preview).

Position (3,), rotation as a quaternion (4,) and zoom as ``log tan(fov_y / 2)`` (1,) are one
8-channel Kochanek-Bartels spline over the keyframe index (see ``spline.py``); seconds map onto
the index by a monotone PCHIP curve. The rotation is the normalised quaternion channel:
exactly orthonormal, C1, and without flips because consecutive quaternions are made
sign-consistent first. Zoom is interpolated in ``log tan(fov / 2)`` (log focal length) so a
zoom has a steady perceived rate and the FOV can never leave (0, 180) degrees, whatever the tension.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch

from ..cameras import Cameras
from ..transforms import make_pose, matrix_to_quaternion, quaternion_to_matrix
from ..validation import check_pose
from .keyframes import Keyframe, keyframe_times
from .spline import align_quaternion_signs, dense_knots, kochanek_bartels, knots_at_arc_length, seconds_to_knots

_POS, _QUAT, _ZOOM = slice(0, 3), slice(3, 7), 7
_SNAP = 1e-9  # knot parameters this close to an integer are that keyframe, copied exactly


def interpolate(keyframes: Sequence[Keyframe], num_frames: int, *, width: int, height: int,
                tension: float = 0.0, loop: bool = False, constant_speed: bool = False,
                fps: float | None = None) -> Cameras:
    """Sample a smooth camera path through ``keyframes``.

    Args:
        keyframes: at least 2 ``Keyframe``s (timing: see ``keyframe_times``).
        num_frames: number of output frames (>= 2), evenly spaced in time from the first to the
            last keyframe, both included; with ``loop`` over one full period, the start not repeated.
        width, height: image size in pixels for ``K``.
        tension: Kochanek-Bartels tension in [-1, 1]; 0 is Catmull-Rom, 1 is tight (stops at
            keyframes), negative is looser. Keyframes are always passed through exactly.
        loop: close the path back to the first keyframe with periodic (smooth) tangents; the
            closing transition lasts the last keyframe's ``duration``.
        constant_speed: space frames evenly along the path's arc length instead of honouring
            keyframe times (the speed cannot jump at keyframes). Arc length is the camera centre's;
            for a path without translation it is the rotation angle (pans, rolls), and for a
            pure zoom the change of log focal length. (So in a path that moves, a transition
            that only turns in place takes no time: time such paths with keyframe durations.)
        fps: if given, timestamps are ``i / fps``; else they are the path's time in seconds.

    The shape follows the keyframe order, not the timing (uniform knots, as in the nerfstudio
    and Stable Virtual Camera editors): retiming never bends the path. Like any uniform
    Catmull-Rom, keyframes spaced very unevenly (one gap > ~5x its neighbour) can overshoot;
    raise ``tension`` or add a keyframe.

    Returns:
        ``Cameras`` of batch shape (num_frames,), float64, centred principal point, square pixels.
        A frame that falls on a keyframe (its time, or its arc-length position) is that keyframe's
        pose and FOV bit for bit.

    Raises:
        ValueError: fewer than 2 keyframes, ``num_frames < 2``, bad tension or fps, times that
            do not increase, two consecutive keyframes with the same pose and FOV.
    """
    kfs = _checked_keyframes(keyframes, loop=loop)
    if isinstance(num_frames, bool) or int(num_frames) != num_frames or num_frames < 2:
        raise ValueError(f"interpolate: num_frames must be an integer >= 2, got {num_frames}")
    num_frames = int(num_frames)
    if not (-1.0 <= float(tension) <= 1.0):
        raise ValueError(f"interpolate: tension must be in [-1, 1], got {tension}")
    if fps is not None and not (float(fps) > 0 and math.isfinite(fps)):
        raise ValueError(f"interpolate: fps must be a positive number, got {fps}")

    n = len(kfs)
    times = keyframe_times(kfs, loop=loop)  # (n,) or (n + 1,) with the return to keyframe 0
    u_end = float(n if loop else n - 1)

    # 1. One spline over the keyframe index for position, rotation and zoom.
    values, quat_twist = _keyframe_channels(kfs, loop=loop)
    twist = np.ones(values.shape[1])
    twist[_QUAT] = quat_twist
    spline = kochanek_bartels(values, tension=float(tension), closed=loop, twist=twist)

    # 2. Where each frame sits on the spline.
    fractions = np.arange(num_frames) / (num_frames if loop else num_frames - 1)  # (N,) of the duration
    t_out = times[0] + fractions * (times[-1] - times[0])
    if constant_speed:
        u = _knots_at_constant_speed(spline, u_end, fractions)
    else:
        u = seconds_to_knots(times, closed=loop)(t_out)
    u = np.clip(u, 0.0, u_end)
    nearest = np.rint(u)
    on_key = np.abs(u - nearest) < _SNAP
    u[on_key] = nearest[on_key]
    if not constant_speed:  # keyframe times are honoured, so report them exactly
        t_out[on_key] = times[nearest[on_key].astype(int)]

    # 3. Evaluate; frames on a keyframe copy it (no round trip through quaternions).
    y = spline(u)  # (N, 8)
    q = y[:, _QUAT]
    q_norm = np.linalg.norm(q, axis=1)
    if q_norm.min() < 1e-6:
        raise ValueError("interpolate: the rotation spline passes through zero; lower |tension| or add a keyframe")
    R = quaternion_to_matrix(torch.from_numpy(q / q_norm[:, None]))
    c2w = make_pose(R, torch.from_numpy(np.ascontiguousarray(y[:, _POS])))
    fov_deg = torch.from_numpy(np.degrees(2.0 * np.arctan(np.exp(y[:, _ZOOM]))))
    for i in np.flatnonzero(on_key):
        kf = kfs[int(nearest[i]) % n]
        c2w[i] = kf.c2w
        fov_deg[i] = kf.fov_y_deg
    timestamps = torch.arange(num_frames, dtype=torch.float64) / fps if fps is not None else torch.from_numpy(t_out)
    return Cameras.from_fov(c2w, fov_y_deg=fov_deg, width=width, height=height, timestamps=timestamps)


def _checked_keyframes(keyframes: Sequence[Keyframe], *, loop: bool) -> list[Keyframe]:
    kfs = list(keyframes)
    bad = [i for i, kf in enumerate(kfs) if not isinstance(kf, Keyframe)]
    if bad:
        raise ValueError(f"interpolate: item(s) {bad} are not Keyframe (use Keyframe.from_dict for dicts)")
    if len(kfs) < 2:
        raise ValueError(f"interpolate: a path needs at least 2 keyframes, got {len(kfs)}")
    # Keyframes validate on construction; check again in case a tensor was edited in place.
    check_pose(torch.stack([kf.c2w for kf in kfs]), "keyframe c2w")
    pairs = list(zip(range(len(kfs) - 1), range(1, len(kfs))))
    if loop:
        pairs.append((len(kfs) - 1, 0))
    for a, b in pairs:
        same_pose = bool(torch.allclose(kfs[a].c2w, kfs[b].c2w, rtol=0.0, atol=1e-12))
        if same_pose and abs(kfs[a].fov_y_deg - kfs[b].fov_y_deg) < 1e-9:
            hint = " (loop=True already returns to the first keyframe; drop the repeated last one)" if b == 0 else ""
            raise ValueError(f"interpolate: keyframes {a} and {b} are identical in pose and FOV, "
                             f"so the transition between them is degenerate{hint}")
    return kfs


def _keyframe_channels(kfs: list[Keyframe], *, loop: bool) -> tuple[np.ndarray, float]:
    """(n, 8) spline values [position, sign-aligned wxyz quaternion, log tan(fov/2)] and the sign (+-1)
    with which the quaternion channel closes a loop (-1 when the last keyframe's aligned quaternion
    is nearer to -q_0, e.g. after a full turn)."""
    c2w = torch.stack([kf.c2w for kf in kfs])  # (n, 4, 4)
    quat = align_quaternion_signs(matrix_to_quaternion(c2w[:, :3, :3]).numpy())
    zoom = np.log(np.tan(np.radians([kf.fov_y_deg for kf in kfs]) / 2.0))
    values = np.concatenate([c2w[:, :3, 3].numpy(), quat, zoom[:, None]], axis=1)
    twist = -1.0 if loop and quat[-1] @ quat[0] < 0 else 1.0
    return values, twist


def _knots_at_constant_speed(spline, u_end: float, fractions: np.ndarray) -> np.ndarray:
    """Knot parameters evenly spaced in arc length: centre distance, else rotation angle, else zoom."""
    grid = dense_knots(u_end)
    y = spline(grid)
    pos = y[:, _POS]
    steps = np.linalg.norm(np.diff(pos, axis=0), axis=1)
    if steps.sum() <= 1e-9 * max(1.0, float(np.abs(pos).max())):  # no translation: a pan, tilt or roll
        q = y[:, _QUAT] / np.linalg.norm(y[:, _QUAT], axis=1, keepdims=True)
        # rotation angle between neighbours, 2 atan2(|a - b|, |a + b|), accurate for tiny steps
        steps = 2.0 * np.arctan2(np.linalg.norm(q[1:] - q[:-1], axis=1), np.linalg.norm(q[1:] + q[:-1], axis=1))
        if steps.sum() <= 1e-12:  # pose fixed: a pure zoom
            steps = np.abs(np.diff(y[:, _ZOOM]))
    if not steps.sum() > 0:
        return fractions * u_end
    return knots_at_arc_length(grid, steps, fractions)
