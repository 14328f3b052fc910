"""Exact camera math for Rays as Pixels. No model, no UI.

Conventions (stated here once; every module follows them, converters exist only at file edges)
=============================================================================================

Camera axes
    OpenCV: x right, y down, z forward (the camera looks down +z).
    OpenGL / Blender / nerfstudio / NeRF files (x right, y up, looking down -z) are converted on
    load and save by ``opengl_to_opencv_c2w`` / ``opencv_to_opengl_c2w`` and nowhere else.

Poses
    Camera-to-world 4x4 matrices named ``c2w`` (rotation ``R`` = camera axes in world coordinates,
    translation ``t`` = camera centre in world coordinates). World-to-camera matrices (RealEstate10K,
    COLMAP) are called ``w2c`` and converted at the file boundary.

Intrinsics
    Pixel intrinsics ``K = [[fx, s, cx], [0, fy, cy], [0, 0, 1]]`` for an image of ``width`` x ``height``
    pixels. Pixel ``(x, y)`` (column, row, zero-based) has its centre at ``(x + 0.5, y + 0.5)``, so the
    image spans ``[0, width] x [0, height]`` and a centred principal point is ``(width / 2, height / 2)``.
    Resizing an image scales ``fx, cx`` by the width ratio and ``fy, cy`` by the height ratio, exactly.
    Field of view angles are in degrees at the API (``fov_y_deg``) and radians inside.

Quaternions
    ``(w, x, y, z)``, Hamilton product, unit norm, returned with ``w >= 0``.

World up
    ``WORLD_UP = (0, -1, 0)``: the world's up is -y, so a camera with identity rotation stands upright
    (its image-down axis points down). Presets and look-at use it; the viewer is told the same.

Tensors
    torch inside, batched over any leading dims (``(..., 4, 4)``, ``(..., 3, H, W)``), float32 or float64
    (the input's dtype is kept). numpy arrays and lists are accepted at the API edge. Invalid input
    (wrong shape, NaN/inf, singular intrinsics, non-rigid rotation) raises ``ValueError`` naming the problem.

Raxels (paper eq. 2)
    ``raxel(u) = R' normalize(K^{-1} u~) + t'`` with poses canonicalised to a reference camera (eq. 1),
    so the reference frame's raxel image is the bare unit ray bundle.
"""

from __future__ import annotations

WORLD_UP: tuple[float, float, float] = (0.0, -1.0, 0.0)

from .cameras import Cameras, focal_to_fov, fov_to_focal, intrinsics_matrix, scale_intrinsics  # noqa: E402
from .rays import (camera_ray_bundle, canonicalize, grid_intrinsics, pixel_grid, plucker, raxels,  # noqa: E402
                   raymap, world_rays)
from .io import (FORMATS, CameraFileError, load_cameras, load_colmap, load_trajectory_document,  # noqa: E402
                 load_transforms, save_cameras, save_trajectory)
from . import trajectory  # noqa: E402
from .metrics import (align_cameras, fit_sim3, forward_line_baseline, identity_baseline, pose_auc, pose_metrics,  # noqa: E402
                      relative_pose_errors, umeyama)
from .recover import procrustes_quaternion, quaternion_angle, recover_cameras  # noqa: E402
from .trajectory import PRESETS, Keyframe, interpolate, keyframes_from_cameras, random_walk  # noqa: E402
from .warp import infinite_depth_warp, plane_warp  # noqa: E402
from .transforms import (axis_angle_to_matrix, c2w_to_w2c, invert_pose, look_at, make_pose,  # noqa: E402
                         matrix_to_axis_angle, matrix_to_quaternion, opencv_to_opengl_c2w, opengl_to_opencv_c2w,
                         project_to_so3, chordal_mean, quaternion_multiply, quaternion_to_matrix, relative_rotation_angle_deg,
                         rotation_angle, w2c_to_c2w)

__all__ = [
    "WORLD_UP",
    "Cameras", "intrinsics_matrix", "fov_to_focal", "focal_to_fov", "scale_intrinsics",
    "canonicalize", "raxels", "plucker", "raymap", "world_rays", "pixel_grid", "camera_ray_bundle",
    "grid_intrinsics", "recover_cameras", "procrustes_quaternion", "quaternion_angle",
    "load_cameras", "save_cameras", "load_colmap", "load_transforms", "load_trajectory_document", "save_trajectory",
    "CameraFileError", "FORMATS",
    "pose_metrics", "align_cameras", "fit_sim3", "forward_line_baseline", "identity_baseline", "pose_auc", "relative_pose_errors", "umeyama",
    "trajectory", "Keyframe", "interpolate", "keyframes_from_cameras", "PRESETS", "random_walk",
    "make_pose", "invert_pose", "c2w_to_w2c", "w2c_to_c2w", "look_at", "rotation_angle",
    "relative_rotation_angle_deg", "project_to_so3", "chordal_mean", "quaternion_to_matrix", "matrix_to_quaternion",
    "quaternion_multiply", "axis_angle_to_matrix", "matrix_to_axis_angle",
    "opengl_to_opencv_c2w", "opencv_to_opengl_c2w", "infinite_depth_warp", "plane_warp",
]
