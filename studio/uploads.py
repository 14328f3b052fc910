"""Checking and decoding what users upload: photos, clips (video file, GIF or a set of frames) and
ground-truth camera files. Every problem raises ``UploadError`` with a message for the user;
limits come from ``StudioConfig``. Media files are checked from their headers (``engine.media``)
before anything is decoded, so a small file that expands to gigabytes is refused cheaply.
"""

from __future__ import annotations

import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from engine import MediaError, MediaInfo, MediaLimits, UnreadableMediaError, decode_frames, probe_media
from geometry import Cameras, load_cameras

from .config import StudioConfig

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"}
VIDEO_SUFFIXES = {".mp4", ".mov", ".webm", ".mkv", ".avi", ".gif"}
CAMERA_SUFFIXES = {".json", ".txt", ".bin"}
COLMAP_NAMES = {"cameras.txt", "images.txt", "points3D.txt", "cameras.bin", "images.bin", "points3D.bin"}


class UploadError(ValueError):
    """An upload the studio cannot use; the message says which file and why."""


@dataclass
class Clip:
    """Frames of an uploaded or bundled clip. ``frames`` (T, H, W, 3) uint8."""

    name: str
    frames: np.ndarray
    fps: float = 8.0

    @property
    def num_frames(self) -> int:
        return int(self.frames.shape[0])

    @property
    def size(self) -> tuple[int, int]:
        """(width, height)."""
        return int(self.frames.shape[2]), int(self.frames.shape[1])


def upload_paths(files: str | Path | Sequence[str | Path] | None) -> list[Path]:
    """The file paths a Gradio file box sends: None, one path or file, or a list of them."""
    if files is None:
        return []
    if isinstance(files, (str, Path)):
        return [Path(files)]
    return [Path(f) if isinstance(f, (str, Path)) else Path(f.name) for f in files]


def _check_file(path: Path, config: StudioConfig) -> None:
    if not path.exists():
        raise UploadError(f"{path.name}: the file did not arrive (upload it again)")
    size = path.stat().st_size
    if size == 0:
        raise UploadError(f"{path.name}: the file is empty")
    if size > config.max_upload_bytes:
        raise UploadError(f"{path.name}: {size / 2**20:.1f} MiB is over the {config.max_upload_mb:g} MiB upload limit")


@contextmanager
def _upload_errors(path: Path, unreadable: str) -> Iterator[None]:
    """The engine's media errors as ``UploadError``s naming the uploaded file (never its temporary path)."""
    try:
        yield
    except UnreadableMediaError as exc:
        raise UploadError(f"{path.name}: {unreadable} ({exc.reason})") from exc
    except MediaError as exc:
        raise UploadError(str(exc)) from exc


def _probe(path: Path, config: StudioConfig) -> MediaInfo:
    """The file's header, checked against the studio's limits before a pixel is decoded: size in bytes,
    the engine's shared pixel limit (``RAXEL_MAX_IMAGE_PIXELS``), pixels per side, frames."""
    _check_file(path, config)
    limits = MediaLimits(max_bytes=config.max_upload_bytes, max_pixels=config.max_image_pixels,
                         max_frames=config.max_clip_frames)
    info = probe_media(path, label=path.name, limits=limits)
    if max(info.width, info.height) > config.max_image_side:
        raise UploadError(f"{path.name}: {info.width}x{info.height} pixels is over the {config.max_image_side} pixel "
                          "limit per side (RAXEL_STUDIO_MAX_IMAGE_SIDE)")
    return info


def read_image(path: Path, config: StudioConfig) -> np.ndarray:
    """One image file -> (H, W, 3) uint8 (an animated file's first frame)."""
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        raise UploadError(f"{path.name}: unsupported image type {path.suffix or '(none)'}; use "
                          f"{', '.join(sorted(IMAGE_SUFFIXES))}")
    with _upload_errors(path, "cannot be read as an image"):
        return decode_frames(_probe(path, config), [0])[0]


def load_photos(files, config: StudioConfig) -> list[np.ndarray]:
    """Photos for generation: 1 to ``config.max_photos`` images; sizes may differ. Any unreadable file
    refuses the upload."""
    photos, _, skipped = read_photos(files, config)
    if skipped:
        raise UploadError(skipped[0])
    return photos


