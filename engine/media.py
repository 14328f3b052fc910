"""Reading, validating and reshaping images and videos at the engine's edge, and writing videos.

Frames enter as files, numpy arrays or tensors and leave as float tensors in [-1, 1] at the model's
resolution (resized to cover, then centre-cropped, preserving aspect as the paper does). ``CropInfo``
maps intrinsics between the model grid and the source image so predicted cameras refer to the
user's pixels.

Files are hostile until checked: ``probe_media`` reads only headers (PIL for images and GIFs, ffmpeg's
stream description for videos) and refuses files over ``MediaLimits`` (bytes, pixels per frame,
frames) before any pixel is decoded; ``load_frames`` then decodes only the frames it keeps and
shrinks each one as uint8 right after decoding. The pixel limit is one number for the API, the CLI
and the studio: ``DEFAULT_MAX_IMAGE_PIXELS``, overridden by the ``RAXEL_MAX_IMAGE_PIXELS``
environment variable. Every refusal is a one-line ``MediaError`` (a ``ValueError``) naming the file.

Videos are written atomically (a temporary file beside the target, then ``os.replace``) with the
permissions a plain ``open()`` would give; ``check_video_output`` validates a target before any work.
"""

from __future__ import annotations

import math
import os
import re
import uuid
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F

MAX_FILE_BYTES = 512 * 1024 * 1024        # refuse to decode anything larger
MAX_FRAMES = 1024                         # frames in one clip (video file or folder)
DEFAULT_MAX_IMAGE_PIXELS = 40_000_000     # per image or frame: above any phone photo, far below a decompression bomb
MAX_IMAGE_PIXELS_ENV = "RAXEL_MAX_IMAGE_PIXELS"
MAX_FPS = 240.0
VIDEO_SUFFIXES = {".mp4", ".mov", ".webm", ".mkv", ".avi", ".gif"}
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"}
WRITABLE_VIDEO_SUFFIXES = (".mp4", ".gif")

FramesLike = str | os.PathLike | np.ndarray | torch.Tensor | Sequence[str | os.PathLike | np.ndarray]


class MediaError(ValueError):
    """A media file or output the engine cannot use; the message is one line and starts with the file."""


class UnreadableMediaError(MediaError):
    """Not a decodable image or video. ``reason`` is the decoder's first useful line."""

    def __init__(self, label: str, reason: str):
        super().__init__(f"{label}: not a readable image or video ({reason})")
        self.label, self.reason = label, reason


# ---- limits ------------------------------------------------------------------------------------------

def max_image_pixels(environ: Mapping[str, str] | None = None) -> int:
    """Pixels allowed per image or video frame: ``RAXEL_MAX_IMAGE_PIXELS`` if set, else
    ``DEFAULT_MAX_IMAGE_PIXELS``. Read at each call so one setting governs the API, CLI and studio."""
    env = os.environ if environ is None else environ
    raw = env.get(MAX_IMAGE_PIXELS_ENV, "").strip()
    if not raw:
        return DEFAULT_MAX_IMAGE_PIXELS
    try:
        value = int(float(raw))               # "40e6" is a natural way to write it
    except (ValueError, OverflowError):
        value = 0
    if value <= 0:
        raise MediaError(f"{MAX_IMAGE_PIXELS_ENV}={raw!r}: expected a positive number of pixels, e.g. 40000000")
    return value


@dataclass(frozen=True)
class MediaLimits:
    """What one media file may hold; checked from its header, before any pixel is decoded."""

    max_bytes: int = MAX_FILE_BYTES
    max_pixels: int = field(default_factory=max_image_pixels)     # per image or frame
    max_frames: int = MAX_FRAMES


def check_image_pixels(width: int, height: int, label: str, limit: int | None = None) -> None:
    """Refuse a ``width`` x ``height`` image or frame over the pixel limit (default: ``max_image_pixels()``)."""
    limit = max_image_pixels() if limit is None else limit
    if width * height > limit:
        raise MediaError(f"{label}: {width}x{height} pixels ({width * height / 1e6:.1f} MP) is over the "
                         f"{limit / 1e6:g} MP limit ({MAX_IMAGE_PIXELS_ENV})")


