"""COLMAP sparse models: find the model files, turn cameras + images into ``Cameras``, save text.

Poses in COLMAP are world-to-camera with OpenCV axes; they are inverted to c2w here. Frames are
sorted by image name (COLMAP's image ids follow feature extraction, not time). One ``Cameras``
has one image size, so if images use cameras of different sizes every K is rescaled to the size
of the first image's camera.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch

from ..cameras import Cameras, intrinsics_matrix, scale_intrinsics
from ..transforms import w2c_to_c2w
from .colmap_binary import read_colmap_binary
from .colmap_models import ColmapCamera, warn_dropped_distortion
from .colmap_text import ColmapImage, read_cameras_txt, read_images_txt, write_colmap_text
from .errors import CameraFileError
from .writing import frames_for_writing, warn_if_skewed

COLMAP_FILE_NAMES = ("cameras.txt", "images.txt", "cameras.bin", "images.bin")


def load_colmap(path: str | Path) -> tuple[Cameras, list[str]]:
    """Cameras (N,) float64 and their image names, sorted by name.

    ``path`` is the model folder (e.g. ``sparse/0``) or any of its cameras/images files. A folder
    with both binary and text models is read as binary, as COLMAP does.
    """
    directory, kind = colmap_model_location(path)
    if kind == "binary":
        cameras, images = read_colmap_binary(directory)
        source = directory / "cameras.bin"
    else:
        source = directory / "cameras.txt"
        cameras = read_cameras_txt(source)
        images = read_images_txt(directory / "images.txt")
    warn_dropped_distortion(source, cameras)
    return _assemble(cameras, images)


def save_colmap(cameras: Cameras, path: str | Path, *, image_names: list[str] | None = None) -> Path:
    """Write a COLMAP text model (cameras.txt, images.txt, empty points3D.txt) into the folder
    ``path`` (or the folder of a given cameras.txt / images.txt). Returns the folder.

    ``image_names`` default to ``frame_00000.png, ...``; names sort in frame order, so loading
    returns the frames in the order saved. Names must be unique and free of whitespace (COLMAP
    splits lines on spaces).
    """
    cameras = frames_for_writing(cameras, "COLMAP")
    warn_if_skewed(cameras, "COLMAP")
    names = [f"frame_{i:05d}.png" for i in range(len(cameras))] if image_names is None else list(image_names)
    if len(names) != len(cameras):
        raise ValueError(f"COLMAP: {len(names)} image names for {len(cameras)} cameras")
    if len(set(names)) != len(names):
        raise ValueError("COLMAP: image names must be unique")
    bad = [n for n in names if not isinstance(n, str) or not n or re.search(r"\s", n)]
    if bad:
        raise ValueError(f"COLMAP: image names must be non-empty and contain no whitespace, got {bad[:3]!r}")
    path = Path(path)
    directory = path.parent if path.name in COLMAP_FILE_NAMES else path
    directory.mkdir(parents=True, exist_ok=True)
    write_colmap_text(cameras, directory, names)
    return directory


def colmap_model_location(path: str | Path) -> tuple[Path, str]:
    """``(folder, "text" | "binary")`` of the COLMAP model at ``path``."""
    path = Path(path)
    if path.is_dir():
        for kind, ext in (("binary", "bin"), ("text", "txt")):
            if (path / f"cameras.{ext}").is_file() and (path / f"images.{ext}").is_file():
                return path, kind
        raise CameraFileError(path, "not a COLMAP model folder: needs cameras.bin + images.bin "
                                    "or cameras.txt + images.txt")
    if path.name not in COLMAP_FILE_NAMES:
        raise CameraFileError(path, f"COLMAP model files are named {', '.join(COLMAP_FILE_NAMES)}")
    directory = path.parent
    ext = path.suffix.lstrip(".")
    for name in (f"cameras.{ext}", f"images.{ext}"):
        if not (directory / name).is_file():
            raise CameraFileError(directory / name, f"missing: a COLMAP model needs both cameras.{ext} "
                                                    f"and images.{ext} in one folder")
    return directory, "binary" if ext == "bin" else "text"


def _assemble(cameras: dict[int, ColmapCamera], images: list[ColmapImage]) -> tuple[Cameras, list[str]]:
    images = sorted(images, key=lambda image: image.name)
    seen: set[str] = set()
    for image in images:
        if image.name in seen:
            raise image.error(f"image name {image.name!r} appears twice")
        if image.camera_id not in cameras:
            raise image.error(f"camera {image.camera_id} is not defined in the cameras file")
        seen.add(image.name)

    first = cameras[images[0].camera_id]
    Ks = []
    for image in images:
        cam = cameras[image.camera_id]
        K = intrinsics_matrix(*(torch.tensor(v, dtype=torch.float64) for v in (cam.fx, cam.fy, cam.cx, cam.cy)))
        if (cam.width, cam.height) != (first.width, first.height):
            K = scale_intrinsics(K, first.width / cam.width, first.height / cam.height)
        Ks.append(K)
    w2c = torch.stack([image.w2c for image in images])
    result = Cameras(w2c_to_c2w(w2c), torch.stack(Ks), first.width, first.height)
    return result, [image.name for image in images]
