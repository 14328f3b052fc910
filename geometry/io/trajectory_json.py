"""raxel-studio's own versioned trajectory file (``*.json``), documented in docs/formats.md.

It stores exactly the package conventions (OpenCV camera-to-world, pixel K with centres at +0.5,
seconds), so nothing is converted and every ``Cameras`` round-trips bit-exactly, skew included.
Alongside the rendered frames it keeps the editor's state (keyframes, interpolation settings,
free-form meta) verbatim, so the studio can reopen a path for editing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import torch

from ..cameras import Cameras
from .file_checks import MAX_FOCAL_PIXELS, checked_image_size, checked_intrinsics, checked_pose
from .json_fields import JsonFields, child
from .reading import read_json
from .writing import dumps_json, frames_for_writing, write_text_atomic

TRAJECTORY_FORMAT = "raxel-studio.trajectory"
TRAJECTORY_VERSION = 1  # bump when a change cannot be ignored by older readers
_CONVENTION = "opencv_c2w"


def load_trajectory(path: str | Path) -> Cameras:
    """The frames of a trajectory file as (N,) float64 cameras."""
    return load_trajectory_document(path)["cameras"]


def load_trajectory_document(path: str | Path) -> dict[str, Any]:
    """Everything in a trajectory file: ``{"version", "cameras", "fps", "keyframes",
    "interpolation", "meta"}``; the last four are None when absent, else returned verbatim."""
    return trajectory_from_json(read_json(path), path)


def trajectory_from_json(doc: Any, path: str | Path) -> dict[str, Any]:
    """``load_trajectory_document`` for an already parsed document (``path`` names it in errors)."""
    fields = JsonFields(path)
    root = fields.object(doc, "")
    version = _checked_header(fields, root)
    W = fields.integer(fields.get(root, "width", ""), "width", positive=True)
    H = fields.integer(fields.get(root, "height", ""), "height", positive=True)
    W, H = checked_image_size(W, H, lambda m: fields.error("width" if "width" in m else "height", m))
    fps = root.get("fps")
    fps = None if fps is None else fields.number(fps, "fps", positive=True)
    frames = fields.array(fields.get(root, "frames", ""), "frames")

    c2w, K, times = [], [], []
    for i, raw in enumerate(frames):
        key = child("frames", i)
        frame = fields.object(raw, key)
        pose_key, k_key = child(key, "c2w"), child(key, "K")
        pose = fields.matrix(fields.get(frame, "c2w", key), pose_key, 4, 4)
        c2w.append(checked_pose(pose, lambda m, k=pose_key: fields.error(k, m)))
        K.append(_checked_K(fields, fields.matrix(fields.get(frame, "K", key), k_key, 3, 3), k_key))
        if "t" in frame:
            times.append(fields.number(frame["t"], child(key, "t")))
    if times and len(times) != len(frames):
        missing = next(i for i, f in enumerate(frames) if "t" not in f)
        raise fields.error(child(child("frames", missing), "t"), "either every frame has a time t or none does")

    cameras = Cameras(torch.stack(c2w), torch.stack(K), W, H,
                      torch.tensor(times, dtype=torch.float64) if times else None)
    return {
        "version": version,
        "cameras": cameras,
        "fps": fps,
        "keyframes": _optional(fields, root, "keyframes", list),
        "interpolation": _optional(fields, root, "interpolation", dict),
        "meta": _optional(fields, root, "meta", dict),
    }


def save_trajectory(cameras: Cameras, path: str | Path, *, fps: float | None = None,
                    keyframes: Sequence[dict[str, Any]] | None = None,
                    interpolation: dict[str, Any] | None = None, meta: dict[str, Any] | None = None) -> Path:
    """Write a trajectory file. ``keyframes`` (list of plain dicts), ``interpolation`` and ``meta``
    (dicts) must be JSON-serialisable; they are stored as given (tuples come back as lists)."""
    cameras = frames_for_writing(cameras, "trajectory")
    if fps is not None and not float(fps) > 0:
        raise ValueError(f"trajectory: fps must be positive, got {fps}")
    if keyframes is not None and not all(isinstance(k, dict) for k in keyframes):
        raise ValueError("trajectory: keyframes must be a list of dicts")
    for name, value in (("interpolation", interpolation), ("meta", meta)):
        if value is not None and not isinstance(value, dict):
            raise ValueError(f"trajectory: {name} must be a dict, got {type(value).__name__}")

    frames = []
    for i in range(len(cameras)):
        frame: dict[str, Any] = {"c2w": cameras.c2w[i].tolist(), "K": cameras.K[i].tolist()}
        if cameras.timestamps is not None:
            frame["t"] = float(cameras.timestamps[i])
        frames.append(frame)
    doc: dict[str, Any] = {"format": TRAJECTORY_FORMAT, "version": TRAJECTORY_VERSION, "convention": _CONVENTION,
                           "width": cameras.width, "height": cameras.height}
    if fps is not None:
        doc["fps"] = float(fps)
    doc["frames"] = frames
    for name, value in (("keyframes", keyframes), ("interpolation", interpolation), ("meta", meta)):
        if value is not None:
            doc[name] = list(value) if name == "keyframes" else value
    return write_text_atomic(path, dumps_json(doc))


# ---- pieces ----------------------------------------------------------------------------

def _checked_header(fields: JsonFields, root: dict[str, Any]) -> int:
    if "format" not in root:
        raise fields.error("format", f'required key is missing: a raxel-studio trajectory starts with '
                                     f'"format": "{TRAJECTORY_FORMAT}"')
    fmt = root.get("format")
    if fmt != TRAJECTORY_FORMAT:
        raise fields.error("format", f"expected {TRAJECTORY_FORMAT!r}, got {fmt!r}; not a raxel-studio trajectory")
    version = fields.integer(fields.get(root, "version", ""), "version", positive=True)
    if version > TRAJECTORY_VERSION:
        raise fields.error("version", f"trajectory format version {version} was written by a newer raxel-studio; "
                                      f"this one reads versions up to {TRAJECTORY_VERSION}: please update")
    convention = root.get("convention", _CONVENTION)
    if convention != _CONVENTION:
        raise fields.error("convention", f"expected {_CONVENTION!r}, got {convention!r}")
    return version


def _checked_K(fields: JsonFields, K: torch.Tensor, key: str) -> torch.Tensor:
    if K[1, 0] != 0 or K[2, 0] != 0 or K[2, 1] != 0 or K[2, 2] != 1:
        raise fields.error(key, "K must be [[fx, s, cx], [0, fy, cy], [0, 0, 1]]")
    checked_intrinsics(float(K[0, 0]), float(K[1, 1]), float(K[0, 2]), float(K[1, 2]), lambda m: fields.error(key, m))
    if abs(float(K[0, 1])) > MAX_FOCAL_PIXELS:
        raise fields.error(key, f"skew {float(K[0, 1]):.6g} is beyond the {MAX_FOCAL_PIXELS:g} px limit")
    return K


def _optional(fields: JsonFields, root: dict[str, Any], name: str, kind: type) -> Any:
    value = root.get(name)
    if value is not None and not isinstance(value, kind):
        raise fields.error(name, f"expected {'an array' if kind is list else 'an object'}")
    if name == "keyframes" and value is not None:
        for i, item in enumerate(value):
            fields.object(item, child(name, i))
    return value