def _check_file(path: Path, max_bytes: int, label: str) -> None:
    if not path.exists():
        raise MediaError(f"{label}: file not found")
    if not path.is_file():
        raise MediaError(f"{label}: not a file")
    size = path.stat().st_size
    if size == 0:
        raise MediaError(f"{label}: file is empty")
    if size > max_bytes:
        raise MediaError(f"{label}: file is {size / 2**20:.0f} MiB, over the {max_bytes / 2**20:.0f} MiB limit")


_FFMPEG_NOISE = ("ffmpeg version", "===", "FFMPEG call failed", "Could not load meta information")
_LOG_TAG = re.compile(r"^\[[^\]]*\]\s*")      # ffmpeg's "[in#0 @ 0x55d0...] " context tag


def _reason(exc: BaseException, path: Path) -> str:
    """The first useful line of a decoder's error: no ffmpeg banner, no install hint, no temporary path."""
    for line in str(exc).splitlines():
        if not line.strip() or line[0].isspace() or line.startswith(_FFMPEG_NOISE):
            continue
        line = _LOG_TAG.sub("", line)
        for p in (str(path), str(path.resolve())):
            line = line.replace(f" '{p}'", "").replace(f' "{p}"', "").replace(p, path.name)
        return line.strip().rstrip(".:")[:200] or type(exc).__name__
    return type(exc).__name__


# ---- reading headers ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class MediaInfo:
    """What a file's header says: ``width`` x ``height`` pixels per frame, ``num_frames`` (1 for a
    still image), ``fps`` when the file has one. ``label`` names the file in messages."""

    path: Path
    label: str
    width: int
    height: int
    num_frames: int
    fps: float | None
    uses_ffmpeg: bool


def _uses_ffmpeg(path: Path) -> bool:
    """Videos go through ffmpeg; images and GIFs through Pillow."""
    return path.suffix.lower() in VIDEO_SUFFIXES - {".gif"}


def _open_image(path: Path, label: str):
    """``PIL.Image.open``: reads the header only. Pillow's own bomb warning is silenced because our
    (lower, configurable) pixel limit is checked from the same header right after."""
    from PIL import Image

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            return Image.open(path)
        except Image.DecompressionBombError as exc:
            raise MediaError(f"{label}: over the pixel limit ({MAX_IMAGE_PIXELS_ENV}): {_reason(exc, path)}") from exc
        except Exception as exc:  # Pillow raises many types for corrupt data
            raise UnreadableMediaError(label, _reason(exc, path)) from exc


def _probe_image(path: Path, label: str) -> MediaInfo:
    with _open_image(path, label) as im:
        try:
            frames = int(getattr(im, "n_frames", 1)) if path.suffix.lower() == ".gif" else 1
        except Exception as exc:  # a truncated GIF fails while counting its frames
            raise UnreadableMediaError(label, _reason(exc, path)) from exc
        duration = im.info.get("duration")
        fps = 1000.0 / duration if isinstance(duration, (int, float)) and duration > 0 else None
        return MediaInfo(path, label, int(im.width), int(im.height), frames, fps, uses_ffmpeg=False)


def _probe_video(path: Path, label: str) -> MediaInfo:
    import imageio_ffmpeg

    # "-frames:v 0": ffmpeg describes the stream and stops, so not even ffmpeg allocates a frame.
    reader = imageio_ffmpeg.read_frames(str(path), output_params=["-frames:v", "0"])
    try:
        meta = next(reader)
        width, height = (int(v) for v in meta["size"])
    except Exception as exc:
        raise UnreadableMediaError(label, _reason(exc, path)) from exc
    finally:
        reader.close()
    return MediaInfo(path, label, width, height, 0, float(meta.get("fps") or 0) or None, uses_ffmpeg=True)


