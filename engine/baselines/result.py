"""What every classical pose baseline shares: input checks, intrinsics, the result and its notes.

A baseline recovers some frames' poses and may miss others. ``finish`` turns its raw poses into the
result the engine uses everywhere: frames without a pose take the pose of the nearest frame that has
one (by frame index, the earlier on a tie; the reference pose when none has one), so nothing is NaN,
and ``registered`` says which poses are real so an evaluation can count the others as wrong
(``engine.evaluate.poses.masked_pose_metrics``). Poses are canonicalised to ``ref`` and scaled so the
farthest camera is 1 from the reference: monocular methods know translation only up to scale.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch

from geometry import Cameras
from geometry.validation import check_intrinsics

from ..events import ProgressEvent
from ..tasks import FALLBACK_FOV_DEG, PoseResult, _Job

TASK = "estimate_poses"


@dataclass
class BaselinePoseResult(PoseResult):
    """A ``PoseResult`` from a classical baseline: cameras (T,) in the input frames' pixels,
    canonicalised to ``ref``; which frames got a real pose; how long it took."""

    method: str = ""
    registered: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))   # (T,) bool
    seconds: float = 0.0

    @property
    def num_unregistered(self) -> int:
        return int((~self.registered).sum())


def check_frames(frames, method: str, ref: int) -> np.ndarray:
    """(T, H, W, 3) uint8 with T >= 2 and a valid ``ref``, or a one-line ``ValueError``."""
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"{method} baseline: expected frames of shape (T, H, W, 3) uint8, "
                         f"got {frames.shape} {frames.dtype}")
    T = frames.shape[0]
    if T < 2:
        raise ValueError(f"{method} baseline: needs at least 2 frames to estimate camera motion, got {T}")
    if not -T <= ref < T:
        raise ValueError(f"{method} baseline: ref {ref} out of range for {T} frames")
    return frames


def default_intrinsics(width: int, height: int, fov_y_deg: float = FALLBACK_FOV_DEG) -> np.ndarray:
    """(3, 3) K with square pixels, a centred principal point and the given vertical FOV."""
    f = 0.5 * height / np.tan(np.radians(fov_y_deg) / 2)
    return np.array([[f, 0, width / 2], [0, f, height / 2], [0, 0, 1]], dtype=np.float64)


def frame_intrinsics(intrinsics, num_frames: int, width: int, height: int, method: str) -> tuple[np.ndarray, str]:
    """Per-frame pixel K (T, 3, 3) float64 for ``width`` x ``height`` frames, and the note saying where
    it came from: ``intrinsics`` (None, (3, 3) shared or (T, 3, 3)) or the assumed vertical FOV."""
    if intrinsics is None:
        K = default_intrinsics(width, height)
        note = (f"intrinsics not given: assumed a {FALLBACK_FOV_DEG:.0f} degree vertical FOV "
                f"(f = {K[0, 0]:.1f} px, centred principal point)")
        return np.broadcast_to(K, (num_frames, 3, 3)).copy(), note
    K = torch.as_tensor(np.asarray(intrinsics) if not isinstance(intrinsics, torch.Tensor) else intrinsics)
    K = K.detach().to("cpu", torch.float64)
    if tuple(K.shape) not in ((3, 3), (num_frames, 3, 3)):
        raise ValueError(f"{method} baseline: intrinsics must be (3, 3) or ({num_frames}, 3, 3) for "
                         f"{num_frames} frames, got {tuple(K.shape)}")
    check_intrinsics(K, f"{method} baseline: intrinsics")
    K = K.expand(num_frames, 3, 3).numpy().copy()
    k0 = K[0]
    shared = np.allclose(K, k0, rtol=1e-6, atol=1e-9)
    note = (f"intrinsics given ({'shared' if shared else 'per frame, first'}: fx {k0[0, 0]:.1f}, fy {k0[1, 1]:.1f}, "
            f"cx {k0[0, 2]:.1f}, cy {k0[1, 2]:.1f} px for {width}x{height} frames), held fixed")
    return K, note


def nearest_registered(registered: np.ndarray) -> np.ndarray:
    """(T,) index of the nearest registered frame for each frame (itself when registered; the earlier
    on a tie). All-unregistered input maps every frame to itself."""
    have = np.flatnonzero(registered)
    T = len(registered)
    if len(have) == 0:
        return np.arange(T)
    dist = np.abs(np.arange(T)[:, None] - have[None, :])                  # (T, R)
    return have[np.argmin(dist, axis=1)]                                   # argmin keeps the first (earlier)


def finish(job: _Job, method: str, c2w: np.ndarray, registered: np.ndarray, K: np.ndarray,
           width: int, height: int, ref: int, notes: list[str], *, what_missing: str = "registered") -> ProgressEvent:
    """The "done" event of a baseline.

    Args:
        c2w: (T, 4, 4) raw camera-to-world poses in any world frame and scale (unregistered rows ignored).
        registered: (T,) bool, which rows are real.
        K: (T, 3, 3) pixel intrinsics of the frames.
        notes: the method's notes so far (label first); the registration summary is appended.
    """
    T = len(c2w)
    ref = ref % T
    src = nearest_registered(registered)
    c2w = np.where(registered[:, None, None], c2w, np.eye(4))[src]
    c2w = np.linalg.inv(c2w[ref]) @ c2w
    far = np.linalg.norm(c2w[:, :3, 3], axis=-1).max()
    if far > 1e-9:
        c2w[:, :3, 3] /= far
    missing = np.flatnonzero(~registered).tolist()
    summary = f"{what_missing} {int(registered.sum())}/{T} frames"
    if missing and registered.any():
        fills = ", ".join(f"{i}<-{int(src[i])}" for i in missing)
        summary += f"; frames without a pose take the nearest posed frame's pose ({fills}) and count as wrong"
    elif missing:
        summary += "; no frame has a pose: every frame takes the reference pose and counts as wrong"
    notes = notes + [summary]
    cams = Cameras(torch.as_tensor(c2w, dtype=torch.float32), torch.as_tensor(K, dtype=torch.float32), width, height)
    result = BaselinePoseResult(cams, np.zeros(T), ref, notes, method=method, registered=registered.copy(),
                                seconds=time.perf_counter() - job.start)
    return job.event("done", cameras=cams, result=result, message="; ".join(notes[1:]))
