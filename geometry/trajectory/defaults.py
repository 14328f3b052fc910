"""Default values shared by keyframes, presets and random walks (one place to change them)."""

from __future__ import annotations

DEFAULT_FOV_Y_DEG = 50.0          # vertical field of view of a new keyframe or preset, degrees
DEFAULT_TRANSITION_SEC = 1.0      # length of a keyframe-to-keyframe transition without an explicit duration
DEFAULT_NUM_FRAMES = 49           # 1 + 4k frames: the length Wan's video VAE takes without truncation
DEFAULT_FPS = 16.0                # Wan 2.1 generates 16 frames per second
DEFAULT_WIDTH = 384               # image size of the RealEstate10K clips the project trains on
DEFAULT_HEIGHT = 256
DEFAULT_EYE = (0.0, 0.0, 0.0)     # presets start at the canonical reference camera (identity pose) ...
DEFAULT_TARGET = (0.0, 0.0, 2.0)  # ... looking at a point 2 units ahead on its optical axis