def probe_media(path: str | os.PathLike, *, label: str | None = None, limits: MediaLimits | None = None) -> MediaInfo:
    """Read a file's header and refuse it (``MediaError`` naming ``label``, default the path) when it is
    missing, empty, unreadable or over ``limits`` (bytes, pixels per frame, frames), before decoding a pixel."""
    path = Path(path)
    label = label or str(path)
    limits = limits or MediaLimits()
    _check_file(path, limits.max_bytes, label)
    info = _probe_video(path, label) if _uses_ffmpeg(path) else _probe_image(path, label)
    check_image_pixels(info.width, info.height, label, limits.max_pixels)
    if info.uses_ffmpeg:
        import imageio_ffmpeg

        try:  # counts packets with "-c copy": nothing is decoded
            count, _ = imageio_ffmpeg.count_frames_and_secs(str(path))
        except Exception as exc:
            raise UnreadableMediaError(label, _reason(exc, path)) from exc
        info = replace(info, num_frames=int(count))
    if info.num_frames < 1:
        raise MediaError(f"{label}: the video has no frames")
    if info.num_frames > limits.max_frames:
        raise MediaError(f"{label}: {info.num_frames} frames is more than {limits.max_frames} frames allowed; "
                         "trim the clip")
    return info


# ---- decoding ----------------------------------------------------------------------------------------

def _as_rgb_uint8(arr: np.ndarray, where: str) -> np.ndarray:
    """(H, W), (H, W, 1|3|4) -> (H, W, 3) uint8."""
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3 or arr.shape[-1] not in (1, 3, 4):
        raise ValueError(f"{where}: expected an RGB image, got array of shape {arr.shape}")
    if arr.shape[-1] == 1:
        arr = np.repeat(arr, 3, -1)
    arr = arr[..., :3]
    if arr.dtype != np.uint8:
        if np.issubdtype(arr.dtype, np.floating):
            arr = np.clip(arr, 0, 1) * 255.0 + 0.5
        elif np.issubdtype(arr.dtype, np.integer):   # 16-bit images (Pillow's "I;16" or "I" modes)
            arr = np.clip(arr, 0, 65535) / 257.0
        arr = arr.astype(np.uint8)
    return arr


def _shrink(frame: np.ndarray, size: tuple[int, int] | None) -> np.ndarray:
    """(H, W, 3) uint8 -> (h, w, 3) uint8 for ``size`` = (h, w), antialiased (Pillow's bilinear, the
    filter torch's ``antialias=True`` reproduces); None keeps the frame."""
    from PIL import Image

    if size is None or frame.shape[:2] == tuple(size):
        return frame
    return np.asarray(Image.fromarray(frame).resize((size[1], size[0]), Image.Resampling.BILINEAR))


def _pil_rgb(im, label: str) -> np.ndarray:
    """A Pillow frame -> (H, W, 3) uint8."""
    if im.mode == "RGB":
        return np.asarray(im)
    if im.mode.startswith(("I", "F")):             # 16-bit / float: scale, never clip, to 8 bits
        return _as_rgb_uint8(np.asarray(im), label)
    return np.asarray(im.convert("RGB"))


def _decode_image(info: MediaInfo, wanted: list[int], size: tuple[int, int] | None) -> dict[int, np.ndarray]:
    got = {}
    with _open_image(info.path, info.label) as im:
        for i in sorted(set(wanted)):
            im.seek(i)
            if size is not None and im.format == "JPEG":
                im.draft("RGB", (size[1], size[0]))   # decode at 1/2, 1/4 or 1/8 scale when that still covers
            got[i] = _shrink(_pil_rgb(im, info.label), size)
    return got


def _decode_video(info: MediaInfo, wanted: list[int], size: tuple[int, int] | None) -> dict[int, np.ndarray]:
    import imageio_ffmpeg

    need, last, got, read = set(wanted), max(wanted), {}, 0
    reader = imageio_ffmpeg.read_frames(str(info.path))
    try:
        width, height = next(reader)["size"]
        for i, raw in enumerate(reader):
            read = i + 1
            if i in need:   # frames not chosen are dropped as raw bytes, never converted
                got[i] = _shrink(np.frombuffer(raw, np.uint8).reshape(height, width, 3), size)
            if i >= last:
                break
    finally:
        reader.close()
    if len(got) < len(need):
        raise MediaError(f"{info.label}: the video ended after {read} frames; frame {last} is needed")
    return got


