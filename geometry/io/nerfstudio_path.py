"""nerfstudio ``camera_path.json``: the viewer's render-panel path (import and export).

Schema (as nerfstudio's viewer writes and ``ns-render camera-path`` reads it):
``render_width``, ``render_height``, ``fps``, ``seconds``, ``camera_type`` ("perspective"),
``camera_path[]`` = rendered frames ``{camera_to_world: 16 numbers, fov, aspect}``,
``keyframes[]`` = the editable path ``{matrix: 16 numbers, fov, aspect,
override_transition_enabled, override_transition_sec}``, plus ``default_fov``,
``default_transition_sec``, ``is_cycle``, ``smoothness_value``.

Matrices are camera-to-world, OpenGL camera axes, flattened row-major. ``fov`` is the VERTICAL
field of view in degrees; nerfstudio renders with ``fx = fy = 0.5 * render_height / tan(fov / 2)``
and a centred principal point, which is what import returns. ``ns-render`` plays the frames at
``len(camera_path) / seconds`` fps, so frame ``i`` is at ``i / fps`` seconds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import torch

from ..cameras import Cameras, focal_to_fov, fov_to_focal, intrinsics_matrix
from ..transforms import opencv_to_opengl_c2w, opengl_to_opencv_c2w
from ..validation import as_tensor, check_pose
from .errors import warn
from .file_checks import checked_image_size, checked_intrinsics, checked_pose
from .json_fields import JsonFields, child
from .reading import read_json
from .writing import dumps_json, frames_for_writing, write_text_atomic

NERFSTUDIO_DEFAULT_FPS = 30.0
NERFSTUDIO_DEFAULT_SMOOTHNESS = 0.5  # the viewer's default spline tension


def load_nerfstudio_path(path: str | Path) -> Cameras:
    """The rendered frames (``camera_path``) as (N,) float64 cameras with timestamps ``i / fps``."""
    return nerfstudio_path_from_json(read_json(path), path)


def nerfstudio_path_from_json(doc: Any, path: str | Path) -> Cameras:
    """``load_nerfstudio_path`` for an already parsed document (``path`` names it in errors)."""
    fields = JsonFields(path)
    root = fields.object(doc, "")
    camera_type = root.get("camera_type", "perspective")
    if camera_type != "perspective":
        raise fields.error("camera_type", f"{camera_type!r} cameras are not pinhole; only 'perspective' is supported")
    W = fields.integer(fields.get(root, "render_width", ""), "render_width", positive=True)
    H = fields.integer(fields.get(root, "render_height", ""), "render_height", positive=True)
    W, H = checked_image_size(W, H, lambda m: fields.error("render_width" if "width" in m else "render_height", m))
    frames = fields.array(fields.get(root, "camera_path", ""), "camera_path")

    c2w, fov = [], []
    for i, raw in enumerate(frames):
        key = child("camera_path", i)
        frame = fields.object(raw, key)
        matrix_key = child(key, "camera_to_world")
        M = fields.matrix(fields.get(frame, "camera_to_world", key), matrix_key, 4, 4, flat=True)
        c2w.append(opengl_to_opencv_c2w(checked_pose(M, lambda m, k=matrix_key: fields.error(k, m))))
        fov.append(_fov_deg(fields, fields.get(frame, "fov", key), child(key, "fov")))

    f = fov_to_focal(torch.deg2rad(torch.tensor(fov, dtype=torch.float64)), H)
    for i, focal in enumerate(f.tolist()):  # a tiny FOV is a huge focal length
        checked_intrinsics(focal, focal, W / 2, H / 2, lambda m, k=child(child("camera_path", i), "fov"): fields.error(k, m))
    K = intrinsics_matrix(f, f, torch.full_like(f, W / 2), torch.full_like(f, H / 2))
    fps = _frame_rate(fields, root, len(frames))
    times = None if fps is None else torch.arange(len(frames), dtype=torch.float64) / fps
    return Cameras(torch.stack(c2w), K, W, H, times)


def save_nerfstudio_path(cameras: Cameras, path: str | Path, *, fps: float | None = None,
                         keyframes: Sequence[tuple[Any, float]] | None = None,
                         default_transition_sec: float | None = None, is_cycle: bool = False,
                         smoothness_value: float = NERFSTUDIO_DEFAULT_SMOOTHNESS) -> Path:
    """Write a camera_path.json that nerfstudio's viewer loads and ``ns-render`` renders.

    The cameras become ``camera_path`` (one rendered frame each). ``keyframes`` are
    ``(c2w 4x4 OpenCV, vertical fov degrees)`` items for the viewer's editable spline; by default
    every camera is a keyframe. ``fps`` defaults to the cameras' timestamp rate, else 30.
    nerfstudio stores one vertical FOV per frame and a centred principal point, so non-square
    pixels or an off-centre principal point are lost (with a warning).
    """
    cameras = frames_for_writing(cameras, "nerfstudio camera path")
    _warn_unrepresentable(cameras)
    n, W, H = len(cameras), cameras.width, cameras.height
    fps = _default_fps(cameras) if fps is None else float(fps)
    if not fps > 0:
        raise ValueError(f"nerfstudio camera path: fps must be positive, got {fps}")
    seconds = n / fps  # ns-render plays len(camera_path) frames in `seconds`
    aspect = W / H

    fov_deg = torch.rad2deg(focal_to_fov(cameras.K[:, 1, 1], H)).tolist()
    gl = opencv_to_opengl_c2w(cameras.c2w) + 0.0  # + 0.0 turns the flips' -0.0 into 0.0 in the file
    camera_path = [{"camera_to_world": gl[i].reshape(-1).tolist(), "fov": fov_deg[i], "aspect": aspect}
                   for i in range(n)]

    items = list(zip(cameras.c2w, fov_deg)) if keyframes is None else _checked_keyframes(keyframes)
    keyframe_docs = [{"matrix": (opencv_to_opengl_c2w(c2w) + 0.0).reshape(-1).tolist(), "fov": fov, "aspect": aspect,
                      "override_transition_enabled": False, "override_transition_sec": None}
                     for c2w, fov in items]
    if default_transition_sec is None:
        # The viewer's path lasts (number of transitions) x default_transition_sec; match `seconds`.
        transitions = len(items) if is_cycle else max(len(items) - 1, 1)
        default_transition_sec = seconds / transitions

    doc = {
        "default_fov": items[0][1],
        "default_transition_sec": float(default_transition_sec),
        "keyframes": keyframe_docs,
        "camera_type": "perspective",
        "render_height": H,
        "render_width": W,
        "fps": fps,
        "seconds": seconds,
        "is_cycle": bool(is_cycle),
        "smoothness_value": float(smoothness_value),
        "camera_path": camera_path,
    }
    return write_text_atomic(path, dumps_json(doc))


# ---- pieces ----------------------------------------------------------------------------

def _fov_deg(fields: JsonFields, value: Any, key: str) -> float:
    fov = fields.number(value, key, positive=True)
    if fov >= 180:
        raise fields.error(key, f"vertical FOV must be below 180 degrees, got {fov}")
    return fov


def _frame_rate(fields: JsonFields, root: dict[str, Any], n: int) -> float | None:
    if "fps" in root:
        return fields.number(root["fps"], "fps", positive=True)
    if "seconds" in root:
        return n / fields.number(root["seconds"], "seconds", positive=True)
    return None


def _default_fps(cameras: Cameras) -> float:
    t = cameras.timestamps
    if t is not None and len(t) > 1 and float(t[-1] - t[0]) > 0:
        return (len(t) - 1) / float(t[-1] - t[0])
    return NERFSTUDIO_DEFAULT_FPS


def _checked_keyframes(keyframes: Sequence[tuple[Any, float]]) -> list[tuple[torch.Tensor, float]]:
    items = []
    for i, item in enumerate(keyframes):
        try:
            c2w, fov = item
        except (TypeError, ValueError):
            raise ValueError(f"keyframes[{i}]: expected a (c2w 4x4, fov_deg) pair") from None
        c2w = as_tensor(c2w, f"keyframes[{i}].c2w", dtype=torch.float64)
        check_pose(c2w, f"keyframes[{i}].c2w")
        if c2w.shape != (4, 4):
            raise ValueError(f"keyframes[{i}].c2w: expected one 4x4 pose, got shape {tuple(c2w.shape)}")
        fov = float(fov)
        if not 0 < fov < 180:
            raise ValueError(f"keyframes[{i}]: vertical FOV must be in (0, 180) degrees, got {fov}")
        items.append((c2w, fov))
    if not items:
        raise ValueError("keyframes: empty list (pass None to use every camera as a keyframe)")
    return items


def _warn_unrepresentable(cameras: Cameras) -> None:
    K, W, H = cameras.K, cameras.width, cameras.height
    square = torch.allclose(K[:, 0, 0], K[:, 1, 1], rtol=1e-9, atol=0)
    centred = (torch.allclose(K[:, 0, 2], torch.full_like(K[:, 0, 2], W / 2), rtol=0, atol=1e-9 * W)
               and torch.allclose(K[:, 1, 2], torch.full_like(K[:, 1, 2], H / 2), rtol=0, atol=1e-9 * H))
    if not (square and centred and float(K[:, 0, 1].abs().max()) == 0):
        warn("nerfstudio camera path: the format stores only a vertical FOV per frame (square "
             "pixels, centred principal point, no skew); fx, cx, cy and skew are not kept")
