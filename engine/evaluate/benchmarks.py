"""Evaluation clips on the model grid: held-out procedural scenes and real clips in RealEstate10K layout.

``load_benchmark("procedural", clip_cfg, n)``: scene seeds ``HELDOUT_SEEDS[0..n)`` (never used in
training), trajectory styles alternating RealEstate10K-like ("re10k") and DL3DV-like ("dl3dv"), each
drawn from a generator seeded by the scene seed only, so the set is fixed.
``load_benchmark("re10k:PATH", clip_cfg, n)``: the first n clips of the folder that have a video or
frame folder, every frame resized and centre-cropped: pose estimation scores whole clips (any length,
through the engine's windowing, docs/windowing.md); generation and the cycle test use ``num_frames``
of them picked evenly (fewer when the clip is shorter).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from engine.config import ClipConfig
from engine.media import IMAGE_SUFFIXES, frames_to_tensor, resize_center_crop, select_frames, tensor_to_uint8
from engine.windows import single_pass_frames
from geometry import Cameras

PROCEDURAL_STYLES = ("re10k", "dl3dv")


@dataclass
class EvalClip:
    """One clip: frames (T, H, W, 3) uint8 and ground-truth cameras on the model grid (T = 1 + 4k, what
    generation and the cycle test take), and, when those are picked from a longer clip, all its frames
    (N, H, W, 3) and cameras (N,), which pose estimation scores. A real clip also keeps its frames at
    their own resolution (N, H0, W0, 3) with cameras (N,) in those pixels: the classical baselines run
    on them, as a user with a calibrated camera would."""

    id: str
    frames: np.ndarray
    cameras: Cameras
    label: str = ""                  # trajectory style or source
    all_frames: np.ndarray | None = None
    all_cameras: Cameras | None = None
    native_frames: np.ndarray | None = None
    native_cameras: Cameras | None = None

    @property
    def pose_frames(self) -> np.ndarray:
        return self.frames if self.all_frames is None else self.all_frames

    @property
    def pose_cameras(self) -> Cameras:
        return self.cameras if self.all_cameras is None else self.all_cameras

    @property
    def baseline_frames(self) -> np.ndarray:
        """Every frame at the clip's own resolution (the model grid for procedural clips, rendered there)."""
        return self.pose_frames if self.native_frames is None else self.native_frames

    @property
    def baseline_cameras(self) -> Cameras:
        """Ground truth for ``baseline_frames``: the same poses as ``pose_cameras``, K in those pixels."""
        return self.pose_cameras if self.native_cameras is None else self.native_cameras


def procedural_clips(clip: ClipConfig, num_clips: int, *, supersample: int = 2,
                     styles: tuple[str, ...] = PROCEDURAL_STYLES, first_seed: int = 0) -> list[EvalClip]:
    """Held-out clips ``first_seed .. first_seed + num_clips - 1`` of ``HELDOUT_SEEDS``, styles in turn."""
    from engine.data import HELDOUT_SEEDS, render

    out = []
    for n in range(first_seed, first_seed + num_clips):
        scene, path = procedural_path(clip, n, styles=styles)
        frames = render(scene, path.cameras, supersample=supersample, depth=False).uint8().numpy()
        out.append(EvalClip(f"heldout-{HELDOUT_SEEDS[n]:04d}", frames, path.cameras.to(torch.float64), path.style))
    return out


def procedural_path(clip: ClipConfig, n: int, *, styles: tuple[str, ...] = PROCEDURAL_STYLES):
    """(scene, ``Trajectory``) of held-out clip ``n`` (``HELDOUT_SEEDS[n]``, style ``styles[n % len]``)."""
    from engine.data import HELDOUT_SEEDS, make_scene, sample_trajectory

    seed = HELDOUT_SEEDS[n]
    scene = make_scene(seed)
    path = sample_trajectory(scene, clip.num_frames, rng=np.random.default_rng([seed, 0xE7A1]),
                             style=styles[n % len(styles)], width=clip.width, height=clip.height)
    return scene, path


def count_frames(source: Path) -> int:
    """Frames of a video file (counted by ffmpeg, exact) or images in a frame folder."""
    import imageio.v2 as iio2

    if source.is_dir():
        return sum(1 for p in source.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    try:
        with iio2.get_reader(source, format="FFMPEG") as reader:
            return reader.count_frames()
    except Exception as exc:  # ffmpeg reports corrupt files through several exception types
        raise ValueError(f"{source}: cannot count its frames ({type(exc).__name__}: {exc})") from exc


def re10k_clips(root: str | Path, clip: ClipConfig, num_clips: int) -> list[EvalClip]:
    from engine.data import Re10kClips
    from engine.data.real_clips import read_frames
    from geometry.io import load_re10k

    ds = Re10kClips(root, clip)
    out = []
    for entry in ds._discover()[:num_clips]:
        cams = load_re10k(entry.poses, width=1, height=1)
        # Poses are paired with frames by row number: a count mismatch would score the wrong frames.
        n_frames = count_frames(entry.frames)
        if n_frames != len(cams):
            raise ValueError(f"{entry.frames} has {n_frames} frames but {entry.poses} has {len(cams)} pose rows; "
                             "they must match one to one")
        if len(cams) < 2:
            raise ValueError(f"{entry.poses} (and {entry.frames}): {len(cams)} frame; a clip needs at least 2")
        native = read_frames(entry.frames, np.arange(len(cams)))
        h0, w0 = native.shape[1:3]
        cams = Cameras(cams.c2w.double(), cams.K.double(), 1, 1).resized(w0, h0)
        x, crop = resize_center_crop(frames_to_tensor(native, name=entry.id), clip.height, clip.width)
        whole = Cameras(cams.c2w, crop.to_model_intrinsics(cams.K.double()), clip.width, clip.height)
        frames = tensor_to_uint8(x.float())
        # One pass of the model for generation and the cycle: num_frames picked evenly (fewer, or repeats,
        # when the clip is shorter).
        count = len(single_pass_frames(min(len(cams), clip.num_frames)))
        idx = select_frames(len(cams), count) if count <= len(cams) else single_pass_frames(len(cams))
        out.append(EvalClip(entry.id, frames[idx], whole[idx.tolist()], "re10k (real)", frames, whole, native, cams))
    return out


def load_benchmark(spec: str, clip: ClipConfig, num_clips: int) -> list[EvalClip]:
    """``"procedural"`` or ``"re10k:PATH"``."""
    if spec == "procedural":
        return procedural_clips(clip, num_clips)
    if spec.startswith("re10k:"):
        clips = re10k_clips(spec.split(":", 1)[1], clip, num_clips)
        if not clips:
            raise ValueError(f"{spec}: no usable clips (a <id>.txt with <id>.mp4 or an <id>/ frame folder)")
        return clips
    raise ValueError(f"benchmark must be 'procedural' or 're10k:PATH', got {spec!r}")
