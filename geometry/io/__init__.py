"""Camera file I/O: the only place file conventions meet the package conventions.

Every loader returns ``Cameras`` in the package conventions (OpenCV camera-to-world, pixel K with
pixel centres at +0.5, seconds) as float64; every writer takes them. Axis flips go through
``opengl_to_opencv_c2w`` / ``opencv_to_opengl_c2w``, world-to-camera files through
``w2c_to_c2w`` / ``c2w_to_w2c``, here and nowhere else.

Formats (docs/formats.md has the details and the trajectory schema):
    "re10k"            RealEstate10K pose .txt (w2c, normalised intrinsics, microseconds)
    "colmap"           COLMAP sparse model, text or binary (w2c quaternions); saves text
    "transforms"       NeRF / nerfstudio transforms.json (OpenGL c2w)
    "nerfstudio_path"  nerfstudio viewer camera_path.json (OpenGL c2w, vertical FOV degrees)
    "trajectory"       raxel-studio's own versioned JSON (package conventions, editor state)

Bad files raise ``CameraFileError`` (a ``ValueError``) naming the file and the line or key path.
Files are size-limited (``geometry.io.reading.MAX_FILE_BYTES``, 64 MiB; COLMAP models
``MAX_COLMAP_FILE_BYTES``) and never unpickled or evaluated.
"""

from __future__ import annotations

from .colmap import load_colmap, save_colmap
from .dispatch import FORMATS, CameraFormat, detect_format, format_for_saving, load_cameras, save_cameras
from .errors import CameraFileError
from .nerf_transforms import load_transforms, save_transforms
from .nerfstudio_path import load_nerfstudio_path, save_nerfstudio_path
from .re10k import Re10kClip, load_re10k, read_re10k, save_re10k
from .trajectory_json import (TRAJECTORY_FORMAT, TRAJECTORY_VERSION, load_trajectory, load_trajectory_document,
                              save_trajectory)

__all__ = [
    "load_cameras", "save_cameras", "FORMATS", "CameraFormat", "detect_format", "format_for_saving",
    "CameraFileError",
    "load_re10k", "read_re10k", "save_re10k", "Re10kClip",
    "load_colmap", "save_colmap",
    "load_transforms", "save_transforms",
    "load_nerfstudio_path", "save_nerfstudio_path",
    "load_trajectory", "load_trajectory_document", "save_trajectory", "TRAJECTORY_FORMAT", "TRAJECTORY_VERSION",
]
