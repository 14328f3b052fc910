"""Camera-controlled generation: frames along the ground-truth trajectory from the clip's first frame.

PSNR / SSIM against the clip's own frames, and trajectory adherence: the generated video's poses,
re-estimated by the model, against the requested trajectory (``pose_metrics``). FID / FVD of the
generated against the ground-truth clips when the user gives local extractor weights (``frechet``).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from engine.baselines.warp import warp_source_frame
from engine.image_metrics import frame_metrics
from geometry.metrics import pose_metrics

from .cycle_metrics import generated_frame_quality

COLUMNS = ("clip", "style", "psnr", "psnr_other_path", "psnr_copy_first", "psnr_warp_first", "ssim", "adherence_rot_err_deg",
           "adherence_trans_err_deg", "adherence_RRA@30", "adherence_ATE", "sec_per_clip")


def evaluate_generation(engine, clips, *, video_steps: int | None = None, pose_steps: int = 2,
                        seed: int = 0, videos: list[np.ndarray] | None = None) -> list[dict[str, Any]]:
    """One row per clip; the generated clips are appended to ``videos`` when it is given (for FID / FVD).

    Beside the PSNR along the clip's own path, two answers that cannot follow the camera: the same first
    frame along the *next* clip's path (``psnr_other_path``; NaN with one clip) and the first frame
    repeated (``psnr_copy_first``). A model that follows the camera beats both. And the classical answer:
    the first frame warped into each camera with the scene at infinity (``psnr_warp_first``,
    ``engine.baselines.warp``), which a model must beat to add more than that homography."""
    rows = []
    for n, clip in enumerate(clips):
        t0 = time.perf_counter()
        frames = engine.generate(clip.frames[:1], clip.cameras, steps=video_steps, seed=seed)
        seconds = time.perf_counter() - t0
        if videos is not None:
            videos.append(frames)
        img = frame_metrics(frames, clip.frames)
        again = engine.estimate_poses(frames, steps=pose_steps, seed=seed)
        m = pose_metrics(again, clip.cameras)
        psnr, ssim = generated_frame_quality(img["psnr"], img["ssim"], source_frames=[0])
        psnr_other = float("nan")
        if len(clips) > 1:
            other = clips[(n + 1) % len(clips)].cameras.to(clip.cameras.dtype)
            o = frame_metrics(engine.generate(clip.frames[:1], other, steps=video_steps, seed=seed), clip.frames)
            psnr_other = generated_frame_quality(o["psnr"], o["ssim"], source_frames=[0])[0]
        c = frame_metrics(np.repeat(clip.frames[:1], len(clip.frames), 0), clip.frames)
        psnr_copy = generated_frame_quality(c["psnr"], c["ssim"], source_frames=[0])[0]
        w = frame_metrics(warp_source_frame(clip.frames[0], clip.cameras), clip.frames)
        psnr_warp = generated_frame_quality(w["psnr"], w["ssim"], source_frames=[0])[0]
        rows.append({"clip": clip.id, "style": clip.label, "psnr": psnr, "psnr_other_path": psnr_other,
                     "psnr_copy_first": psnr_copy, "psnr_warp_first": psnr_warp, "ssim": ssim,
                     "adherence_rot_err_deg": m["mean_rot_err_deg"],
                     "adherence_trans_err_deg": m["mean_trans_err_deg"], "adherence_RRA@30": m["RRA@30"],
                     "adherence_ATE": m["ATE"], "sec_per_clip": seconds})
    return rows


def frechet_lines(generated: list[np.ndarray], clips, extractors: dict[str, Any]) -> tuple[list[str], dict[str, float]]:
    """Report lines and values of FID (frames after the source frame, pooled) and FVD (whole clips)."""
    from .frechet import fid, fvd

    if not extractors:
        return ["- FID / FVD: not computed (no local extractor weights; `--fid-weights`, `--fvd-weights`, "
                "docs/metrics.md)"], {}
    reference = [c.frames for c in clips]
    values, lines = {}, []
    if "fid" in extractors:
        values["FID"] = fid([g[1:] for g in generated], [r[1:] for r in reference], extractors["fid"])
        n = sum(len(g) - 1 for g in generated)
        lines.append(f"- FID: {values['FID']:.2f} ({n} generated vs {n} ground-truth frames, upscaled to 299x299; "
                     "comparable only at equal sample counts and frame sizes)")
    if "fvd" in extractors:
        values["FVD"] = fvd(generated, reference, extractors["fvd"])
        lines.append(f"- FVD: {values['FVD']:.2f} ({len(generated)} generated vs {len(reference)} ground-truth "
                     "clips, resampled to 16 frames of 224x224; comparable only at equal counts)")
    if "fid" not in extractors:
        lines.append("- FID: not computed (no `--fid-weights`)")
    if "fvd" not in extractors:
        lines.append("- FVD: not computed (no `--fvd-weights`)")
    return lines, values
