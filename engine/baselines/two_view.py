"""Two-view baseline: OpenCV SIFT + Lowe ratio test + essential matrix (RANSAC) between neighbouring
frames, chained into one trajectory.

    for ev in two_view_pose_events(frames, intrinsics=K): ...    # ProgressEvent stream, "done" last

For each pair (i, i+1): SIFT keypoints of both frames, mutual-nearest descriptors kept when the best
match is clearly better than the second (ratio ``RATIO``), ``cv2.findEssentialMat`` with RANSAC on
normalised coordinates (so each frame may have its own K), ``cv2.recoverPose`` for the rotation and
translation direction, and the inliers triangulated. The step length of pair (i, i+1) comes from the
points it shares with pair (i-1, i): both pairs triangulate them in frame i, and the median depth
ratio carries the previous pair's scale on, so the chain has one consistent scale. Where too few
points are shared, the step keeps the previous step's length (unit steps when nothing triangulates),
and the notes count which steps got which. A pair without a usable essential matrix (too few matches:
blank, blurred or unrelated frames) gives no pose for its second frame: that frame takes the nearest
posed frame's pose (``result.finish``) and the chain goes on from it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from ..events import CancelToken, ProgressEvent
from ..tasks import _Job
from .result import TASK, check_frames, finish, frame_intrinsics

METHOD = "two-view"
LABEL = ("two-view baseline (OpenCV SIFT, ratio test, essential matrix with RANSAC between neighbouring frames, "
         "chained)")
RATIO = 0.8                    # Lowe's ratio test
MAX_FEATURES = 4000
CONTRAST = 0.02               # SIFT contrast threshold: half OpenCV's default, for low-texture indoor video
RANSAC_PX = 1.0                # essential-matrix inlier threshold, pixels
MIN_INLIERS = 15               # fewer: no pose for the pair
MIN_SHARED = 8                 # triangulated points shared by consecutive pairs needed to carry the scale on


@dataclass
class _Features:
    keypoints: np.ndarray      # (N, 2) pixel coordinates, pixel centres at +0.5 (the project's convention)
    descriptors: np.ndarray    # (N, 128) float32


@dataclass
class _Pair:
    R: np.ndarray              # (3, 3) rotation, camera i -> camera i+1 (x_{i+1} = R x_i + t)
    t: np.ndarray              # (3,) unit translation direction
    depth_second: dict[int, float]   # keypoint index in frame i+1 -> depth there (unit-baseline scale)
    depth_first: dict[int, float]    # keypoint index in frame i -> depth there


def _features(gray: np.ndarray) -> _Features:
    import cv2

    sift = cv2.SIFT_create(nfeatures=MAX_FEATURES, contrastThreshold=CONTRAST)
    kps, desc = sift.detectAndCompute(gray, None)
    if desc is None or len(kps) == 0:
        return _Features(np.zeros((0, 2)), np.zeros((0, 128), np.float32))
    # OpenCV puts pixel centres at integer coordinates; the project puts them at +0.5.
    return _Features(np.array([k.pt for k in kps], dtype=np.float64) + 0.5, desc)


def _matches(a: _Features, b: _Features) -> np.ndarray:
    """(M, 2) keypoint index pairs passing the ratio test both ways (mutual)."""
    import cv2

    if len(a.descriptors) < 2 or len(b.descriptors) < 2:
        return np.zeros((0, 2), dtype=int)
    matcher = cv2.BFMatcher(cv2.NORM_L2)

    def one_way(x, y) -> dict[int, int]:
        out = {}
        for pair in matcher.knnMatch(x, y, k=2):
            if len(pair) == 2 and pair[0].distance < RATIO * pair[1].distance:
                out[pair[0].queryIdx] = pair[0].trainIdx
        return out

    ab, ba = one_way(a.descriptors, b.descriptors), one_way(b.descriptors, a.descriptors)
    return np.array([(i, j) for i, j in ab.items() if ba.get(j) == i], dtype=int).reshape(-1, 2)


def _normalised(points: np.ndarray, K: np.ndarray) -> np.ndarray:
    """(N, 2) pixels -> (N, 2) normalised image coordinates K^-1 [u, v, 1]."""
    h = np.concatenate([points, np.ones((len(points), 1))], axis=1) @ np.linalg.inv(K).T
    return h[:, :2] / h[:, 2:]


def _relative_pose(a: _Features, b: _Features, Ka: np.ndarray, Kb: np.ndarray) -> _Pair | None:
    import cv2

    m = _matches(a, b)
    if len(m) < MIN_INLIERS:
        return None
    pa, pb = _normalised(a.keypoints[m[:, 0]], Ka), _normalised(b.keypoints[m[:, 1]], Kb)
    focal = float(np.mean([Ka[0, 0], Ka[1, 1], Kb[0, 0], Kb[1, 1]]))
    eye = np.eye(3)
    E, mask = cv2.findEssentialMat(pa, pb, eye, method=cv2.RANSAC, prob=0.999, threshold=RANSAC_PX / focal)
    if E is None or mask is None or E.shape != (3, 3):      # several solutions come stacked: take the first
        if E is None or mask is None or E.shape[0] < 3:
            return None
        E = E[:3]
    inliers, R, t, mask, points = cv2.recoverPose(E, pa, pb, eye, distanceThresh=1e4, mask=mask.copy())
    keep = mask.ravel() > 0
    if inliers < MIN_INLIERS or not keep.any():
        return None
    X = points[:3] / points[3]                                # (3, N) in camera i, unit baseline
    Xb = R @ X + t                                            # the same points in camera i+1
    ok = keep & (X[2] > 0) & (Xb[2] > 0) & np.isfinite(X).all(0)
    return _Pair(R, t.ravel(), {int(m[k, 1]): float(Xb[2, k]) for k in np.flatnonzero(ok)},
                 {int(m[k, 0]): float(X[2, k]) for k in np.flatnonzero(ok)})


def _scale_ratio(previous: _Pair, current: _Pair) -> float | None:
    """The current step's length in chain units: median over the points both pairs triangulate in their
    shared frame of (depth from the previous pair, chain units) / (depth from this pair, unit baseline);
    None when fewer than ``MIN_SHARED`` are shared."""
    shared = previous.depth_second.keys() & current.depth_first.keys()
    if len(shared) < MIN_SHARED:
        return None
    ratio = np.median([previous.depth_second[k] / current.depth_first[k] for k in shared])
    return float(ratio) if np.isfinite(ratio) and ratio > 0 else None


def two_view_pose_events(frames: np.ndarray, *, intrinsics=None, ref: int = 0,
                         cancel: CancelToken | None = None) -> Iterator[ProgressEvent]:
    """Cameras of a clip from chained two-view geometry, as ``ProgressEvent``s; the last ("done")
    carries a ``BaselinePoseResult``.

    Args:
        frames: (T, H, W, 3) uint8, T >= 2, at the clip's own resolution.
        intrinsics: None (a 60 degree vertical FOV is assumed, and noted), (3, 3) or (T, 3, 3) pixel K.
        ref: the frame the trajectory is expressed in.
    Stages: "features" (one step per frame), "pair" (one step per neighbouring pair), then "done".
    """
    import cv2

    frames = check_frames(frames, METHOD, ref)
    T, H, W, _ = frames.shape
    job = _Job(TASK, cancel)
    K, k_note = frame_intrinsics(intrinsics, T, W, H, METHOD)
    notes = [LABEL, k_note]

    feats = []
    for i, frame in enumerate(frames):
        yield job.event("features", step=i, total=T, message=f"SIFT features {i + 1}/{T}")
        feats.append(_features(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)))

    c2w = np.tile(np.eye(4), (T, 1, 1))
    registered = np.zeros(T, dtype=bool)
    registered[0] = True                       # the chain's origin
    previous: _Pair | None = None
    step_length = 1.0
    scaled, carried, failed = 0, 0, []
    for i in range(T - 1):
        yield job.event("pair", step=i, total=T - 1, message=f"pair {i + 1}/{T - 1}")
        pair = _relative_pose(feats[i], feats[i + 1], K[i], K[i + 1])
        if pair is None:
            failed.append(i + 1)
            c2w[i + 1] = c2w[i]                # no motion known: the chain continues from frame i's pose
            previous = None
            continue
        ratio = _scale_ratio(previous, pair) if previous is not None else None
        if ratio is not None:
            step_length = ratio
            scaled += 1
        elif i > 0:
            carried += 1
        # Depths came in units of this pair's (unit) baseline: in chain units they carry the scale on.
        pair.depth_second = {k: d * step_length for k, d in pair.depth_second.items()}
        w2c_step = np.eye(4)
        w2c_step[:3, :3], w2c_step[:3, 3] = pair.R, pair.t * step_length
        c2w[i + 1] = c2w[i] @ np.linalg.inv(w2c_step)
        registered[i + 1] = True
        previous = pair

    posed_steps = T - 1 - len(failed)
    if posed_steps <= 1:
        notes.append("translation scale: unit steps (fewer than two posed pairs)")
    elif carried == 0:
        notes.append(f"translation scale: from the previous pair's triangulated points for all {scaled} later steps")
    else:
        notes.append(f"translation scale: from the previous pair's triangulated points for {scaled} of "
                     f"{posed_steps - 1} later steps; {carried} kept the previous step's length (unit steps when "
                     "none triangulates)")
    if failed:
        notes.append(f"no essential matrix for the pairs ending at frames {failed} (too few matches)")
    if not registered[1:].any():
        registered[0] = False                  # no pair worked: frame 0 is no more posed than any other
    yield finish(job, METHOD, c2w, registered, K, W, H, ref, notes, what_missing="posed")
