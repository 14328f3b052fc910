"""Reading, validating and reshaping images and videos at the engine's edge.

Frames enter as files, numpy arrays or tensors and leave as float tensors in [-1, 1] at the model's
resolution (resized to cover, then centre-cropped, preserving aspect as the paper does). ``CropInfo``
maps intrinsics between the model grid and the source image so predicted cameras refer to the
user's pixels.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

MAX_FILE_BYTES = 512 * 1024 * 1024        # refuse to decode anything larger
MAX_FRAMES = 1024
VIDEO_SUFFIXES = {".mp4", ".mov", ".webm", ".mkv", ".avi", ".gif"}
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"}

FramesLike = str | os.PathLike | np.ndarray | torch.Tensor | Sequence[str | os.PathLike | np.ndarray]


def _check_file(path: Path, max_bytes: int) -> None:
    if not path.exists():
        raise ValueError(f"{path}: file not found")
    size = path.stat().st_size
    if size == 0:
        raise ValueError(f"{path}: file is empty")
    if size > max_bytes:
        raise ValueError(f"{path}: file is {size / 2**20:.0f} MiB, over the {max_bytes / 2**20:.0f} MiB limit")


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
        elif arr.dtype == np.uint16:
            arr = arr / 257.0
        arr = arr.astype(np.uint8)
    return arr


def load_image(path: str | os.PathLike, *, max_bytes: int = MAX_FILE_BYTES) -> np.ndarray:
    """One image file -> (H, W, 3) uint8. Corrupt or unsupported files raise ValueError naming the file."""
    import imageio.v3 as iio

    path = Path(path)
    _check_file(path, max_bytes)
    try:
        arr = iio.imread(path)
    except Exception as exc:  # imageio raises many types for corrupt data
        raise ValueError(f"{path}: cannot be read as an image ({type(exc).__name__}: {exc})") from exc
    if arr.ndim == 4:  # animated image: take the first frame
        arr = arr[0]
    return _as_rgb_uint8(np.asarray(arr), str(path))


def load_video(path: str | os.PathLike, *, max_frames: int = MAX_FRAMES,
               max_bytes: int = MAX_FILE_BYTES) -> np.ndarray:
    """A video file (mp4, gif, ...) or a folder of frames -> (T, H, W, 3) uint8."""
    import imageio.v3 as iio

    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise ValueError(f"{path}: folder holds no image frames ({', '.join(sorted(IMAGE_SUFFIXES))})")
        return stack_frames([load_image(f, max_bytes=max_bytes) for f in files[:max_frames]], str(path))
    _check_file(path, max_bytes)
    frames = []
    try:
        for i, frame in enumerate(iio.imiter(path)):
            if i >= max_frames:
                raise ValueError(f"{path}: more than {max_frames} frames; trim the clip or raise the limit")
            frames.append(_as_rgb_uint8(np.asarray(frame), f"{path} frame {i}"))
    except ValueError:
        raise
    except Exception as exc:
        raise ValueError(f"{path}: cannot be decoded as a video ({type(exc).__name__}: {exc})") from exc
    if not frames:
        raise ValueError(f"{path}: video has no frames")
    return stack_frames(frames, str(path))


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


def resize_center_crop(x: torch.Tensor, height: int, width: int) -> tuple[torch.Tensor, CropInfo]:
    """Resize (T, 3, H, W) to cover height x width preserving aspect, then centre-crop."""
    T, _, H, W = x.shape
    scale = max(height / H, width / W)
    new_h, new_w = max(height, round(H * scale)), max(width, round(W * scale))
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


def save_video(frames: np.ndarray, path: str | os.PathLike, *, fps: float = 8.0) -> Path:
    """(T, H, W, 3) uint8 -> mp4 (H.264) or gif, by the path's suffix."""
    import imageio.v3 as iio

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".gif":
        iio.imwrite(path, frames, duration=1000.0 / fps, loop=0)
    else:
        iio.imwrite(path, frames, fps=fps, codec="libx264", macro_block_size=1, plugin="FFMPEG")
    return path
