"""Does the video denoiser read the cameras? One denoising step, teacher-forced, own path against another.

    python -m engine.evaluate.camera_use --checkpoint assets/checkpoints/raxels-tiny --out results/camera_use.json

``engine.evaluate.probe`` scores whole samples: a model that follows the camera a little can still lose
PSNR to copying the first frame, and 20 sampling steps compound the errors. This asks the narrower
question the training loss asks. For each held-out procedural clip, the true clip is noised to time
``t`` (the camera-controlled task: frame 0 a clean source, rays clean), and the model's one-step
estimate of the clean frames is decoded and scored against the truth (PSNR over frames 1..) twice,
with the *same* noise: given the clip's own cameras, and given the next clip's cameras. A denoiser that
ignores the cameras scores the same both ways at every ``t``; one that uses them is better with its
own, most at low ``t`` (much noise), where the frames are least visible in its input.

Reported per ``t``: ``psnr_own``, ``psnr_other``, their difference and how many clips the own cameras
win, beside ``psnr_copy_first`` (repeating frame 0), ``psnr_warp_first`` (frame 0 warped into each camera
with the scene at infinity, ``engine.baselines.warp``) and ``psnr_noised`` (the noised input's own
estimate, ``z_t``, decoded: what reading the input alone gives at high ``t``).
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np
import torch

from engine.baselines.warp import warp_source_frame
from engine.camera_codec import encode_cameras
from engine.flow import noise_streams
from engine.media import tensor_to_uint8
from engine.objective import predicted_clean, stream_times
from engine.pipeline import JointPipeline
from engine.tasks import conditioning_slots

from .benchmarks import EvalClip, procedural_clips
from .probe import generated_psnr, report

TIMES = (0.0, 0.25, 0.5, 0.75)


def _streams(pipe, clip_frames: torch.Tensor, cameras, slots: list[int]) -> dict[str, torch.Tensor]:
    """Clean latents of a clip (frames (T, 3, H, W) in [-1, 1]) with the given cameras' rays."""
    rays, _ = encode_cameras(cameras.to(torch.float64), ref=slots[0], grid=pipe.ray_grid, encoding=pipe.encoding)
    rays = rays.to(clip_frames.dtype)[None]                                       # (1, T, Cray, Hr, Wr)
    cond_idx = torch.tensor([slots])
    return pipe.clean_streams(clip_frames.permute(1, 0, 2, 3)[None], rays, cond_idx)[0]


def one_step_frames(pipe, clean: dict[str, torch.Tensor], slots: list[int], t: float, num_sources: int,
                    frames: torch.Tensor, seed: int, guide: torch.Tensor | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The model's clean-frame estimate and the noised input's, (T, H, W, 3) uint8, for the latents
    ``clean`` of ``frames`` (T, 3, H, W) noised to ``t`` with noise from ``seed`` (the same noise for every
    call with that seed); conditioning slots at frames ``slots``, the first ``num_sources`` clean."""
    M = len(slots)
    cond_idx = torch.tensor([slots])
    cond_pos = pipe.cond_positions(cond_idx)
    tv = torch.tensor([float(t)])
    times = stream_times(tv, torch.ones(1), torch.tensor([num_sources]), M)
    noised, _, _ = noise_streams(clean, times, torch.Generator().manual_seed(seed))
    features = None
    if pipe.cfg.model.xfeat_features:
        features = pipe.features(cond_frames=JointPipeline.slot_frames(frames.permute(1, 0, 2, 3)[None],
                                                                       cond_idx)[:, :num_sources], num_slots=M)
    with torch.inference_mode():
        pred = pipe.model(noised, times, cond_pos=cond_pos, features=features, guide=guide)
        x = predicted_clean(pred["video"], noised["video"], times["video"])
        est = tensor_to_uint8(pipe.decode_video(x.float())[0].transpose(0, 1))
        inp = tensor_to_uint8(pipe.decode_video(noised["video"].float())[0].transpose(0, 1))
    return est, inp


def camera_use(engine, clips: list[EvalClip], *, times=TIMES, seed: int = 0) -> dict[str, Any]:
    pipe = engine.pipe
    n = len(clips)
    scores = {t: {"own": [], "other": [], "noised": []} for t in times}
    copy, warp = [], []
    for i, clip in enumerate(clips):
        frames = engine._uint8_to_model(clip.frames)
        slots = conditioning_slots(len(clip.frames), pipe.cfg.clip.num_cond, [0])
        # The clip with its own cameras, and with the next clip's: each its latents and its guide.
        given = [(_streams(pipe, frames, cams, slots), pipe.reference_warp_along(frames[slots[0]], cams, slots[0]))
                 for cams in (clip.cameras, clips[(i + 1) % n].cameras)]
        copy.append(generated_psnr(np.repeat(clip.frames[:1], len(clip.frames), 0), clip.frames))
        warp.append(generated_psnr(warp_source_frame(clip.frames[0], clip.cameras), clip.frames))
        for t in times:
            est, inp = one_step_frames(pipe, given[0][0], slots, t, 1, frames, seed + i, given[0][1])
            est_o, _ = one_step_frames(pipe, given[1][0], slots, t, 1, frames, seed + i, given[1][1])
            scores[t]["own"].append(generated_psnr(est, clip.frames))
            scores[t]["other"].append(generated_psnr(est_o, clip.frames))
            scores[t]["noised"].append(generated_psnr(inp, clip.frames))
    rows: dict[str, Any] = {}
    for t, sc in scores.items():
        own, other = sc["own"], sc["other"]
        rows[f"t={t:g}"] = {"psnr_own": float(np.mean(own)), "psnr_other": float(np.mean(other)),
                            "own_minus_other_db": float(np.mean(own) - np.mean(other)),
                            "own_wins": int(sum(a > b for a, b in zip(own, other))),
                            "psnr_copy_first": float(np.mean(copy)), "psnr_warp_first": float(np.mean(warp)),
                            "psnr_noised": float(np.mean(sc["noised"]))}
    return {"clips": n, "by_time": rows}


def main(argv: list[str] | None = None) -> int:
    from engine import Engine

    ap = argparse.ArgumentParser(prog="python -m engine.evaluate.camera_use", description=__doc__.split("\n")[0])
    ap.add_argument("--checkpoint", default=None)
    ap.add_argument("--clips", type=int, default=12)
    ap.add_argument("--times", default=",".join(f"{t:g}" for t in TIMES))
    ap.add_argument("--out", default=None, help="write the result as JSON")
    args = ap.parse_args(argv)
    engine = Engine.from_checkpoint(args.checkpoint, device="cpu")
    t0 = time.perf_counter()
    clips = procedural_clips(engine.config.clip, args.clips)
    result = camera_use(engine, clips, times=tuple(float(x) for x in args.times.split(",")))
    result["checkpoint"] = str(args.checkpoint)
    result["seconds"] = round(time.perf_counter() - t0, 1)
    report(result, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
