"""COLMAP text models: ``cameras.txt`` and ``images.txt`` (read and write).

cameras.txt: ``CAMERA_ID MODEL WIDTH HEIGHT PARAMS...`` per line.
images.txt: two lines per image, ``IMAGE_ID QW QX QY QZ TX TY TZ CAMERA_ID NAME`` (world-to-camera
rotation as a unit quaternion and translation, OpenCV axes) and then the 2D points
``X Y POINT3D_ID ...`` (possibly an empty line). ``#`` starts a comment line.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import NamedTuple

import torch

from ..cameras import Cameras
from ..transforms import c2w_to_w2c, make_pose, matrix_to_quaternion, quaternion_to_matrix
from .colmap_models import ColmapCamera, colmap_camera
from .errors import CameraFileError
from .file_checks import checked_pose
from .reading import iter_text_lines, read_text_lines
from .writing import fmt, write_text_atomic


class ColmapImage(NamedTuple):
    name: str
    camera_id: int
    w2c: torch.Tensor       # (4, 4) float64
    source: Path            # where the image was read, for errors found when matching cameras
    line: int | None = None
    key: str | None = None

    def error(self, message: str) -> CameraFileError:
        return CameraFileError(self.source, message, line=self.line, key=self.key)


def read_cameras_txt(path: Path) -> dict[int, ColmapCamera]:
    cameras: dict[int, ColmapCamera] = {}
    for number, line in enumerate(read_text_lines(path), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        fail = _at(path, number)
        tokens = line.split()
        if len(tokens) < 4:
            raise fail(f"expected CAMERA_ID MODEL WIDTH HEIGHT PARAMS..., got {len(tokens)} values")
        camera_id, width, height = (_integer(tokens[i], what, fail) for i, what in
                                    ((0, "CAMERA_ID"), (2, "WIDTH"), (3, "HEIGHT")))
        if camera_id in cameras:
            raise fail(f"camera {camera_id} is defined twice")
        params = [_number(t, f"parameter {i + 1}", fail) for i, t in enumerate(tokens[4:])]
        cameras[camera_id] = colmap_camera(tokens[1], width, height, params, fail)
    if not cameras:
        raise CameraFileError(path, "no cameras defined")
    return cameras


def read_images_txt(path: Path) -> list[ColmapImage]:
    """Posed images in file order. Streams the file: 2D point lines are checked, never stored."""
    images: list[ColmapImage] = []
    expect_points = False
    for number, line in iter_text_lines(path):
        line = line.strip()
        fail = _at(path, number)
        if expect_points:
            # COLMAP reads the line right after an image line as its 2D points, even if empty.
            expect_points = False
            if len(line.split()) % 3:
                raise fail("2D points line must hold X Y POINT3D_ID triples; "
                           "every image line in images.txt is followed by one points line (possibly empty)")
            continue
        if not line or line.startswith("#"):
            continue
        tokens = line.split(maxsplit=9)
        if len(tokens) != 10:
            raise fail(f"expected IMAGE_ID QW QX QY QZ TX TY TZ CAMERA_ID NAME, got {len(tokens)} values")
        _integer(tokens[0], "IMAGE_ID", fail)
        q = [_number(t, n, fail) for t, n in zip(tokens[1:5], ("QW", "QX", "QY", "QZ"))]
        t = [_number(v, n, fail) for v, n in zip(tokens[5:8], ("TX", "TY", "TZ"))]
        if math.hypot(*q) < 1e-8:
            raise fail("quaternion QW QX QY QZ is zero; it encodes no rotation")
        # Like COLMAP, normalise the quaternion: files print it with limited digits.
        R = quaternion_to_matrix(torch.tensor(q, dtype=torch.float64))
        w2c = checked_pose(make_pose(R, torch.tensor(t, dtype=torch.float64)), fail)
        camera_id = _integer(tokens[8], "CAMERA_ID", fail)
        images.append(ColmapImage(tokens[9].strip(), camera_id, w2c, path, line=number))
        expect_points = True
    if not images:
        raise CameraFileError(path, "no images defined")
    return images


# ---- writing ---------------------------------------------------------------------------

def write_colmap_text(cameras: Cameras, directory: Path, names: list[str]) -> None:
    """cameras.txt (one PINHOLE camera per distinct K), images.txt (empty 2D point lines) and an
    empty points3D.txt, which COLMAP needs to open the model."""
    K = cameras.K
    intrinsics = [(float(k[0, 0]), float(k[1, 1]), float(k[0, 2]), float(k[1, 2])) for k in K]
    camera_ids: dict[tuple[float, ...], int] = {}
    for key in intrinsics:
        camera_ids.setdefault(key, len(camera_ids) + 1)

    camera_lines = ["# Camera list with one line of data per camera:",
                    "#   CAMERA_ID, MODEL, WIDTH, HEIGHT, PARAMS[]",
                    f"# Number of cameras: {len(camera_ids)}"]
    for key, camera_id in camera_ids.items():
        camera_lines.append(" ".join([str(camera_id), "PINHOLE", str(cameras.width), str(cameras.height),
                                      *(fmt(v) for v in key)]))

    w2c = c2w_to_w2c(cameras.c2w)
    q = matrix_to_quaternion(w2c[:, :3, :3])  # (N, 4) wxyz, as COLMAP stores it
    image_lines = ["# Image list with two lines of data per image:",
                   "#   IMAGE_ID, QW, QX, QY, QZ, TX, TY, TZ, CAMERA_ID, NAME",
                   "#   POINTS2D[] as (X, Y, POINT3D_ID)",
                   f"# Number of images: {len(cameras)}, mean observations per image: 0"]
    for i, name in enumerate(names):
        numbers = [*q[i].tolist(), *w2c[i, :3, 3].tolist()]
        image_lines.append(" ".join([str(i + 1), *(fmt(v) for v in numbers), str(camera_ids[intrinsics[i]]), name]))
        image_lines.append("")  # no 2D points

    points_lines = ["# 3D point list with one line of data per point:",
                    "#   POINT3D_ID, X, Y, Z, R, G, B, ERROR, TRACK[] as (IMAGE_ID, POINT2D_IDX)",
                    "# Number of points: 0, mean track length: 0"]
    write_text_atomic(directory / "cameras.txt", "\n".join(camera_lines) + "\n")
    write_text_atomic(directory / "images.txt", "\n".join(image_lines) + "\n")
    write_text_atomic(directory / "points3D.txt", "\n".join(points_lines) + "\n")


# ---- tokens ----------------------------------------------------------------------------

def _at(path: Path, line: int):
    return lambda message: CameraFileError(path, message, line=line)


def _number(token: str, what: str, fail) -> float:
    try:
        value = float(token)
    except ValueError:
        raise fail(f"{what} ({token!r}) is not a number") from None
    if not math.isfinite(value):
        raise fail(f"{what} is {token} (NaN or infinite)")
    return value


def _integer(token: str, what: str, fail) -> int:
    try:
        return int(token)
    except ValueError:
        raise fail(f"{what} ({token!r}) is not an integer") from None
