"""Frames for display and download: upscaling, strips, side-by-side panels, fitting to the model grid,
MP4 / GIF files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def upscale(frame: np.ndarray, size: int) -> np.ndarray:
    """(H, W, 3) uint8 -> nearest-neighbour enlarged so the longer side is about ``size`` pixels
    (model frames are tiny; sharp pixels show what the model made)."""
    h, w = frame.shape[:2]
    k = max(1, round(size / max(h, w)))
    return np.repeat(np.repeat(frame, k, axis=0), k, axis=1) if k > 1 else frame


def resize(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    return np.asarray(Image.fromarray(frame).resize((width, height), Image.BILINEAR))


def fit_to_grid(frames: np.ndarray, height: int, width: int) -> np.ndarray:
    """(T, H, W, 3) resized to cover ``width`` x ``height`` (aspect kept), then centre-cropped:
    the framing the engine gives its inputs, so ground truth lines up with generated frames."""
    T, H, W = frames.shape[:3]
    scale = max(height / H, width / W)
    new_h, new_w = max(height, round(H * scale)), max(width, round(W * scale))
    y0, x0 = (new_h - height) // 2, (new_w - width) // 2
    out = [np.asarray(Image.fromarray(f).resize((new_w, new_h), Image.LANCZOS))[y0:y0 + height, x0:x0 + width]
           for f in frames]
    return np.stack(out)


def strip(frames: np.ndarray, *, size: int = 96, per_row: int = 9, gap: int = 2) -> np.ndarray:
    """(T, H, W, 3) -> one image of upscaled frames in rows of ``per_row``, on a light background."""
    tiles = [upscale(f, size) for f in frames]
    h, w = tiles[0].shape[:2]
    rows = (len(tiles) + per_row - 1) // per_row
    cols = min(per_row, len(tiles))
    out = np.full((rows * (h + gap) - gap, cols * (w + gap) - gap, 3), 235, np.uint8)
    for i, t in enumerate(tiles):
        r, c = divmod(i, per_row)
        out[r * (h + gap):r * (h + gap) + h, c * (w + gap):c * (w + gap) + w] = t
    return out


def difference(a: np.ndarray, b: np.ndarray, gain: float = 3.0) -> np.ndarray:
    """Absolute per-pixel difference, amplified, as an image."""
    d = np.abs(a.astype(np.int16) - b.astype(np.int16)).astype(np.float32) * gain
    return np.clip(d, 0, 255).astype(np.uint8)


def side_by_side(*panels: np.ndarray, size: int = 192, gap: int = 4) -> np.ndarray:
    """Frames placed left to right at the same display size."""
    tiles = [upscale(p, size) for p in panels]
    h = max(t.shape[0] for t in tiles)
    out = np.full((h, sum(t.shape[1] for t in tiles) + gap * (len(tiles) - 1), 3), 255, np.uint8)
    x = 0
    for t in tiles:
        out[:t.shape[0], x:x + t.shape[1]] = t
        x += t.shape[1] + gap
    return out


def write_video(frames: np.ndarray, path: str | Path, *, fps: float, size: int = 256) -> Path:
    """(T, H, W, 3) uint8 -> MP4 (H.264) or GIF by suffix, upscaled for viewing (even sides for H.264)."""
    import imageio.v3 as iio

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    big = np.stack([upscale(f, size) for f in frames])
    if path.suffix.lower() == ".gif":
        iio.imwrite(path, big, duration=1000.0 / fps, loop=0)
    else:
        big = big[:, : big.shape[1] // 2 * 2, : big.shape[2] // 2 * 2]
        iio.imwrite(path, big, fps=fps, codec="libx264", macro_block_size=1, plugin="FFMPEG")
    return path


def thumbnail(frame: np.ndarray, size: int) -> np.ndarray:
    """A frame sized for texturing a frustum (about ``size`` pixels on the longer side)."""
    h, w = frame.shape[:2]
    if max(h, w) <= size:
        return upscale(frame, size)
    s = size / max(h, w)
    return resize(frame, max(1, round(w * s)), max(1, round(h * s)))
