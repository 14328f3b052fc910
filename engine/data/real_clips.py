"""Real clips, streamed: RealEstate10K folders, COLMAP scenes and transforms.json scenes.

All are ``IterableDataset`` streams (numbered, worker-aware and resumable as described in ``stream``)
that cycle through their clips, reshuffled every pass (``epochs`` passes, None = endless).

Streaming: discovering clips only lists files; a clip's poses are parsed, and only the frames of its
chosen window decoded, when its item comes up. Nothing is loaded whole.

Bad data: a clip that cannot be used (no video, unreadable or corrupt video, bad pose file, missing
images) is skipped with a ``UserWarning`` naming the file and the problem (pose-file errors from
``geometry.io`` give the line or key) and recorded in ``dataset.skipped`` (clip id -> reason; per
process, so per DataLoader worker). A stream whose clips are all bad ends instead of spinning.

Metric scale: a dataset folder (or a scene folder, or its parent) may hold ``scale.json``: either one
number, the metres per pose unit of every clip, or an object ``{"<clip id>": metres_per_unit, ...}``
(clip id = the RealEstate10K file stem, or the scene folder's name). Clips with a known scale keep
metric scale (shrunk into the unit ball only when larger, as ``encode_cameras`` does); clips without
one are normalised per example so the farthest camera of the window is 1 from the reference.

Note on RealEstate10K intrinsics (docs/formats.md): the format's rule gives non-square pixels for
the 384x256 clips (squashed from 16:9); the frames are squashed the same way, so K and pixels agree
and the builder's crop handles them like any other intrinsics.
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch
from torch.utils.data import IterableDataset

from engine.config import ClipConfig
from engine.media import IMAGE_SUFFIXES, MAX_FRAMES, load_image, stack_frames
from geometry import Cameras
from geometry.io import load_colmap, load_re10k, load_transforms

from .examples import sample_frame_window
from .stream import ExampleOptions, worker_positions

SCALE_FILE = "scale.json"


@dataclass
class ClipEntry:
    """One usable clip found on disk: ``id`` (for logs and ``scale.json``), what to read, its scale."""

    id: str
    poses: Path
    frames: Path | None = None        # a video file, or a folder of images
    metric_scale: float | None = None


class _RealClips(IterableDataset):
    """A numbered stream over clips found on disk, reshuffled every pass; subclasses find and read clips."""

    def __init__(self, clip: ClipConfig, *, seed: int = 0, start: int = 0, chunk: int = 1, epochs: int | None = None,
                 shuffle: bool = True, raxel_downsample: int = 1, encoding: str = "raxel", reverse_prob: float = 0.5,
                 max_stride: int = 2, min_sources: int = 1, max_sources: int | None = None):
        self.options = ExampleOptions(clip, raxel_downsample, encoding, reverse_prob, max_stride, min_sources,
                                       max_sources)
        self.seed, self.start, self.chunk = int(seed), int(start), int(chunk)
        self.epochs, self.shuffle = epochs, shuffle
        self.skipped: dict[str, str] = {}
        self._failed: set[str] = set()               # entries found on disk that turned out unusable
        self.entries: list[ClipEntry] = self._discover()
        if not self.entries:
            warnings.warn(f"{type(self).__name__}: no usable clips found ({len(self.skipped)} skipped)", UserWarning,
                          stacklevel=2)

    # ---- subclass hooks ------------------------------------------------------------------------

    def _discover(self) -> list[ClipEntry]:
        raise NotImplementedError

    def _read(self, entry: ClipEntry, rng: np.random.Generator) -> tuple[Any, Cameras, np.ndarray | None]:
        """Frames, their cameras, and the chosen window (None: let the builder choose)."""
        raise NotImplementedError

    # ---- stream ---------------------------------------------------------------------------------

    @property
    def num_skipped(self) -> int:
        return len(self.skipped)

    def skip(self, clip_id: str, reason: str) -> None:
        """Record and warn about a clip that cannot be used (once per clip)."""
        if clip_id not in self.skipped:
            self.skipped[clip_id] = reason
            warnings.warn(f"skipping clip {clip_id}: {reason}", UserWarning, stacklevel=2)

    def entry_at(self, n: int) -> ClipEntry:
        """The clip of item ``n``: pass ``n // len`` is a fresh permutation (seeded by seed and pass)."""
        if not self.entries:
            raise ValueError(f"{type(self).__name__}: no usable clips ({len(self.skipped)} skipped: "
                             f"{'; '.join(list(self.skipped.values())[:3])})")
        epoch, position = divmod(n, len(self.entries))
        order = (np.random.default_rng([self.seed, epoch, 0x5EED]).permutation(len(self.entries))
                 if self.shuffle else np.arange(len(self.entries)))
        return self.entries[int(order[position])]

    def example(self, n: int) -> dict[str, torch.Tensor] | None:
        """Item ``n``, or None (with a warning) when its clip turns out unusable."""
        entry = self.entry_at(n)
        if entry.id in self.skipped:
            return None
        rng = np.random.default_rng([self.seed, n, 0xDA7A])
        try:
            frames, cameras, idx = self._read(entry, rng)
            return self.options.build(frames, cameras, rng, metric_scale=entry.metric_scale, frame_idx=idx)
        except (ValueError, OSError, RuntimeError) as exc:
            self.skip(entry.id, str(exc))
            self._failed.add(entry.id)
            return None

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        if not self.entries:
            return
        stop = None if self.epochs is None else self.epochs * len(self.entries)
        for n in worker_positions(self.start, stop, self.chunk):
            if len(self._failed) == len(self.entries):
                return                                     # every clip is bad: stop instead of spinning
            ex = self.example(n)
            if ex is not None:
                yield ex


