"""Camera-path authoring: keyframes, spline interpolation, named presets and random walks.

Everything returns ``geometry.Cameras`` in the package conventions (OpenCV c2w, pixel ``K``,
``WORLD_UP = -y``), so the path drawn in the studio is exactly the one sent to the model.

- ``Keyframe`` (+ ``to_dict`` / ``from_dict``), ``keyframe_times``, ``keyframes_from_cameras``,
  ``keyframes_to_cameras``: the user's control cameras and their timing.
- ``interpolate``: keyframes -> per-frame cameras (Kochanek-Bartels splines for position,
  rotation and zoom; optional loop and constant speed).
- ``PRESETS`` and the preset functions (``orbit``, ``dolly_zoom``, ...): whole moves around a target.
- ``random_walk``: RealEstate10K- or DL3DV-style random smooth paths for training data.
- ``resample``: a dense trajectory (one camera per frame) -> the same path with another frame count.
"""

from __future__ import annotations

from .defaults import (DEFAULT_EYE, DEFAULT_FOV_Y_DEG, DEFAULT_FPS, DEFAULT_HEIGHT, DEFAULT_NUM_FRAMES,
                       DEFAULT_TARGET, DEFAULT_TRANSITION_SEC, DEFAULT_WIDTH)
from .interpolate import interpolate
from .keyframes import Keyframe, keyframe_times, keyframes_from_cameras, keyframes_to_cameras
from .presets import (PRESETS, arc_left, arc_right, dolly_in, dolly_out, dolly_zoom, lemniscate, orbit, pan,
                      pedestal, roll, spiral, static, tilt, truck, zoom)
from .resample import resample
from .spline import align_quaternion_signs
from .walks import WALK_KINDS, random_walk

__all__ = [
    "Keyframe", "keyframe_times", "keyframes_from_cameras", "keyframes_to_cameras",
    "interpolate", "align_quaternion_signs",
    "PRESETS", "static", "orbit", "arc_left", "arc_right", "dolly_in", "dolly_out", "truck", "pedestal",
    "pan", "tilt", "roll", "zoom", "dolly_zoom", "spiral", "lemniscate",
    "random_walk", "WALK_KINDS", "resample",
    "DEFAULT_FOV_Y_DEG", "DEFAULT_TRANSITION_SEC", "DEFAULT_NUM_FRAMES", "DEFAULT_FPS", "DEFAULT_WIDTH",
    "DEFAULT_HEIGHT", "DEFAULT_EYE", "DEFAULT_TARGET",
]
