"""NeRF / nerfstudio / instant-ngp ``transforms.json``.

``frames[].transform_matrix`` is a camera-to-world matrix with OpenGL camera axes (x right, y up,
looking down -z); it becomes an OpenCV c2w through ``opengl_to_opencv_c2w`` and nowhere else.
Intrinsics ``fl_x fl_y cx cy w h`` are pixels, top level or per frame (a frame's value wins);
the original NeRF synthetic files give only ``camera_angle_x`` (horizontal FOV, radians).
nerfstudio generates rays through pixel centres at +0.5, so ``cx, cy`` carry over unchanged.
Distortion (``k1 k2 k3 k4 p1 p2``) is ignored with a warning.

raxel-studio writes one extension: a per-frame ``timestamp`` in seconds, which other readers ignore.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch

from ..cameras import Cameras, intrinsics_matrix, scale_intrinsics
from ..transforms import opencv_to_opengl_c2w, opengl_to_opencv_c2w
from .errors import warn
from .file_checks import checked_image_size, checked_intrinsics, checked_pose
from .json_fields import JsonFields, child
from .reading import read_json
from .writing import dumps_json, frames_for_writing, warn_if_skewed, write_text_atomic

_DISTORTION_KEYS = ("k1", "k2", "k3", "k4", "p1", "p2")
_PINHOLE_MODELS = ("OPENCV", "PINHOLE", "SIMPLE_PINHOLE")


def load_transforms(path: str | Path, *, width: int | None = None,
                    height: int | None = None) -> tuple[Cameras, list[str | None]]:
    """Cameras (N,) float64 in file order and each frame's ``file_path`` (None where absent).

    ``width``/``height`` are used only when the file gives no image size (``w``, ``h``); failing
    both, the size of the first frame's image is read from disk.
    """
    return transforms_from_json(read_json(path), path, width=width, height=height)


def transforms_from_json(doc: Any, path: str | Path, *, width: int | None = None,
                         height: int | None = None) -> tuple[Cameras, list[str | None]]:
    """``load_transforms`` for an already parsed document (``path`` names it in errors)."""
    fields = JsonFields(path)
    root = fields.object(doc, "")
    model = root.get("camera_model", "OPENCV")
    if model not in _PINHOLE_MODELS:
        raise fields.error("camera_model", f"{model!r} is not a pinhole camera model; supported: "
                                           f"{', '.join(_PINHOLE_MODELS)}")
    frames = fields.array(fields.get(root, "frames", ""), "frames")

    c2w, K, sizes, file_paths, times = [], [], [], [], []
    distorted = False
    for i, raw in enumerate(frames):
        key = child("frames", i)
        frame = fields.object(raw, key)

        def value(name: str) -> tuple[Any, str] | None:
            """A frame's own value wins over the top-level one."""
            if name in frame:
                return frame[name], child(key, name)
            if name in root:
                return root[name], name
            return None

        matrix_key = child(key, "transform_matrix")
        raw_matrix = fields.get(frame, "transform_matrix", key)
        rows = 3 if isinstance(raw_matrix, list) and len(raw_matrix) == 3 else 4  # some tools drop the last row
        M = fields.matrix(raw_matrix, matrix_key, rows, 4)
        c2w.append(opengl_to_opencv_c2w(checked_pose(M, lambda m, k=matrix_key: fields.error(k, m))))

        w, h = _image_size(fields, value, frame, path, i, width, height)
        K.append(_intrinsics(fields, value, w, h, key))
        sizes.append((w, h))
        file_path = frame.get("file_path")
        file_paths.append(None if file_path is None else fields.text(file_path, child(key, "file_path")))
        if "timestamp" in frame:
            times.append(fields.number(frame["timestamp"], child(key, "timestamp")))
        distorted |= any(_nonzero(value(k)) for k in _DISTORTION_KEYS)

    if distorted:
        warn(f"{path}: lens distortion (k1..p2) is ignored; cameras are treated as pinhole")
    W, H = sizes[0]
    K = [k if s == (W, H) else scale_intrinsics(k, W / s[0], H / s[1]) for k, s in zip(K, sizes)]
    timestamps = torch.tensor(times, dtype=torch.float64) if len(times) == len(frames) else None
    return Cameras(torch.stack(c2w), torch.stack(K), W, H, timestamps), file_paths


