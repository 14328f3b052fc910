"""COLMAP baseline for pose estimation (pycolmap): SIFT extraction, matching, incremental mapping.

    for ev in colmap_pose_events(frames, intrinsics=K): ...       # ProgressEvent stream, "done" last
    res = estimate_poses_colmap(frames, intrinsics=K)              # BaselinePoseResult

Frames are the clip's own (T, H, W, 3) uint8 pixels; the cameras come back for those pixels,
canonicalised to ``ref``. Given intrinsics ((3, 3) or (T, 3, 3), from a loaded camera file) go into a
PINHOLE camera per distinct K and stay fixed (no focal, principal-point or distortion refinement);
without them a 60 degree vertical FOV is assumed, fixed too, and the notes say so. Frames smaller than
``min_side`` pixels (a model-grid clip) are upscaled (bicubic) for SIFT, their intrinsics with them;
poses do not depend on that scale. Clips of up to ``EXHAUSTIVE_MAX_FRAMES`` frames are matched
exhaustively, longer ones sequentially (each frame with its ``SEQUENTIAL_OVERLAP`` successors).

Frames COLMAP does not register take the nearest registered frame's pose (``result.finish``), are listed
in the notes ("registered 12/16 frames; ...") and in ``result.registered``; evaluation counts them as wrong.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image

from geometry import Cameras

from ..events import CancelToken, ProgressEvent
from ..tasks import _Job
from .result import TASK, BaselinePoseResult, check_frames, default_intrinsics, finish, frame_intrinsics

METHOD = "colmap"
LABEL = "COLMAP baseline (pycolmap: SIFT extraction, matching, incremental mapping; intrinsics held fixed)"
EXHAUSTIVE_MAX_FRAMES = 32
SEQUENTIAL_OVERLAP = 10

ColmapPoseResult = BaselinePoseResult          # the name callers used before the baselines shared one result
__all__ = ["LABEL", "ColmapPoseResult", "colmap_pose_events", "default_intrinsics", "estimate_poses_colmap"]


def _threads() -> int:
    return max(1, min(4, os.cpu_count() or 1))


def _extract(folder: Path, names: list[str], K: np.ndarray) -> None:
    """SIFT into ``folder/database.db``: one PINHOLE camera per frame, then each set to its own fixed K."""
    import pycolmap

    db_path = folder / "database.db"
    reader = pycolmap.ImageReaderOptions()
    reader.camera_model = "PINHOLE"
    reader.camera_params = ",".join(f"{v:.9g}" for v in (K[0, 0, 0], K[0, 1, 1], K[0, 0, 2], K[0, 1, 2]))
    opts = pycolmap.FeatureExtractionOptions()
    opts.num_threads = _threads()
    shared = np.allclose(K, K[0], rtol=1e-6, atol=1e-9)
    mode = pycolmap.CameraMode.SINGLE if shared else pycolmap.CameraMode.PER_IMAGE
    pycolmap.extract_features(db_path, folder / "images", image_names=names, camera_mode=mode,
                              reader_options=reader, extraction_options=opts, device=pycolmap.Device.cpu)
    if shared:
        return
    index = {n: i for i, n in enumerate(names)}
    db = pycolmap.Database.open(db_path)
    try:
        for image in db.read_all_images():
            camera = db.read_camera(image.camera_id)
            k = K[index[image.name]]
            camera.params = [k[0, 0], k[1, 1], k[0, 2], k[1, 2]]
            db.update_camera(camera)
    finally:
        db.close()


def _match(folder: Path, num_frames: int) -> None:
    import pycolmap

    opts = pycolmap.FeatureMatchingOptions()
    opts.num_threads = _threads()
    db_path = folder / "database.db"
    if num_frames <= EXHAUSTIVE_MAX_FRAMES:
        pycolmap.match_exhaustive(db_path, matching_options=opts, device=pycolmap.Device.cpu)
    else:
        pairing = pycolmap.SequentialPairingOptions()
        pairing.overlap = SEQUENTIAL_OVERLAP
        pycolmap.match_sequential(db_path, matching_options=opts, pairing_options=pairing, device=pycolmap.Device.cpu)


def _map(folder: Path) -> dict:
    import pycolmap

    opts = pycolmap.IncrementalPipelineOptions()
    # One thread: with several, the same matches gave rotation AUC@30 66 or 100 on one real clip from run
    # to run; with one, the same answer every time (and mapping 16 frames is not where the time goes).
    opts.num_threads = 1
    opts.random_seed = 0
    opts.min_model_size = 3
    opts.min_num_matches = 15
    opts.ba_refine_focal_length = False              # intrinsics given or assumed: held fixed
    opts.ba_refine_principal_point = False
    opts.ba_refine_extra_params = False
    opts.mapper.abs_pose_refine_focal_length = False
    opts.mapper.abs_pose_refine_extra_params = False
    opts.mapper.init_min_num_inliers = 30            # short clips of video frames: fewer matches than photos
    opts.mapper.abs_pose_min_num_inliers = 15
    opts.mapper.init_min_tri_angle = 4.0
    (folder / "sparse").mkdir(exist_ok=True)
    return pycolmap.incremental_mapping(folder / "database.db", folder / "images", folder / "sparse", options=opts)


def _poses_from(recs: dict, names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """c2w (T, 4, 4) and registered (T,) from the largest reconstruction (identity where unregistered)."""
    T = len(names)
    c2w = np.tile(np.eye(4), (T, 1, 1))
    registered = np.zeros(T, dtype=bool)
    if not recs:
        return c2w, registered
    rec = max(recs.values(), key=lambda r: r.num_reg_images())
    index = {n: i for i, n in enumerate(names)}
    for image in rec.images.values():
        if image.name not in index or not image.has_pose:
            continue
        w2c = np.eye(4)
        w2c[:3] = image.cam_from_world().matrix()
        i = index[image.name]
        c2w[i] = np.linalg.inv(w2c)
        registered[i] = True
    return c2w, registered


def colmap_pose_events(frames: np.ndarray, *, intrinsics=None, ref: int = 0, cancel: CancelToken | None = None,
                       to_source: Callable[[Cameras], Cameras] | None = None,
                       min_side: int = 256) -> Iterator[ProgressEvent]:
    """Cameras of a clip by COLMAP, as ``ProgressEvent``s; the last ("done") carries a ``BaselinePoseResult``.

    Args:
        frames: (T, H, W, 3) uint8, T >= 2, at the clip's own resolution.
        intrinsics: None (a 60 degree vertical FOV is assumed, and noted), (3, 3) or (T, 3, 3) pixel K.
        ref: the frame the trajectory is expressed in.
        to_source: maps the frames' cameras to the caller's pixels (when the caller cropped them).
        min_side: frames whose shorter side is below this are upscaled to it for SIFT.
    Stages: "features", "matching", "mapping" (steps 0, 1, 2 of 3), then "done".
    """
    frames = check_frames(frames, METHOD, ref)
    T, H, W, _ = frames.shape
    job = _Job(TASK, cancel)
    K, k_note = frame_intrinsics(intrinsics, T, W, H, METHOD)
    notes = [LABEL, k_note]
    up = max(1.0, min_side / min(H, W))
    Hs, Ws = round(H * up), round(W * up)
    Ks = K.copy()
    Ks[:, 0] *= Ws / W
    Ks[:, 1] *= Hs / H
    if up > 1:
        notes.append(f"frames upscaled {W}x{H} -> {Ws}x{Hs} for SIFT (intrinsics scaled to match)")
    notes.append("matching: " + ("exhaustive" if T <= EXHAUSTIVE_MAX_FRAMES
                                 else f"sequential, each frame with its next {SEQUENTIAL_OVERLAP}"))
    names = [f"{i:05d}.png" for i in range(T)]
    stages = (("features", "COLMAP: SIFT features", lambda folder: _extract(folder, names, Ks)),
              ("matching", "COLMAP: matching", lambda folder: _match(folder, T)),
              ("mapping", "COLMAP: incremental mapping", _map))
    with tempfile.TemporaryDirectory(prefix="colmap-") as tmp:
        folder = Path(tmp)
        (folder / "images").mkdir()
        for name, f in zip(names, frames):
            img = Image.fromarray(f)
            if up > 1:
                img = img.resize((Ws, Hs), Image.BICUBIC)
            img.save(folder / "images" / name)
        recs: dict = {}
        for k, (stage, message, run) in enumerate(stages):
            yield job.event(stage, step=k, total=len(stages), message=message)
            try:
                recs = run(folder) or {}
            except Exception as exc:      # COLMAP failing on a clip is a result (nothing registered), not a crash
                notes.append(f"COLMAP {stage} failed: {type(exc).__name__}: {exc}")
                break
        c2w, registered = _poses_from(recs, names)
    done = finish(job, METHOD, c2w, registered, K, W, H, ref, notes)
    if to_source is not None:
        done.cameras = done.result.cameras = to_source(done.cameras)
    yield done


def estimate_poses_colmap(frames: np.ndarray, **kw) -> BaselinePoseResult:
    """Blocking form of ``colmap_pose_events``."""
    result = None
    for ev in colmap_pose_events(frames, **kw):
        if ev.stage == "done":
            result = ev.result
    return result