def read_scales(folder: Path) -> tuple[float | None, dict[str, float]]:
    """``scale.json`` of a folder: (scale for every clip or None, per-clip scales)."""
    path = Path(folder) / SCALE_FILE
    if not path.is_file():
        return None, {}
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from exc

    def positive(value: Any, where: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not (value > 0 and math.isfinite(value)):
            raise ValueError(f"{path}: {where} must be a positive number of metres per unit, got {value!r}")
        return float(value)

    if isinstance(doc, (int, float)) and not isinstance(doc, bool):
        return positive(doc, "the scale"), {}
    if isinstance(doc, dict):
        return None, {str(k): positive(v, f"scale of {k!r}") for k, v in doc.items()}
    raise ValueError(f"{path}: expected a number or an object {{clip id: metres per unit}}")


def read_frames(source: Path, indices: np.ndarray) -> np.ndarray:
    """Frames ``indices`` (T,) of a video file or image folder as (T, H, W, 3) uint8, decoding a video
    only up to its last needed frame."""
    import imageio.v3 as iio

    wanted = [int(i) for i in indices]
    if source.is_dir():
        files = sorted(p for p in source.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if max(wanted) >= len(files):
            raise ValueError(f"{source}: needs frame {max(wanted)}, the folder has {len(files)} images")
        return stack_frames([load_image(files[i]) for i in wanted], str(source))
    if not source.is_file() or source.stat().st_size == 0:
        raise ValueError(f"{source}: video file missing or empty")
    need, last, got = set(wanted), max(wanted), {}
    try:
        for i, frame in enumerate(iio.imiter(source)):
            if i in need:
                got[i] = np.asarray(frame)[..., :3]
            if i >= last or i >= MAX_FRAMES:
                break
    except Exception as exc:  # decoders raise many types for corrupt data
        raise ValueError(f"{source}: cannot be decoded as a video ({type(exc).__name__}: {exc})") from exc
    if len(got) < len(need):
        raise ValueError(f"{source}: needs frame {last}, the video ended after {len(got)} of the wanted frames")
    return stack_frames([got[i] for i in wanted], str(source))


class Re10kClips(_RealClips):
    """Clips in RealEstate10K layout: ``<root>/<id>.txt`` poses with ``<id>.mp4`` (or any video suffix)
    or an ``<id>/`` folder of frames (sorted by name, one per pose row).

    Pose files are read at the decoded frame size; rows must match the frames one to one. Clips
    without a video or frame folder are skipped (warned and counted) when the folder is scanned.
    """

    VIDEO_SUFFIXES = (".mp4", ".webm", ".mkv", ".mov", ".avi")

    def __init__(self, root: str | Path, clip: ClipConfig, **kwargs: Any):
        self.root = Path(root)
        if not self.root.is_dir():
            raise ValueError(f"{self.root}: RealEstate10K folder not found")
        super().__init__(clip, **kwargs)

    def _discover(self) -> list[ClipEntry]:
        default, per_clip = read_scales(self.root)
        entries = []
        for poses in sorted(self.root.glob("*.txt")):
            clip_id = poses.stem
            frames = next((poses.with_suffix(s) for s in self.VIDEO_SUFFIXES if poses.with_suffix(s).is_file()), None)
            if frames is None and (self.root / clip_id).is_dir():
                frames = self.root / clip_id
            if frames is None:
                self.skip(clip_id, f"{poses}: no video {clip_id}.mp4 and no frame folder {clip_id}/ beside it")
                continue
            entries.append(ClipEntry(clip_id, poses, frames, per_clip.get(clip_id, default)))
        return entries

    def _read(self, entry: ClipEntry, rng: np.random.Generator) -> tuple[Any, Cameras, np.ndarray | None]:
        # The file stores intrinsics normalised by the image size: read them for a 1 x 1 image, then
        # resize to the decoded frames (K = diag(W, H, 1) K_normalised, the format's rule).
        cameras = load_re10k(entry.poses, width=1, height=1)
        T0 = len(cameras)
        idx = sample_frame_window(T0, self.options.clip.num_frames, rng, max_stride=self.options.max_stride)
        frames = read_frames(entry.frames, idx)
        n_video = _frame_count(entry.frames)
        if n_video is not None and n_video != T0:
            raise ValueError(f"{entry.frames} has {n_video} frames but {entry.poses} has {T0} pose rows")
        cams = cameras[torch.as_tensor(idx)]
        cams = Cameras(cams.c2w, cams.K, 1, 1).resized(frames.shape[2], frames.shape[1])
        return frames, cams, np.arange(len(idx))


def _frame_count(source: Path) -> int | None:
    """Number of frames of an image folder (None for a video: counting would decode it all)."""
    if source.is_dir():
        return sum(1 for p in source.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    return None


class _SceneClips(_RealClips):
    """Scenes given as folders; each scene is one clip of its images in order."""

    def __init__(self, roots: str | Path | list[str | Path], clip: ClipConfig, **kwargs: Any):
        self.roots = [Path(r) for r in ([roots] if isinstance(roots, (str, Path)) else roots)]
        super().__init__(clip, **kwargs)

    def _scene_scale(self, root: Path) -> float | None:
        default, per_clip = read_scales(root)
        if default is None and not per_clip:
            default, per_clip = read_scales(root.parent)
        return per_clip.get(root.name, default)

    def _load_images(self, entry: ClipEntry, paths: list[Path], cameras: Cameras,
                     rng: np.random.Generator) -> tuple[Any, Cameras, np.ndarray]:
        idx = sample_frame_window(len(paths), self.options.clip.num_frames, rng, max_stride=self.options.max_stride)
        frames = []
        for i in idx:
            if not paths[i].is_file():
                raise ValueError(f"{entry.poses}: image {paths[i]} not found")
            frames.append(load_image(paths[i]))
        frames = stack_frames(frames, f"{entry.id} images")
        cams = cameras[torch.as_tensor(idx)]
        if (cams.width, cams.height) != (frames.shape[2], frames.shape[1]):
            # Downscaled image folders (images_2, ...) keep the model's K: rescale it to the files.
            cams = cams.resized(frames.shape[2], frames.shape[1])
        return frames, cams, np.arange(len(idx))


class ColmapScenes(_SceneClips):
    """COLMAP scenes: ``<scene>/sparse/0`` (or ``sparse/``; text or binary model) and ``<scene>/images/``.
    Frames are the registered images sorted by name (COLMAP's order), so video-like captures keep time order."""

    def _discover(self) -> list[ClipEntry]:
        entries = []
        for root in self.roots:
            model = next((m for m in (root / "sparse" / "0", root / "sparse") if m.is_dir()
                          and any((m / f).is_file() for f in ("cameras.txt", "cameras.bin"))), None)
            if model is None or not (root / "images").is_dir():
                self.skip(root.name, f"{root}: not a COLMAP scene (needs a model in sparse/0 or sparse/, and images/)")
                continue
            entries.append(ClipEntry(root.name, model, root / "images", self._scene_scale(root)))
        return entries

    def _read(self, entry: ClipEntry, rng: np.random.Generator):
        cameras, names = load_colmap(entry.poses)
        return self._load_images(entry, [entry.frames / n for n in names], cameras, rng)


class TransformsScenes(_SceneClips):
    """NeRF / nerfstudio / DL3DV scenes: ``<scene>/transforms.json`` (or a path to the json itself)
    whose ``file_path`` entries are relative to its folder; frames in file order."""

    def _discover(self) -> list[ClipEntry]:
        entries = []
        for root in self.roots:
            path = root if root.suffix.lower() == ".json" else root / "transforms.json"
            if not path.is_file():
                self.skip(root.name, f"{path}: transforms.json not found")
                continue
            folder = path.parent
            entries.append(ClipEntry(folder.name, path, folder, self._scene_scale(folder)))
        return entries

    def _read(self, entry: ClipEntry, rng: np.random.Generator):
        cameras, file_paths = load_transforms(entry.poses)
        missing = [i for i, p in enumerate(file_paths) if p is None]
        if missing:
            raise ValueError(f"{entry.poses}: frames {missing[:5]} have no file_path")
        paths = []
        for p in file_paths:
            path = entry.frames / p
            # Original NeRF files omit the extension.
            paths.append(path if path.suffix else next((path.with_suffix(s) for s in (".png", ".jpg")
                                                        if path.with_suffix(s).is_file()), path))
        return self._load_images(entry, paths, cameras, rng)
