"""COLMAP baseline for pose estimation (pycolmap): SIFT extraction, exhaustive matching, incremental mapping.

    for ev in colmap_pose_events(frames, ref=0, intrinsics=K): ...     # ProgressEvent stream
    res = estimate_poses_colmap(frames, intrinsics=K)                  # ColmapPoseResult

Frames are (T, H, W, 3) uint8; the cameras come back on the frames' grid, canonicalised to ``ref``.
Model-grid frames are tiny (32 px), far below what SIFT needs, so frames smaller than ``min_side``
pixels are upscaled (bicubic) before extraction and the intrinsics scaled with them; the poses do not
depend on that scale. Intrinsics are held fixed (given, or a 60 degree vertical FOV guess, noted).

Frames COLMAP does not register get a placeholder pose (the reference pose, so nothing is NaN) and
are listed in ``registered`` and the notes; evaluation must count them as wrong
(``engine.evaluate.poses.masked_pose_metrics``).
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from PIL import Image

from geometry import Cameras

from ..events import CancelToken, ProgressEvent
from ..tasks import FALLBACK_FOV_DEG, PoseResult, _Job

LABEL = "COLMAP baseline (pycolmap: SIFT extraction, exhaustive matching, incremental mapping, given intrinsics)"
STAGES = ("extracting SIFT features", "exhaustive matching", "incremental mapping")


@dataclass
class ColmapPoseResult(PoseResult):
    """A ``PoseResult`` plus which frames COLMAP registered and how long it took."""

    registered: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))   # (T,) bool
    seconds: float = 0.0

    @property
    def num_unregistered(self) -> int:
        return int((~self.registered).sum())


def default_intrinsics(width: int, height: int, fov_y_deg: float = FALLBACK_FOV_DEG) -> np.ndarray:
    f = 0.5 * height / np.tan(np.radians(fov_y_deg) / 2)
    return np.array([[f, 0, width / 2], [0, f, height / 2], [0, 0, 1]], dtype=np.float64)


def _threads() -> int:
    return max(1, min(4, os.cpu_count() or 1))


def _run_colmap(folder: Path, names: list[str], K: np.ndarray, stage: int) -> dict:
    """One COLMAP stage in ``folder`` (0 extract, 1 match, 2 map). Mapping returns the reconstructions."""
    import pycolmap

    db = folder / "database.db"
    if stage == 0:
        reader = pycolmap.ImageReaderOptions()
        reader.camera_model = "PINHOLE"
        reader.camera_params = ",".join(f"{v:.6f}" for v in (K[0, 0], K[1, 1], K[0, 2], K[1, 2]))
        opts = pycolmap.FeatureExtractionOptions()
        opts.num_threads = _threads()
        pycolmap.extract_features(db, folder / "images", image_names=names, camera_mode=pycolmap.CameraMode.SINGLE,
                                  reader_options=reader, extraction_options=opts, device=pycolmap.Device.cpu)
        return {}
    if stage == 1:
        opts = pycolmap.FeatureMatchingOptions()
        opts.num_threads = _threads()
        pycolmap.match_exhaustive(db, matching_options=opts, device=pycolmap.Device.cpu)
        return {}
    opts = pycolmap.IncrementalPipelineOptions()
    opts.num_threads = _threads()
    opts.random_seed = 0
    opts.min_model_size = 3
    opts.min_num_matches = 15
    opts.ba_refine_focal_length = False              # given intrinsics: keep them fixed
    opts.ba_refine_principal_point = False
    opts.ba_refine_extra_params = False
    opts.mapper.abs_pose_refine_focal_length = False
    opts.mapper.abs_pose_refine_extra_params = False
    opts.mapper.init_min_num_inliers = 30            # short clips of small frames: fewer matches than photos
    opts.mapper.abs_pose_min_num_inliers = 15
    opts.mapper.init_min_tri_angle = 4.0
    (folder / "sparse").mkdir(exist_ok=True)
    return pycolmap.incremental_mapping(db, folder / "images", folder / "sparse", options=opts)


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


def colmap_pose_events(frames: np.ndarray, *, ref: int = 0, cancel: CancelToken | None = None,
                       to_source: Callable[[Cameras], Cameras] | None = None,
                       intrinsics: np.ndarray | torch.Tensor | None = None,
                       min_side: int = 256) -> Iterator[ProgressEvent]:
    """Cameras of a clip by COLMAP, as ``ProgressEvent``s (task "estimate_poses"); the "done" event
    carries a ``ColmapPoseResult``.

    Args:
        frames: (T, H, W, 3) uint8.
        ref: frame the trajectory is expressed in (if COLMAP does not register it, the first registered
            frame is used instead, and the notes say so).
        to_source: maps the frames'-grid cameras to the caller's pixels (the Engine's crop).
        intrinsics: (3, 3) K for the frames' grid (shared by all frames); None guesses a 60 degree FOV.
        min_side: frames whose shorter side is below this are upscaled to it for SIFT.
    """
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"colmap: expected (T, H, W, 3) uint8 frames, got {frames.shape} {frames.dtype}")
    T, H, W, _ = frames.shape
    if not 0 <= ref < T:
        raise ValueError(f"ref {ref} out of range for {T} frames")
    job = _Job("estimate_poses", cancel)
    notes = [LABEL]
    if intrinsics is None:
        K = default_intrinsics(W, H)
        notes.append(f"intrinsics not given: assumed a {FALLBACK_FOV_DEG:.0f} degree vertical FOV")
    else:
        K = np.asarray(torch.as_tensor(intrinsics).double().cpu(), dtype=np.float64)
        K = K.reshape(-1, 3, 3)[0]
    up = max(1.0, min_side / min(H, W))
    Hs, Ws = round(H * up), round(W * up)
    Ks = K.copy()
    Ks[0] *= Ws / W
    Ks[1] *= Hs / H
    if up > 1:
        notes.append(f"frames upscaled {W}x{H} -> {Ws}x{Hs} for SIFT (intrinsics scaled to match)")
    names = [f"{i:05d}.png" for i in range(T)]
    yield job.event("encode", message="writing frames for COLMAP")
    with tempfile.TemporaryDirectory(prefix="colmap-") as tmp:
        folder = Path(tmp)
        (folder / "images").mkdir()
        for name, f in zip(names, frames):
            img = Image.fromarray(f)
            if up > 1:
                img = img.resize((Ws, Hs), Image.BICUBIC)
            img.save(folder / "images" / name)
        recs: dict = {}
        for k, message in enumerate(STAGES):
            yield job.event("denoise", step=k, total=len(STAGES), message=f"COLMAP: {message}")
            try:
                recs = _run_colmap(folder, names, Ks, k)
            except Exception as exc:      # COLMAP failing on a clip is a result (nothing registered), not a crash
                notes.append(f"COLMAP {message} failed: {type(exc).__name__}: {exc}")
                break
        yield job.event("decode", step=len(STAGES), total=len(STAGES), message="reading the reconstruction")
        c2w, registered = _poses_from(recs, names)

    anchor = ref
    if registered.any() and not registered[ref]:
        anchor = int(np.flatnonzero(registered)[0])
        notes.append(f"reference frame {ref} not registered: poses are relative to frame {anchor}")
    c2w = np.linalg.inv(c2w[anchor]) @ c2w
    c2w[~registered] = np.eye(4)                 # placeholder: the reference pose (no NaN)
    far = np.linalg.norm(c2w[registered, :3, 3], axis=-1).max() if registered.any() else 0.0
    if far > 1e-9:
        c2w[:, :3, 3] /= far                     # COLMAP's scale is arbitrary: farthest camera 1 from the reference
    missing = np.flatnonzero(~registered).tolist()
    notes.append(f"registered {int(registered.sum())}/{T} frames" +
                 (f"; unregistered frames {missing} have a placeholder pose (the reference) and count as wrong"
                  if missing else ""))
    cams = Cameras(torch.as_tensor(c2w, dtype=torch.float32),
                   torch.as_tensor(K, dtype=torch.float32).expand(T, 3, 3).clone(), W, H)
    if to_source is not None:
        cams = to_source(cams)
    result = ColmapPoseResult(cams, np.zeros(T), anchor, notes, registered=registered,
                              seconds=time.perf_counter() - job.start)
    yield job.event("done", cameras=cams, result=result, message="; ".join(notes[1:]))


def estimate_poses_colmap(frames: np.ndarray, **kw) -> ColmapPoseResult:
    """Blocking form of ``colmap_pose_events``."""
    result = None
    for ev in colmap_pose_events(frames, **kw):
        if ev.stage == "done":
            result = ev.result
    return result
