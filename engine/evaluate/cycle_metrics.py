"""The cycle test's numbers, defined once (docs/metrics.md, "Cycle self-consistency") and used by
``Engine.cycle``, the evaluation harness and, through them, the CLI and the studio.

- ``generated_frame_quality``: mean PSNR / SSIM over the frames that were generated, never the source
  frames (those are given to the model, so counting them would flatter it).
- ``nearest_source_copy``: the answer that copies the nearest source frame, scored the same way beside them.
- ``other_trajectory`` and ``other_trajectory_check``: the control. A model that returns the same
  trajectory whatever it is shown agrees with itself on the regenerated clip, so its cycle error is
  tiny. Regenerating along a trajectory that is *not* its prediction and predicting again exposes it:
  its answer stays on its own path instead of following the clip.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from geometry import Cameras, axis_angle_to_matrix, make_pose
from geometry.metrics import pose_metrics

OTHER_PAN_DEG = 30.0
# The control passes when its poses land closer to the other trajectory than half the distance a model
# that ignored the clip would leave (that model scores the full distance, a faithful one about 0).
FOLLOW_FRACTION = 0.5


def generated_frame_quality(psnr: np.ndarray, ssim: np.ndarray, source_frames: Sequence[int]) -> tuple[float, float]:
    """Mean PSNR (dB) and SSIM of per-frame values (T,), the source frames excluded.

    Frames identical to the original have infinite PSNR and are left out of the PSNR mean (inf if all
    are); SSIM is a plain mean. Raises ValueError when every frame is a source frame.
    """
    psnr, ssim = np.asarray(psnr, dtype=np.float64), np.asarray(ssim, dtype=np.float64)
    keep = np.ones(len(psnr), dtype=bool)
    keep[[int(i) for i in source_frames]] = False
    if not keep.any():
        raise ValueError(f"all {len(psnr)} frames are source frames: no generated frame to score")
    finite = psnr[keep][np.isfinite(psnr[keep])]
    return (float(finite.mean()) if len(finite) else math.inf), float(ssim[keep].mean())


def nearest_source_copy(original: np.ndarray, source_frames: Sequence[int]) -> np.ndarray:
    """The input-free answer beside the regenerated frames: every frame (T, H, W, 3) replaced by the source
    frame nearest to it in time (the earlier one on a tie). It sees the sources but no camera, so the
    regenerated frames' PSNR means something only above its own."""
    src = np.asarray([int(i) for i in source_frames])
    if len(src) == 0 or src.min() < 0 or src.max() >= len(original):
        raise ValueError(f"source frames {src.tolist()} are not frames of a {len(original)}-frame clip")
    nearest = src[np.abs(np.arange(len(original))[:, None] - src[None]).argmin(1)]
    return np.asarray(original)[nearest]


def other_trajectory(predicted: Cameras, pan_deg: float = OTHER_PAN_DEG) -> Cameras:
    """The predicted trajectory (T,) with a pan to the right added, growing evenly from 0 at frame 0
    to ``pan_deg`` at the last frame: camera k turns about its own vertical axis, its centre stays.

    Frame 0 is unchanged, so the clip's first frame is a valid source for generating along it, and the
    path keeps the prediction's scale and speed, so the model sees a move like the ones it predicts.
    """
    T = len(predicted)
    angles = torch.linspace(0.0, math.radians(pan_deg), T, dtype=torch.float64)
    # OpenCV camera axes: +y points down, so a positive turn about +y swings the view to the right.
    pan = axis_angle_to_matrix(torch.stack([torch.zeros(T, dtype=torch.float64), angles,
                                            torch.zeros(T, dtype=torch.float64)], dim=-1))
    c2w = predicted.c2w.double() @ make_pose(pan, torch.zeros(T, 3, dtype=torch.float64))
    return Cameras(c2w.to(predicted.dtype), predicted.K, predicted.width, predicted.height, predicted.timestamps)


def other_trajectory_check(predicted: Cameras, other: Cameras, predicted_on_other: Cameras,
                           cycle_rot_err_deg: float) -> dict[str, Any]:
    """Report keys of the control (docs/metrics.md).

    ``predicted`` (T,): the model's trajectory of the clip; ``other`` (T,): the trajectory the control
    clip was generated along; ``predicted_on_other`` (T,): the model's trajectory of that clip.
    """
    follow = pose_metrics(predicted_on_other, other)
    ignore = pose_metrics(predicted, other)          # the score of a model that repeats its first answer
    rot, baseline = follow["mean_rot_err_deg"], ignore["mean_rot_err_deg"]
    flagged = bool(rot >= FOLLOW_FRACTION * baseline)
    warnings = []
    if flagged:
        warnings.append(f"the cycle error along another trajectory is {rot:.2f} deg, about what ignoring the "
                        f"clip would give ({baseline:.2f} deg; {cycle_rot_err_deg:.2f} deg along its own "
                        "prediction): the model's poses may not depend on its input, so a small cycle error "
                        "does not show consistency")
    return {"other_rot_err_deg": rot, "other_trans_err_deg": follow["mean_trans_err_deg"], "other_ATE": follow["ATE"],
            "other_ignoring_input_rot_err_deg": baseline, "input_independent": flagged, "warnings": warnings}
