"""COLMAP binary models (``cameras.bin`` + ``images.bin``), read through ``pycolmap``.

pycolmap's C++ reader trusts the record counts in the file, so garbage could make it loop or
allocate without bound. Before handing the files over we check that every count fits in the
file (a layout check: nothing is decoded here), and we give pycolmap an empty points3D.bin so
a large point cloud is never loaded just to read poses.
"""

from __future__ import annotations

import os
import shutil
import struct
import tempfile
from pathlib import Path

import torch

from .colmap_models import ColmapCamera, colmap_camera
from .colmap_text import ColmapImage
from .errors import CameraFileError
from .file_checks import checked_pose
from . import reading

# Smallest records: camera = id u32 + model i32 + width u64 + height u64; image = id u32 +
# quaternion 4 f64 + translation 3 f64 + camera id u32 + name NUL + point count u64.
_CAMERA_RECORD_MIN = 24
_IMAGE_HEADER = struct.Struct("<I4d3dI")
_POINT2D_BYTES = 24  # x, y f64 + point3D id i64
_MAX_NAME_BYTES = 4096


def read_colmap_binary(directory: Path) -> tuple[dict[int, ColmapCamera], list[ColmapImage]]:
    cameras_bin, images_bin = directory / "cameras.bin", directory / "images.bin"
    for path in (cameras_bin, images_bin):
        reading.check_readable_file(path, reading.MAX_COLMAP_FILE_BYTES)
    _check_cameras_layout(cameras_bin)
    _check_images_layout(images_bin)
    reconstruction = _read_with_pycolmap(directory)

    cameras: dict[int, ColmapCamera] = {}
    for camera_id, camera in reconstruction.cameras.items():
        fail = _at(cameras_bin, f"camera {camera_id}")
        cameras[camera_id] = colmap_camera(camera.model.name, camera.width, camera.height,
                                           [float(p) for p in camera.params], fail)
    images: list[ColmapImage] = []
    for image_id, image in reconstruction.images.items():
        if not image.has_pose:
            continue  # registered images only, like images.txt
        fail = _at(images_bin, f"image {image_id} ({image.name})")
        w2c = checked_pose(torch.tensor(image.cam_from_world().matrix(), dtype=torch.float64), fail)
        images.append(ColmapImage(image.name, image.camera_id, w2c, images_bin, key=f"image {image_id}"))
    if not images:
        raise CameraFileError(images_bin, "no posed images in the model")
    return cameras, images


def _at(path: Path, key: str):
    return lambda message: CameraFileError(path, message, key=key)


def _read_with_pycolmap(directory: Path):
    import pycolmap  # deferred: heavy import, only binary models need it

    with tempfile.TemporaryDirectory(prefix="raxel-colmap-") as tmp:
        names = ["cameras.bin", "images.bin"]
        # COLMAP >= 3.12 models also store rigs and frames (which images are registered).
        if (directory / "rigs.bin").is_file() and (directory / "frames.bin").is_file():
            names += ["rigs.bin", "frames.bin"]
        for name in names:
            _link_or_copy(directory / name, Path(tmp) / name)
        (Path(tmp) / "points3D.bin").write_bytes(struct.pack("<Q", 0))
        reconstruction = pycolmap.Reconstruction()
        try:
            reconstruction.read_binary(tmp)
        except Exception as exc:  # pycolmap reports failed checks as ValueError / RuntimeError
            raise CameraFileError(directory, f"pycolmap cannot read the binary model ({exc})") from None
    return reconstruction


def _link_or_copy(src: Path, dst: Path) -> None:
    try:
        os.symlink(src.resolve(), dst)
    except OSError:
        shutil.copyfile(src, dst)


def _read_count(f, path: Path) -> int:
    raw = f.read(8)
    if len(raw) != 8:
        raise CameraFileError(path, "truncated: file is shorter than its 8-byte record count")
    return struct.unpack("<Q", raw)[0]


def _check_cameras_layout(path: Path) -> None:
    size = path.stat().st_size
    with open(path, "rb") as f:
        count = _read_count(f, path)
    if count == 0:
        raise CameraFileError(path, "the model has no cameras")
    if 8 + count * _CAMERA_RECORD_MIN > size:
        raise CameraFileError(path, f"not a COLMAP cameras.bin: it claims {count} cameras in {size} bytes")


def _check_images_layout(path: Path) -> None:
    """Walk the image records, skipping their 2D points, to check every count fits the file."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        count = _read_count(f, path)
        if count == 0:
            raise CameraFileError(path, "the model has no images")
        if 8 + count * (_IMAGE_HEADER.size + 1 + 8) > size:
            raise CameraFileError(path, f"not a COLMAP images.bin: it claims {count} images in {size} bytes")
        for index in range(count):
            where = f"image record {index}"
            if len(f.read(_IMAGE_HEADER.size)) != _IMAGE_HEADER.size:
                raise CameraFileError(path, "truncated image record", key=where)
            name = f.read(_MAX_NAME_BYTES)
            end = name.find(b"\x00")
            if end < 0:
                raise CameraFileError(path, "image name is not NUL-terminated within 4096 bytes", key=where)
            f.seek(end + 1 - len(name), os.SEEK_CUR)
            points = _read_count(f, path)
            if f.tell() + points * _POINT2D_BYTES > size:
                raise CameraFileError(path, f"claims {points} 2D points, more than the file holds", key=where)
            f.seek(points * _POINT2D_BYTES, os.SEEK_CUR)