def decode_frames(info: MediaInfo, indices: Sequence[int] | None = None, *,
                  size: tuple[int, int] | None = None) -> np.ndarray:
    """Frames ``indices`` (default: all) of a probed file -> (T, h, w, 3) uint8, in the order given.

    Only those frames are converted; with ``size`` = (h, w) each is resized to it right after decoding
    (JPEGs while decoding), so no more than one full-size frame is held at a time.
    """
    wanted = list(range(info.num_frames)) if indices is None else [int(i) for i in indices]
    if not wanted or min(wanted) < 0 or max(wanted) >= info.num_frames:
        raise ValueError(f"{info.label}: frame indices {wanted} out of range for {info.num_frames} frames")
    decode = _decode_video if info.uses_ffmpeg else _decode_image
    try:
        got = decode(info, wanted, size)
    except MediaError:
        raise
    except Exception as exc:  # decoders raise many types for corrupt data
        raise UnreadableMediaError(info.label, _reason(exc, info.path)) from exc
    return np.stack([got[i] for i in wanted])


def load_image(path: str | os.PathLike, *, max_bytes: int = MAX_FILE_BYTES) -> np.ndarray:
    """One image file -> (H, W, 3) uint8 (an animated file's first frame). Bad or oversized files raise
    ``MediaError`` naming the file."""
    return decode_frames(probe_media(path, limits=MediaLimits(max_bytes=max_bytes)), [0])[0]


def load_video(path: str | os.PathLike, *, max_frames: int = MAX_FRAMES,
               max_bytes: int = MAX_FILE_BYTES) -> np.ndarray:
    """A video file (mp4, gif, ...) or a folder of frames -> (T, H, W, 3) uint8."""
    refs = _frame_refs(Path(path), MediaLimits(max_bytes=max_bytes, max_frames=max_frames))
    _source_size(refs, str(path))
    return _decode_refs(refs, np.arange(len(refs)), None)


# A frame of a file-backed clip: the probed file and the frame's index in it.
_FrameRef = tuple[MediaInfo, int]


def _frame_refs(frames: FramesLike, limits: MediaLimits) -> list[_FrameRef] | None:
    """The frames behind a path, folder or list of paths, from headers only; None for in-memory frames."""
    if isinstance(frames, (list, tuple)) and frames and all(isinstance(f, (str, os.PathLike)) for f in frames):
        if len(frames) > limits.max_frames:
            raise MediaError(f"{len(frames)} image files is more than {limits.max_frames} frames allowed")
        return [(probe_media(f, limits=limits), 0) for f in frames]
    if not isinstance(frames, (str, os.PathLike)):
        return None
    path = Path(frames)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise MediaError(f"{path}: folder holds no image frames ({', '.join(sorted(IMAGE_SUFFIXES))})")
        if len(files) > limits.max_frames:
            raise MediaError(f"{path}: {len(files)} frames is more than {limits.max_frames} frames allowed; "
                             "trim the clip")
        return [(probe_media(f, limits=limits), 0) for f in files]
    info = probe_media(path, limits=limits)
    if path.suffix.lower() in VIDEO_SUFFIXES:
        return [(info, i) for i in range(info.num_frames)]
    return [(info, 0)]


def _source_size(refs: list[_FrameRef], where: str) -> tuple[int, int]:
    """The one (height, width) all frames share, from their headers."""
    sizes = sorted({(info.height, info.width) for info, _ in refs})
    if len(sizes) != 1:
        raise MediaError(f"{where}: frames have different sizes "
                         f"({', '.join(f'{w}x{h}' for h, w in sizes[:4])}); all must be the same size")
    return sizes[0]


