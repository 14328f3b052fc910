"""Shared plumbing for the writers: preparing cameras, exact number formatting, JSON layout,
and atomic file replacement (a crash mid-save never leaves a half-written path file)."""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import torch

from ..cameras import Cameras
from .errors import warn


def frames_for_writing(cameras: Cameras, format_name: str) -> Cameras:
    """Cameras as a flat (N,) float64 CPU batch. A single camera becomes one frame."""
    if not isinstance(cameras, Cameras):
        raise TypeError(f"{format_name}: expected Cameras, got {type(cameras).__name__}")
    if cameras.c2w.ndim == 2:
        cameras = cameras[None]
    if cameras.c2w.ndim != 3:
        raise ValueError(f"{format_name}: a camera file holds one sequence of frames; got batch shape "
                         f"{tuple(cameras.batch_shape)} (flatten or pick one sequence first)")
    if len(cameras) == 0:
        raise ValueError(f"{format_name}: no cameras to write")
    return cameras.to(device="cpu", dtype=torch.float64)


def warn_if_skewed(cameras: Cameras, format_name: str) -> None:
    """Most formats store fx, fy, cx, cy only; a skew term is dropped on save."""
    if float(cameras.K[..., 0, 1].abs().max()) > 0:
        warn(f"{format_name}: intrinsics have a skew term K[0, 1] that this format cannot store; "
             "it is written as 0")


def fmt(x: float) -> str:
    """Shortest decimal that reads back to exactly the same float64."""
    return repr(float(x))


def timestamps_or_frame_times(cameras: Cameras, fps: float) -> list[float]:
    """Timestamps in seconds, or ``i / fps`` when the cameras carry none."""
    if cameras.timestamps is not None:
        return [float(t) for t in cameras.timestamps]
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps}")
    return [i / fps for i in range(len(cameras))]


# A JSON array spread over several lines holding only numbers: json.dumps(indent=...) puts one
# number per line, which turns a 4x4 matrix into 24 lines. Raw newlines never occur inside JSON
# strings (they are escaped), so this cannot touch string content.
_NUMBER = r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?"
_MULTILINE_NUMBER_ARRAY = re.compile(rf"\[\n\s*({_NUMBER}(?:,\n\s*{_NUMBER})*)\n\s*\]")


def dumps_json(doc: Any) -> str:
    """Indented JSON with number arrays (matrix rows, flat matrices) kept on one line.
    Refuses NaN and infinity, which are not JSON."""
    try:
        text = json.dumps(doc, indent=2, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"cannot write as JSON: {exc}") from exc
    return _MULTILINE_NUMBER_ARRAY.sub(lambda m: "[" + re.sub(r",\n\s*", ", ", m.group(1)) + "]", text) + "\n"


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file in the same folder and ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        # mkstemp makes the file 0600; a camera file is an ordinary document: 0666 less the umask.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