def save_transforms(cameras: Cameras, path: str | Path, *, file_paths: list[str] | None = None) -> Path:
    """Write a nerfstudio-style transforms.json.

    Intrinsics go top level when all frames share them, else per frame. ``file_paths`` default
    to ``images/frame_00001.png, ...`` (nerfstudio's naming). Timestamps are kept as ``timestamp``.
    """
    cameras = frames_for_writing(cameras, "transforms.json")
    warn_if_skewed(cameras, "transforms.json")
    n = len(cameras)
    paths = [f"images/frame_{i + 1:05d}.png" for i in range(n)] if file_paths is None else list(file_paths)
    if len(paths) != n:
        raise ValueError(f"transforms.json: {len(paths)} file paths for {n} cameras")

    intrinsics = [{"fl_x": float(k[0, 0]), "fl_y": float(k[1, 1]), "cx": float(k[0, 2]), "cy": float(k[1, 2])}
                  for k in cameras.K]
    shared = all(d == intrinsics[0] for d in intrinsics)
    gl = opencv_to_opengl_c2w(cameras.c2w) + 0.0  # + 0.0 turns the flips' -0.0 into 0.0 in the file
    doc: dict[str, Any] = {"camera_model": "OPENCV", "w": cameras.width, "h": cameras.height}
    if shared:
        doc.update(intrinsics[0])
    frames = []
    for i in range(n):
        frame: dict[str, Any] = {"file_path": paths[i], "transform_matrix": gl[i].tolist()}
        if not shared:
            frame.update(intrinsics[i])
        if cameras.timestamps is not None:
            frame["timestamp"] = float(cameras.timestamps[i])
        frames.append(frame)
    doc["frames"] = frames
    return write_text_atomic(path, dumps_json(doc))


# ---- pieces ----------------------------------------------------------------------------

def _nonzero(found: tuple[Any, str] | None) -> bool:
    return found is not None and isinstance(found[0], (int, float)) and found[0] != 0


def _image_size(fields: JsonFields, value, frame: dict, path, index: int,
                width: int | None, height: int | None) -> tuple[int, int]:
    w, h = value("w"), value("h")
    if w is not None and h is not None:
        size = fields.integer(*w, positive=True), fields.integer(*h, positive=True)
        return checked_image_size(*size, lambda m: fields.error(w[1] if "width" in m else h[1], m))
    if width is not None and height is not None:
        return checked_image_size(width, height, lambda m: ValueError(f"{path}: width= / height=: {m}"))
    size = _size_from_image(fields, frame, path, index)
    return checked_image_size(*size, lambda m: fields.error(child("frames", index), f"the frame's image: {m}"))


def _size_from_image(fields: JsonFields, frame: dict, path, index: int) -> tuple[int, int]:
    """Original NeRF synthetic files omit the size; their file_path lacks the .png extension."""
    from .media_size import image_size

    key = child("frames", index)
    file_path = frame.get("file_path")
    if isinstance(file_path, str):
        base = Path(path).parent / file_path
        for candidate in (base, base.with_name(base.name + ".png")):
            if candidate.is_file():
                return image_size(candidate)
    raise fields.error(key, "no image size: the file has no w/h and the frame's image was not found; "
                            "pass width= and height=")


def _intrinsics(fields: JsonFields, value, w: int, h: int, key: str) -> torch.Tensor:
    fl_x, fl_y = value("fl_x"), value("fl_y")
    if fl_x is not None:
        fx = fields.number(*fl_x)
    elif value("camera_angle_x") is not None:
        angle = fields.number(*value("camera_angle_x"), positive=True)
        if angle >= math.pi:
            raise fields.error(value("camera_angle_x")[1], f"horizontal FOV must be below pi radians, got {angle}")
        fx = 0.5 * w / math.tan(0.5 * angle)
    else:
        raise fields.error(key, "no focal length: expected fl_x (pixels) or camera_angle_x (radians)")
    fy = fields.number(*fl_y) if fl_y is not None else fx
    cx = fields.number(*value("cx")) if value("cx") is not None else w / 2
    cy = fields.number(*value("cy")) if value("cy") is not None else h / 2
    fx, fy, cx, cy = checked_intrinsics(fx, fy, cx, cy, lambda m: fields.error(key, m))
    return intrinsics_matrix(*(torch.tensor(v, dtype=torch.float64) for v in (fx, fy, cx, cy)))