def _decode_refs(refs: list[_FrameRef], idx: np.ndarray, size: tuple[int, int] | None) -> np.ndarray:
    """Frames ``idx`` (T,) of ``refs`` -> (T, h, w, 3) uint8, each file opened once."""
    per_file: dict[int, tuple[MediaInfo, list[int]]] = {}
    for i in idx:
        info, frame = refs[int(i)]
        per_file.setdefault(id(info), (info, []))[1].append(frame)
    decoded = {}
    for key, (info, frames) in per_file.items():
        for frame, arr in zip(frames, decode_frames(info, frames, size=size)):
            decoded[key, frame] = arr
    return np.stack([decoded[id(refs[int(i)][0]), refs[int(i)][1]] for i in idx])


def stack_frames(frames: Sequence[np.ndarray], where: str) -> np.ndarray:
    shapes = {f.shape for f in frames}
    if len(shapes) != 1:
        raise ValueError(f"{where}: frames have different sizes {sorted(shapes)}")
    return np.stack(frames)


def frames_to_tensor(frames: FramesLike, *, name: str = "video") -> torch.Tensor:
    """Paths / arrays / tensors -> float tensor (T, 3, H, W) in [-1, 1].

    Arrays may be (T, H, W, 3) or (H, W, 3) uint8, or float in [0, 1]; tensors may also be
    (T, 3, H, W) float in [-1, 1] (the engine's own layout, passed through after checks).
    """
    if isinstance(frames, (str, os.PathLike)):
        p = Path(frames)
        frames = load_video(p) if (p.is_dir() or p.suffix.lower() in VIDEO_SUFFIXES) else load_image(p)[None]
    elif isinstance(frames, (list, tuple)):
        if not frames:
            raise ValueError(f"{name}: empty list of frames")
        arrs = [load_image(f) if isinstance(f, (str, os.PathLike)) else _as_rgb_uint8(np.asarray(f), name)
                for f in frames]
        frames = stack_frames(arrs, name)
    if isinstance(frames, torch.Tensor) and frames.ndim == 4 and frames.shape[1] == 3 and frames.is_floating_point():
        t = frames.float()
        if not torch.isfinite(t).all():
            raise ValueError(f"{name}: contains NaN or infinite values")
        if t.numel() and (float(t.min()) < -1.001 or float(t.max()) > 1.001):
            raise ValueError(f"{name}: float frames in (T, 3, H, W) layout must lie in [-1, 1]")
        return t.clamp(-1, 1)
    arr = frames.detach().cpu().numpy() if isinstance(frames, torch.Tensor) else np.asarray(frames)
    if arr.ndim == 3:
        arr = arr[None]
    if arr.ndim != 4 or arr.shape[-1] != 3:
        raise ValueError(f"{name}: expected frames of shape (T, H, W, 3), got {arr.shape}")
    if arr.shape[0] == 0:
        raise ValueError(f"{name}: no frames")
    if np.issubdtype(arr.dtype, np.floating):
        if not np.isfinite(arr).all():
            raise ValueError(f"{name}: contains NaN or infinite values")
        if arr.min() < -1e-3 or arr.max() > 1 + 1e-3:
            raise ValueError(f"{name}: float frames must lie in [0, 1] (got {arr.min():.3g}..{arr.max():.3g})")
        x = torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32)).clamp(0, 1)
    elif arr.dtype == np.uint8:
        x = torch.from_numpy(np.ascontiguousarray(arr)).float() / 255.0
    else:
        raise ValueError(f"{name}: unsupported pixel type {arr.dtype} (use uint8 or float in [0, 1])")
    return x.permute(0, 3, 1, 2) * 2.0 - 1.0


def tensor_to_uint8(x: torch.Tensor) -> np.ndarray:
    """(T, 3, H, W) in [-1, 1] -> (T, H, W, 3) uint8."""
    return ((x.detach().float().clamp(-1, 1) + 1) * 127.5 + 0.5).to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


