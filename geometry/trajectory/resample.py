"""``resample``: a dense camera trajectory (one camera per frame) -> the same path with another frame count.

Used when a camera file has N rows but the model makes T frames (``Engine.generate`` with a 16-row
RealEstate10K file and a 1 + 4k model). Frames are spread evenly over the input's frame *index*
(output frame j sits at index ``j (N - 1) / (T - 1)``), so the path keeps its shape and its speed
profile. Between two input cameras:

- position: Catmull-Rom (``spline.kochanek_bartels``, tension 0, the studio's keyframe spline), which
  passes through every input camera and reproduces straight, constant-speed motion exactly;
- rotation: ``scipy`` ``Slerp`` between the two neighbours (on the geodesic, at a constant rate);
- intrinsics and timestamps: linear between the two neighbours (equal neighbours stay equal).

An output frame that falls on an input frame is that camera bit for bit, so N -> N returns the input.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.interpolate import interp1d
from scipy.spatial.transform import Rotation, Slerp

from ..cameras import Cameras
from ..transforms import make_pose
from .spline import kochanek_bartels

_SNAP = 1e-9  # output positions this close to an input index copy that camera exactly


def resample(cameras: Cameras, num_frames: int) -> Cameras:
    """The trajectory ``cameras`` (batch shape (N,)) as ``num_frames`` cameras along the same path.

    Args:
        cameras: a trajectory of N >= 1 cameras, in order. A single camera gives a still shot.
        num_frames: the number of output cameras (>= 1); 1 gives the first camera.

    Returns:
        ``Cameras`` (num_frames,) with the input's dtype, device, width and height; ``timestamps``
        when the input has them. Frames falling on an input frame copy it exactly.

    Raises:
        ValueError: not a (N,) trajectory, or ``num_frames`` not a whole number >= 1.
    """
    if not isinstance(cameras, Cameras) or len(cameras.batch_shape) != 1 or len(cameras) < 1:
        shape = tuple(cameras.batch_shape) if isinstance(cameras, Cameras) else type(cameras).__name__
        raise ValueError(f"resample: expected a Cameras trajectory of batch shape (N,) with N >= 1, got {shape}")
    if isinstance(num_frames, bool) or not isinstance(num_frames, (int, np.integer)) or num_frames < 1:
        raise ValueError(f"resample: num_frames must be a whole number >= 1, got {num_frames!r}")
    n, m = len(cameras), int(num_frames)
    c2w = cameras.c2w.detach().to("cpu", torch.float64)
    K = cameras.K.detach().to("cpu", torch.float64).numpy()
    ts = None if cameras.timestamps is None else cameras.timestamps.detach().to("cpu", torch.float64).numpy()

    u = np.linspace(0.0, n - 1.0, m) if m > 1 else np.zeros(1)   # (m,) positions on the input's frame index
    nearest = np.rint(u)
    on_input = np.abs(u - nearest) < _SNAP
    u[on_input] = nearest[on_input]

    if n == 1:
        out_c2w = c2w.expand(m, 4, 4).clone()
        out_K, out_ts = np.repeat(K, m, axis=0), None if ts is None else np.repeat(ts, m)
    else:
        index = np.arange(float(n))
        centres = kochanek_bartels(c2w[:, :3, 3].numpy(), tension=0.0)(u)               # (m, 3)
        R = Slerp(index, Rotation.from_matrix(c2w[:, :3, :3].numpy()))(u).as_matrix()   # (m, 3, 3)
        out_c2w = make_pose(torch.from_numpy(R), torch.from_numpy(centres))
        out_K = interp1d(index, K, axis=0)(u)
        out_ts = None if ts is None else interp1d(index, ts)(u)
        # Frames on an input frame are that camera itself, not its round trip through the interpolants.
        hit = np.flatnonzero(on_input)
        src = nearest[hit].astype(int)
        out_c2w[hit] = c2w[src]
        out_K[hit] = K[src]
        if out_ts is not None:
            out_ts[hit] = ts[src]
    dtype, device = cameras.dtype, cameras.device
    return Cameras(out_c2w.to(device, dtype), torch.from_numpy(np.ascontiguousarray(out_K)).to(device, dtype),
                   cameras.width, cameras.height,
                   None if out_ts is None else torch.from_numpy(np.ascontiguousarray(out_ts)).to(device, dtype))


__all__ = ["resample"]