def read_photos(files, config: StudioConfig) -> tuple[list[np.ndarray], list[str], list[str]]:
    """(photos, their file names, why each unreadable file was skipped): the readable ones of 1 to
    ``config.max_photos`` files. Raises ``UploadError`` when there are none, too many, or none is readable."""
    paths = upload_paths(files)
    if not paths:
        raise UploadError("no photo uploaded: add one or more images (png, jpg, ...)")
    if len(paths) > config.max_photos:
        raise UploadError(f"{len(paths)} photos is more than the limit of {config.max_photos}")
    photos, names, skipped = [], [], []
    for p in paths:
        try:
            photos.append(read_image(p, config))
        except UploadError as exc:
            skipped.append(str(exc))
        else:
            names.append(p.name)
    if not photos:
        raise UploadError("; ".join(skipped))
    return photos, names, skipped


def read_video(path: Path, config: StudioConfig) -> tuple[np.ndarray, float]:
    """A video or GIF -> frames (T, H, W, 3) uint8 and its frame rate (8 if unknown)."""
    with _upload_errors(path, "cannot be decoded as a video"):
        info = _probe(path, config)
        frames = decode_frames(info)
    fps = info.fps or 8.0
    return frames, fps if 0 < fps <= 240 else 8.0


def _stack(frames: list[np.ndarray], where: str) -> np.ndarray:
    shapes = sorted({f.shape for f in frames})
    if len(shapes) != 1:
        raise UploadError(f"{where}: frames differ in size ({', '.join(f'{s[1]}x{s[0]}' for s in shapes[:3])}); "
                          "all frames of a clip must be the same size")
    return np.stack(frames)


def load_clip(files, config: StudioConfig, *, min_frames: int = 2) -> Clip:
    """A clip from one video/GIF file or from several image files (frames in name order)."""
    paths = upload_paths(files)
    if not paths:
        raise UploadError("no clip uploaded: add an mp4 or gif, or several frames")
    if len(paths) == 1 and paths[0].suffix.lower() in VIDEO_SUFFIXES:
        frames, fps = read_video(paths[0], config)
        name = paths[0].stem
    else:
        bad = [p.name for p in paths if p.suffix.lower() not in IMAGE_SUFFIXES]
        if bad:
            raise UploadError(f"{bad[0]}: unsupported clip file; upload one video ({', '.join(sorted(VIDEO_SUFFIXES))})"
                              " or several image frames")
        if len(paths) > config.max_clip_frames:
            raise UploadError(f"{len(paths)} frames is more than the limit of {config.max_clip_frames}")
        paths = sorted(paths, key=lambda p: p.name)
        frames = _stack([read_image(p, config) for p in paths], "the uploaded frames")
        fps, name = 8.0, paths[0].stem
    if frames.shape[0] < min_frames:
        raise UploadError(f"the clip has {frames.shape[0]} frame(s); at least {min_frames} are needed")
    return Clip(name, frames, fps)


def load_camera_file(files, config: StudioConfig, *, width: int, height: int,
                     expected: int | None = None) -> Cameras:
    """Ground-truth cameras from any supported file (trajectory JSON, camera_path.json, transforms.json,
    RealEstate10K .txt, or a COLMAP model as cameras.txt + images.txt), for ``width`` x ``height`` frames.

    ``expected``: the clip's frame count; a file with another count is refused (mismatched frame counts).
    """
    paths = upload_paths(files)
    if not paths:
        raise UploadError("no camera file uploaded")
    for p in paths:
        _check_file(p, config)
        if p.suffix.lower() not in CAMERA_SUFFIXES:
            raise UploadError(f"{p.name}: not a camera file; use a trajectory / camera_path / transforms .json, a "
                              "RealEstate10K .txt, or COLMAP cameras.txt + images.txt")
    names = {p.name for p in paths}
    tmp = None
    try:
        if names & COLMAP_NAMES:
            tmp = Path(tempfile.mkdtemp(prefix="raxel-colmap-"))
            for p in paths:
                shutil.copy(p, tmp / p.name)
            target = tmp
        elif len(paths) > 1:
            raise UploadError("upload one camera file (or a COLMAP model's cameras.txt and images.txt together)")
        else:
            target = paths[0]
        try:
            cams = load_cameras(target, width=width, height=height)
        except ValueError as exc:
            msg = str(exc).replace(str(tmp), "COLMAP model") if tmp else str(exc)
            raise UploadError(f"wrong or unreadable camera file: {Path(msg.split(':', 1)[0]).name}:"
                              f"{msg.split(':', 1)[1] if ':' in msg else ''}".rstrip(":")) from exc
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    if len(cams.batch_shape) != 1 or len(cams) < 2:
        raise UploadError("the camera file holds fewer than 2 cameras")
    if expected is not None and len(cams) != expected:
        raise UploadError(f"mismatched frame counts: the camera file has {len(cams)} cameras but the clip has "
                          f"{expected} frames")
    return cams
