"""Cycle self-consistency (the paper's Table 2 shape), through ``Engine.cycle``: predict the clip's
trajectory, regenerate the clip from 3 of its frames along it, predict the regenerated clip's
trajectory; rotation / translation error between the two predictions, PSNR / SSIM of the regenerated
clip against the original."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

COLUMNS = ("clip", "style", "rot_err_deg", "trans_err_deg", "ATE", "psnr", "ssim", "sec_per_clip")


def evaluate_cycle(engine, clips, *, pose_steps: int = 2, video_steps: int | None = None, num_sources: int = 3,
                   seed: int = 0) -> list[dict[str, Any]]:
    rows = []
    for clip in clips:
        t0 = time.perf_counter()
        rep = engine.cycle(clip.frames, num_sources, pose_steps=pose_steps, video_steps=video_steps, seed=seed)
        src = set(rep["source_frames"])
        keep = np.array([i not in src for i in range(len(clip.frames))])   # sources are copied, not generated
        psnr = np.asarray(rep["psnr"])[keep]
        rows.append({"clip": clip.id, "style": clip.label, "rot_err_deg": rep["rot_err_deg"],
                     "trans_err_deg": rep["trans_err_deg"], "ATE": rep["ATE"],
                     "psnr": float(psnr[np.isfinite(psnr)].mean()) if np.isfinite(psnr).any() else float("inf"),
                     "ssim": float(np.asarray(rep["ssim"])[keep].mean()), "sec_per_clip": time.perf_counter() - t0})
    return rows