@dataclass(frozen=True)
class CropInfo:
    """How a source image of ``src_width`` x ``src_height`` was resized by (sx, sy) then cropped at
    (x0, y0) to the model grid. Pixel edges map as u_model = (u_source * sx - x0, v_source * sy - y0)."""

    src_width: int
    src_height: int
    sx: float
    sy: float
    x0: float
    y0: float

    def _affine(self, K: torch.Tensor) -> torch.Tensor:
        return torch.tensor([[self.sx, 0, -self.x0], [0, self.sy, -self.y0], [0, 0, 1]], dtype=K.dtype,
                            device=K.device)

    def to_source_intrinsics(self, K: torch.Tensor) -> torch.Tensor:
        """Intrinsics (..., 3, 3) on the model grid -> on the source image."""
        return torch.linalg.solve(self._affine(K), K)

    def to_model_intrinsics(self, K: torch.Tensor) -> torch.Tensor:
        """Intrinsics (..., 3, 3) on the source image -> on the model grid."""
        return self._affine(K) @ K


def cover_size(src_height: int, src_width: int, height: int, width: int) -> tuple[int, int]:
    """(h, w): a src_height x src_width image scaled, aspect kept, to the smallest size covering height x width."""
    scale = max(height / src_height, width / src_width)
    return max(height, round(src_height * scale)), max(width, round(src_width * scale))


def resize_center_crop(x: torch.Tensor, height: int, width: int) -> tuple[torch.Tensor, CropInfo]:
    """Resize (T, 3, H, W) to cover height x width preserving aspect, then centre-crop."""
    T, _, H, W = x.shape
    new_h, new_w = cover_size(H, W, height, width)
    if (new_h, new_w) != (H, W):
        x = F.interpolate(x, size=(new_h, new_w), mode="bilinear", align_corners=False, antialias=True)
    y0 = (new_h - height) // 2
    x0 = (new_w - width) // 2
    info = CropInfo(W, H, new_w / W, new_h / H, float(x0), float(y0))
    return x[:, :, y0:y0 + height, x0:x0 + width].clamp(-1, 1), info


def select_frames(num_available: int, num_frames: int) -> np.ndarray:
    """Indices of ``num_frames`` evenly spaced frames out of ``num_available`` (first and last kept)."""
    if num_available < num_frames:
        raise ValueError(f"the clip has {num_available} frames, the model needs {num_frames}")
    return np.round(np.linspace(0, num_available - 1, num_frames)).astype(int)


def load_frames(frames: FramesLike, height: int, width: int, *, num_frames: int | None = None,
                name: str = "video", limits: MediaLimits | None = None) -> tuple[torch.Tensor, CropInfo, np.ndarray]:
    """Frames on a ``height`` x ``width`` model grid, decoding no more than needed.

    Returns frames (T, 3, height, width) float in [-1, 1], the ``CropInfo`` between the source's
    pixels and the grid, and the indices (T,) of the source frames used: all of them, or
    ``num_frames`` evenly spaced ones (``select_frames``). Files (an image, a video, a folder of
    frames, a list of image files) are checked against ``limits`` from their headers, only the chosen
    frames are decoded, and each is shrunk to cover the grid as uint8 right after decoding, so memory
    stays near T x height x width whatever the file holds. Arrays and tensors go through
    ``frames_to_tensor``.
    """
    refs = _frame_refs(frames, limits or MediaLimits())
    if refs is None:
        x = frames_to_tensor(frames, name=name)
        idx = np.arange(x.shape[0]) if num_frames is None else select_frames(x.shape[0], num_frames)
        x, crop = resize_center_crop(x[torch.as_tensor(idx)], height, width)
        return x, crop, idx
    src_h, src_w = _source_size(refs, name)
    idx = np.arange(len(refs)) if num_frames is None else select_frames(len(refs), num_frames)
    cover = cover_size(src_h, src_w, height, width)
    shrink = cover[0] <= src_h and cover[1] <= src_w and cover != (src_h, src_w)
    # Sources smaller than the grid stay as they are: torch upsamples them below, exactly as for arrays.
    frames_u8 = _decode_refs(refs, idx, cover if shrink else None)           # (T, h, w, 3)
    x, crop = resize_center_crop(frames_to_tensor(frames_u8, name=name), height, width)
    if shrink:  # the crop must refer to the file's pixels, not to the shrunk frames
        crop = CropInfo(src_w, src_h, cover[1] / src_w, cover[0] / src_h, crop.x0, crop.y0)
    return x, crop, idx


