"""COLMAP camera models that are pinhole up to lens distortion, and how their parameters map to
pixel intrinsics. COLMAP's pixel convention equals ours (the top-left pixel's centre is at
(0.5, 0.5)), so ``fx, fy, cx, cy`` carry over unchanged."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from .errors import warn
from .file_checks import Fail, checked_image_size, checked_intrinsics

# model name -> (parameter names in COLMAP's order, how many leading ones are fx fy cx cy / f cx cy)
CAMERA_MODEL_PARAMS: dict[str, tuple[str, ...]] = {
    "SIMPLE_PINHOLE": ("f", "cx", "cy"),
    "PINHOLE": ("fx", "fy", "cx", "cy"),
    "SIMPLE_RADIAL": ("f", "cx", "cy", "k"),
    "RADIAL": ("f", "cx", "cy", "k1", "k2"),
    "OPENCV": ("fx", "fy", "cx", "cy", "k1", "k2", "p1", "p2"),
}


class ColmapCamera(NamedTuple):
    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float
    distorted: bool  # non-zero distortion parameters were dropped


def colmap_camera(model: str, width: int, height: int, params: list[float], fail: Fail) -> ColmapCamera:
    """Pinhole intrinsics of one COLMAP camera; unsupported models and wrong counts raise ``fail``."""
    names = CAMERA_MODEL_PARAMS.get(model)
    if names is None:
        raise fail(f"camera model {model!r} is not supported; use one of {', '.join(CAMERA_MODEL_PARAMS)} "
                   "(undistort fisheye models with COLMAP first)")
    if len(params) != len(names):
        raise fail(f"camera model {model} takes {len(names)} parameters ({' '.join(names)}), got {len(params)}")
    checked_image_size(width, height, fail)
    values = dict(zip(names, params))
    fx = values.get("fx", values.get("f"))
    fy = values.get("fy", values.get("f"))
    fx, fy, cx, cy = checked_intrinsics(fx, fy, values["cx"], values["cy"], fail)
    distortion = [v for n, v in values.items() if n not in ("f", "fx", "fy", "cx", "cy")]
    return ColmapCamera(width, height, fx, fy, cx, cy, any(v != 0 for v in distortion))


def warn_dropped_distortion(path: Path, cameras: dict[int, ColmapCamera]) -> None:
    ids = sorted(i for i, c in cameras.items() if c.distorted)
    if ids:
        warn(f"{path}: cameras {ids[:5]}{'...' if len(ids) > 5 else ''} have lens distortion, which is "
             "ignored (treated as pinhole); undistort the images with COLMAP for exact rays")
