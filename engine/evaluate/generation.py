"""Camera-controlled generation: frames along the ground-truth trajectory from the clip's first frame.

PSNR / SSIM against the clip's own frames, and trajectory adherence: the generated video's poses,
re-estimated by the model, against the requested trajectory (``pose_metrics``). FID / FVD need a
feature extractor's weights; nothing is downloaded, so they are only reported as not computed.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from engine.image_metrics import frame_metrics
from geometry.metrics import pose_metrics

COLUMNS = ("clip", "style", "psnr", "ssim", "adherence_rot_err_deg", "adherence_trans_err_deg",
           "adherence_RRA@30", "adherence_ATE", "sec_per_clip")


def _mean_finite(x: np.ndarray) -> float:
    x = np.asarray(x, dtype=np.float64)
    return float(x[np.isfinite(x)].mean()) if np.isfinite(x).any() else float("inf")


def evaluate_generation(engine, clips, *, video_steps: int | None = None, pose_steps: int = 2,
                        seed: int = 0) -> list[dict[str, Any]]:
    rows = []
    for clip in clips:
        t0 = time.perf_counter()
        frames = engine.generate(clip.frames[:1], clip.cameras, steps=video_steps, seed=seed)
        seconds = time.perf_counter() - t0
        img = frame_metrics(frames, clip.frames)
        again = engine.estimate_poses(frames, steps=pose_steps, seed=seed)
        m = pose_metrics(again, clip.cameras)
        rows.append({"clip": clip.id, "style": clip.label, "psnr": _mean_finite(img["psnr"][1:]),
                     "ssim": float(img["ssim"][1:].mean()), "adherence_rot_err_deg": m["mean_rot_err_deg"],
                     "adherence_trans_err_deg": m["mean_trans_err_deg"], "adherence_RRA@30": m["RRA@30"],
                     "adherence_ATE": m["ATE"], "sec_per_clip": seconds})
    return rows


def fid_status(weights: str | None) -> str:
    """Why FID / FVD are missing from a report (see RESULTS.md, "FID / FVD").

    The reference extractors (TF-Inception for FID, I3D for FVD) ship only as pickled ``.pth`` /
    TorchScript files, which this project never unpickles, and the architectures would come from
    torchvision, whose only wheels on this machine's index are CUDA builds that fail to import against
    the CPU torch wheel. Until a safetensors extractor can be built from a dependency, the report
    says so instead of printing a number.
    """
    if not weights:
        return "not computed (no local weights)"
    return (f"not computed: --fid-weights {weights} given, but no safe extractor is available yet "
            "(reference Inception / I3D weights are pickles; see RESULTS.md)")