# ---- writing -----------------------------------------------------------------------------------------

def check_fps(fps: float) -> float:
    """A frame rate to write with: finite and in (0, ``MAX_FPS``], else ``MediaError``."""
    try:
        value = float(fps)
    except (TypeError, ValueError):
        value = math.nan
    if not (math.isfinite(value) and 0 < value <= MAX_FPS):
        raise MediaError(f"fps must be a number in (0, {MAX_FPS:g}], got {fps!r}")
    return value


def check_video_output(path: str | os.PathLike) -> Path:
    """Validate where a video will be written, before any work is done (the CLI calls this before
    generating, so a bad ``--out`` fails in a second, not after sampling).

    The suffix must be one ``save_video`` writes (``WRITABLE_VIDEO_SUFFIXES``), the path must not be a
    folder, and its parent folder must exist and be writable. Raises ``MediaError`` naming the path;
    returns it as a ``Path``.
    """
    path = Path(path)
    if path.suffix.lower() not in WRITABLE_VIDEO_SUFFIXES:
        raise MediaError(f"{path}: unsupported video type {path.suffix or '(none)'}; use "
                         f"{' or '.join(WRITABLE_VIDEO_SUFFIXES)}")
    if path.is_dir():
        raise MediaError(f"{path}: is a folder; give a file name ending in {' or '.join(WRITABLE_VIDEO_SUFFIXES)}")
    parent = path.parent
    if not parent.is_dir():
        raise MediaError(f"{path}: folder {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise MediaError(f"{path}: folder {parent} is not writable")
    return path


def _write_atomically(path: Path, write: Callable[[Path], None]) -> Path:
    """``write(tmp)`` into a new file beside ``path``, then rename it over ``path``: a failure leaves
    no partial file and whatever was at ``path`` untouched. The file is created with mode 0o666 less
    the umask, as ``open()`` does (``mkstemp`` would make it 0600, hiding outputs from the group)."""
    for _ in range(100):
        tmp = path.with_name(f".{path.stem}.{uuid.uuid4().hex[:8]}.partial{path.suffix}")
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            break
        except FileExistsError:
            continue
    else:
        raise MediaError(f"{path}: cannot create a temporary file beside it")
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, Exception) and not isinstance(exc, MediaError):
            raise MediaError(f"{path}: could not write it ({_reason(exc, tmp)})") from exc
        raise
    return path


def save_video(frames: np.ndarray, path: str | os.PathLike, *, fps: float = 8.0) -> Path:
    """(T, H, W, 3) uint8 -> mp4 (H.264) or gif, by the path's suffix, written atomically.

    Creates the parent folder. Refuses with ``MediaError``, writing nothing: fps that is not finite
    and positive, an unsupported suffix, frames that are not (T >= 1, H, W, 3) uint8, odd sizes for mp4
    (H.264 in 4:2:0 needs even sides).
    """
    import imageio.v3 as iio

    fps = check_fps(fps)
    path = Path(path)
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[0] < 1 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise MediaError(f"{path}: expected frames (T, H, W, 3) uint8 with T >= 1, got {frames.dtype} array of "
                         f"shape {frames.shape}")
    if path.suffix.lower() == ".mp4" and (frames.shape[1] % 2 or frames.shape[2] % 2):
        raise MediaError(f"{path}: mp4 needs even frame sizes, got {frames.shape[2]}x{frames.shape[1]}; "
                         "write a .gif instead")
    if path.suffix.lower() in WRITABLE_VIDEO_SUFFIXES:
        path.parent.mkdir(parents=True, exist_ok=True)
    check_video_output(path)

    def write(tmp: Path) -> None:
        if path.suffix.lower() == ".gif":
            iio.imwrite(tmp, frames, extension=".gif", duration=1000.0 / fps, loop=0)
        else:
            iio.imwrite(tmp, frames, fps=fps, codec="libx264", macro_block_size=1, plugin="FFMPEG")

    return _write_atomically(path, write)
