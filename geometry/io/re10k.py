"""RealEstate10K camera files (``<clip id>.txt``).

Layout: line 1 is the source video URL; then one line per frame::

    timestamp_us fx fy cx cy k1 k2 r00 r01 r02 t0 r10 r11 r12 t1 r20 r21 r22 t2

The 12 trailing numbers are the 3x4 world-to-camera matrix, row-major, OpenCV axes (x right,
y down, z forward). Intrinsics are normalised by the image size (``fx, cx`` by width, ``fy, cy``
by height), so pixel ``K`` needs the frame size, which the file does not store: it comes from
``width``/``height`` or from a sibling video ``<same stem>.mp4``. ``k1 k2`` are always 0 in the
dataset. Timestamps are integer microseconds in the source video.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import NamedTuple

import torch

from ..cameras import Cameras, intrinsics_matrix
from ..transforms import c2w_to_w2c, w2c_to_c2w
from .errors import CameraFileError, warn
from .file_checks import checked_image_size, checked_intrinsics, checked_pose
from .reading import read_text_lines
from .writing import fmt, frames_for_writing, timestamps_or_frame_times, warn_if_skewed, write_text_atomic

RE10K_DEFAULT_URL = "raxel-studio:generated"  # line 1 of files we write; readers ignore it
_TOKENS_PER_FRAME = 19
_FRAME_LAYOUT = "timestamp_us fx fy cx cy k1 k2 + 12 numbers of the 3x4 world-to-camera matrix"


class Re10kClip(NamedTuple):
    """What a RealEstate10K file holds."""

    cameras: Cameras  # (N,) float64, timestamps in seconds
    url: str          # line 1 of the file


def read_re10k(path: str | Path, *, width: int | None = None, height: int | None = None) -> Re10kClip:
    """Cameras and video URL of a RealEstate10K pose file.

    ``width``/``height`` give the frame size for pixel intrinsics; without them the size of a
    sibling ``<stem>.mp4`` is used, else ``ValueError`` asks for them.
    """
    path = Path(path)
    lines = read_text_lines(path)
    url, rows = _parse(lines, path)
    width, height = _frame_size(path, width, height)

    table = torch.tensor([values for _, values in rows], dtype=torch.float64)  # (N, 19)
    w2c = torch.stack([checked_pose(table[i, 7:].reshape(3, 4), _at(path, line))  # (N, 4, 4)
                       for i, (line, _) in enumerate(rows)])
    scale = torch.tensor([width, height, width, height], dtype=torch.float64)
    fx, fy, cx, cy = (table[:, 1:5] * scale).unbind(-1)
    for (line, _), *pixels in zip(rows, fx.tolist(), fy.tolist(), cx.tolist(), cy.tolist()):
        checked_intrinsics(*pixels, _at(path, line))  # normalised values were checked; now the pixel ones
    K = intrinsics_matrix(fx, fy, cx, cy)
    cameras = Cameras(w2c_to_c2w(w2c), K, width, height, timestamps=table[:, 0] / 1e6)
    return Re10kClip(cameras, url)


def load_re10k(path: str | Path, *, width: int | None = None, height: int | None = None) -> Cameras:
    """(N,) float64 cameras of a RealEstate10K pose file (see ``read_re10k``)."""
    return read_re10k(path, width=width, height=height).cameras


def save_re10k(cameras: Cameras, path: str | Path, *, url: str = RE10K_DEFAULT_URL, fps: float = 30.0) -> Path:
    """Write cameras as a RealEstate10K pose file.

    Timestamps are rounded to whole microseconds; cameras without timestamps get ``i / fps``.
    Skew is dropped (with a warning) and ``k1 k2`` are written as 0.
    """
    cameras = frames_for_writing(cameras, "RealEstate10K")
    warn_if_skewed(cameras, "RealEstate10K")
    if not url.strip() or "\n" in url or "\r" in url:
        raise ValueError(f"RealEstate10K: url must be one non-empty line, got {url!r}")
    times = timestamps_or_frame_times(cameras, fps)
    w2c = c2w_to_w2c(cameras.c2w)[:, :3, :]  # (N, 3, 4)
    K = cameras.K
    W, H = cameras.width, cameras.height
    lines = [url.strip()]
    for i in range(len(cameras)):
        intrinsics = (K[i, 0, 0] / W, K[i, 1, 1] / H, K[i, 0, 2] / W, K[i, 1, 2] / H, 0.0, 0.0)
        numbers = [*intrinsics, *w2c[i].reshape(-1).tolist()]
        lines.append(" ".join([str(round(times[i] * 1e6)), *(fmt(v) for v in numbers)]))
    return write_text_atomic(path, "\n".join(lines) + "\n")


# ---- parsing ---------------------------------------------------------------------------

def _at(path: Path, line: int):
    return lambda message: CameraFileError(path, message, line=line)


def _parse(lines: list[str], path: Path) -> tuple[str, list[tuple[int, list[float]]]]:
    """URL and ``(line number, 19 numbers)`` per frame row; blank lines are skipped."""
    numbered = [(i + 1, line.strip()) for i, line in enumerate(lines) if line.strip()]
    if not numbered:
        raise CameraFileError(path, "file is empty")
    url_line, url = numbered[0]
    if len(url.split()) == _TOKENS_PER_FRAME and _all_numbers(url.split()):
        raise CameraFileError(path, "expected the video URL on the first line, found a camera row; "
                                    "RealEstate10K files start with the source URL", line=url_line)
    if len(numbered) == 1:
        raise CameraFileError(path, "no camera rows after the URL line", line=url_line)
    rows = [(number, _parse_row(text, _at(path, number))) for number, text in numbered[1:]]
    distorted = [number for number, values in rows if values[5] != 0 or values[6] != 0]
    if distorted:
        warn(f"{path}: lines {distorted[:5]}{'...' if len(distorted) > 5 else ''} have non-zero k1/k2; "
             "distortion is ignored (cameras are treated as pinhole)")
    return url, rows


def _parse_row(text: str, fail) -> list[float]:
    tokens = text.split()
    if len(tokens) != _TOKENS_PER_FRAME:
        raise fail(f"expected {_TOKENS_PER_FRAME} numbers ({_FRAME_LAYOUT}), got {len(tokens)}")
    values = []
    for i, token in enumerate(tokens):
        try:
            value = float(token)
        except ValueError:
            raise fail(f"value {i + 1} ({token!r}) is not a number") from None
        if not math.isfinite(value):
            raise fail(f"value {i + 1} is {token} (NaN or infinite)")
        values.append(value)
    checked_intrinsics(*values[1:5], fail)
    return values


def _all_numbers(tokens: list[str]) -> bool:
    try:
        [float(t) for t in tokens]
    except ValueError:
        return False
    return True


def _frame_size(path: Path, width: int | None, height: int | None) -> tuple[int, int]:
    """Frame size for pixel intrinsics: given, or read from the sibling video."""
    if (width is None) != (height is None):
        raise ValueError(f"{path}: pass both width and height, or neither")
    size_error = lambda m: ValueError(f"{path}: {m}")  # noqa: E731
    if width is not None and height is not None:
        return checked_image_size(width, height, size_error)
    video = path.with_suffix(".mp4")
    if video.is_file():
        from .media_size import video_frame_size
        return checked_image_size(*video_frame_size(video), lambda m: ValueError(f"{video}: {m}"))
    raise ValueError(f"{path}: RealEstate10K intrinsics are normalised by the frame size, which the file "
                     f"does not store and no sibling video {video.name} was found; pass width= and height= "
                     "(the size of the frames the cameras belong to)")
