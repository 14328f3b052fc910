"""Peer methods run on the same clips as the model, clearly labelled as baselines.

- ``colmap``: pose estimation by COLMAP through pycolmap (SIFT, exhaustive matching, incremental mapping).
"""

from .colmap import ColmapPoseResult, colmap_pose_events, estimate_poses_colmap

__all__ = ["ColmapPoseResult", "colmap_pose_events", "estimate_poses_colmap"]
