"""Cycle self-consistency (the paper's Table 2 shape), through ``Engine.cycle``: predict the clip's
trajectory, regenerate the clip from 3 of its frames along it, predict the regenerated clip's
trajectory; rotation / translation error between the two predictions, PSNR / SSIM of the regenerated
frames (sources excluded) against the original. Beside them the control: the same error along another
trajectory and what ignoring the clip would score there (``cycle_metrics``, docs/metrics.md)."""

from __future__ import annotations

import time
from typing import Any

COLUMNS = ("clip", "style", "rot_err_deg", "trans_err_deg", "ATE", "other_rot_err_deg",
           "other_ignoring_input_rot_err_deg", "input_independent", "psnr", "ssim", "sec_per_clip")
REPORT_KEYS = ("rot_err_deg", "trans_err_deg", "ATE", "other_rot_err_deg", "other_ignoring_input_rot_err_deg",
               "input_independent")                # copied as they are from Engine.cycle's report


def evaluate_cycle(engine, clips, *, pose_steps: int = 2, video_steps: int | None = None, num_sources: int = 3,
                   seed: int = 0) -> list[dict[str, Any]]:
    """One row per clip; ``psnr`` / ``ssim`` are the report's ``mean_psnr`` / ``mean_ssim`` (one definition)."""
    rows = []
    for clip in clips:
        t0 = time.perf_counter()
        rep = engine.cycle(clip.frames, num_sources, pose_steps=pose_steps, video_steps=video_steps, seed=seed)
        rows.append({"clip": clip.id, "style": clip.label, **{k: rep[k] for k in REPORT_KEYS},
                     "psnr": rep["mean_psnr"], "ssim": rep["mean_ssim"], "sec_per_clip": time.perf_counter() - t0})
    return rows
