"""Does the model read its input? The issue-10 probe: every model figure beside answers that cannot.

    python -m engine.evaluate.probe --checkpoint runs/tiny/checkpoints/step-0002000 --out results/probe.json

On held-out procedural clips (the evaluator's, ``benchmarks.procedural_clips``):

Poses (video clean, rays denoised in ``pose_steps`` steps, reference frame 0, the checkpoint's pose ensemble
or ``--ensemble``; with an ensemble, ``poses_single_pass`` holds the same figures for one plain pass)
    ``rot_err_deg``      mean relative rotation error over frame pairs (``pose_metrics``), pooled over clips
    ``identity``         the same for the "never turns" answer
    ``own_other``        mean error of each clip's prediction against its own truth, over the mean error of the
                         *next* clip's prediction against that truth: 1 for a model that ignores the video
    ``input_dependence`` spread of the predictions across clips over the truth's (``poses.input_dependence``)
    ``trans_dir_spread_deg`` / ``truth``: mean angle between the clips' last-frame translation directions (in
                         their frame 0), predicted and true: a collapsed translation head gives ~0
Generation (from the first frame along a path)
    ``psnr_own``         PSNR of frames 1.. against the truth, along the clip's own path
    ``psnr_other``       the same frames generated along the next clip's path (cannot follow the camera)
    ``psnr_copy_first``  repeating the first frame (what a model that ignores the camera tends to)
    ``psnr_warp_first``  the classical answer: the first frame warped into each camera with the scene at
                         infinity (``engine.baselines.warp``; unseen pixels copied)
    ``psnr_warp_guide``  for a model whose guide is a plane (``model.guide_depth``): the same warp through that
                         plane, the model's own starting point and a classical answer it must be read beside
    ``psnr_own_1step`` / ``psnr_other_1step``: the same with one sampling step, i.e. the model's estimate of
                         the mean clip. A sample carries the model's uncertainty as detail that is not the
                         truth's, which PSNR counts as error (about 3 dB for a calibrated model); the mean
                         does not, so the gap between the two says how unsure the model is
Joint generation (from the first frame; the path is predicted)
    ``joint_own_other``  like ``own_other`` for the predicted paths: 1 when the path ignores the photo
    ``oracle``           the same figures for paths drawn by the data generator itself from each clip's
                         true first camera and target (``joint_ceiling``): what a perfect model of the
                         training data scores. Procedural paths are drawn independently of the view
                         (random style, direction and size), so it is about 1 too: see RESULTS.md
    ``coherence_own_other`` does the joint sample's video move along its own predicted path? The poses
                         estimated from generated video i (``pose_steps``) against path i, over those from
                         video i + 1 against path i: 1 for a video that ignores its path (a still video
                         gives the same estimate whatever the path). The figure a photo's independence
                         from the path cannot hold at 1; its floor is the pose estimator's own/other.
                         When the predicted paths are alike, "other" is close to "own" whatever the video
                         does, so beside it: ``coherence_rot_err_deg`` (estimate against own path) and
                         ``coherence_still_rot_err_deg``, what a still video's estimate (never turns) scores
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from engine.baselines.warp import warp_source_frame
from engine.config import POSE_ENSEMBLES
from engine.image_metrics import frame_metrics
from geometry import Cameras, canonicalize
from geometry.metrics import identity_baseline, pose_metrics

from .benchmarks import PROCEDURAL_STYLES, EvalClip, procedural_clips
from .cycle_metrics import generated_frame_quality
from .poses import input_dependence


def _rot_err(pred: Cameras, truth: Cameras) -> float:
    return float(pose_metrics(pred, truth)["mean_rot_err_deg"])


def own_other_ratio(predicted: list[Cameras], truths: list[Cameras]) -> tuple[float, float, float]:
    """(mean own error, mean other error, ratio): clip i's prediction against clip i's truth, and clip
    i + 1's prediction against clip i's truth (rotation error, degrees)."""
    n = len(truths)
    own = [_rot_err(predicted[i], truths[i]) for i in range(n)]
    other = [_rot_err(predicted[(i + 1) % n].to(truths[i].dtype), truths[i]) for i in range(n)]
    mean_own, mean_other = float(np.mean(own)), float(np.mean(other))
    return mean_own, mean_other, mean_own / mean_other if mean_other > 0 else float("nan")


def translation_direction_spread_deg(trajectories: list[torch.Tensor], min_norm: float = 1e-6) -> float:
    """Mean pairwise angle (degrees) between the clips' last-frame translation directions, each trajectory
    (N, 4, 4) expressed in its own frame 0; clips that do not move are left out. NaN for < 2 moving clips."""
    dirs = []
    for c2w in trajectories:
        t = canonicalize(c2w.double(), 0)[-1, :3, 3]
        if float(t.norm()) > min_norm:
            dirs.append(t / t.norm())
    if len(dirs) < 2:
        return float("nan")
    D = torch.stack(dirs)
    a, b = torch.triu_indices(len(dirs), len(dirs), 1)
    cos = (D[a] * D[b]).sum(-1).clamp(-1, 1)
    return float(torch.rad2deg(torch.acos(cos)).mean())


def generated_psnr(frames: np.ndarray, truth: np.ndarray) -> float:
    """Mean PSNR of the generated frames (the source frame 0 left out), as the harness defines it."""
    m = frame_metrics(frames, truth)
    return generated_frame_quality(m["psnr"], m["ssim"], source_frames=[0])[0]


def probe_poses(engine, clips: list[EvalClip], *, steps: int = 2, seed: int = 0,
                ensemble: str | None = None) -> dict[str, Any]:
    ensemble = engine.config.sampler.pose_ensemble if ensemble is None else ensemble
    predicted = [engine.estimate_poses(c.frames, steps=steps, seed=seed, ensemble=ensemble).to(torch.float64)
                 for c in clips]
    return {"clips": len(clips), "steps": steps, "ensemble": ensemble, **score_poses(predicted, clips)}


def score_poses(predicted: list[Cameras], clips: list[EvalClip]) -> dict[str, Any]:
    """The pose figures of the module docstring for one prediction (float64 cameras) per clip."""
    truths = [c.cameras for c in clips]
    identity = [identity_baseline(t) for t in truths]
    model_m = [pose_metrics(p, t) for p, t in zip(predicted, truths)]
    ident_m = [pose_metrics(p, t) for p, t in zip(identity, truths)]
    own, other, ratio = own_other_ratio(predicted, truths)
    per_style: dict[str, dict[str, float]] = {}
    for style in sorted({c.label for c in clips}):
        idx = [i for i, c in enumerate(clips) if c.label == style]
        model = [float(model_m[i]["mean_rot_err_deg"]) for i in idx]
        ident = [float(ident_m[i]["mean_rot_err_deg"]) for i in idx]
        per_style[style] = {"clips": len(idx), "rot_err_deg": float(np.mean(model)),
                            "identity_rot_err_deg": float(np.mean(ident)),
                            "better_than_identity": int(sum(m < i for m, i in zip(model, ident)))}
    return {
        "rot_err_deg": float(np.mean([m["mean_rot_err_deg"] for m in model_m])),
        "identity_rot_err_deg": float(np.mean([m["mean_rot_err_deg"] for m in ident_m])),
        "own_rot_err_deg": own, "other_rot_err_deg": other, "own_other": ratio,
        "input_dependence": input_dependence([p.c2w for p in predicted], [t.c2w for t in truths]),
        "trans_dir_spread_deg": translation_direction_spread_deg([p.c2w for p in predicted]),
        "trans_dir_spread_truth_deg": translation_direction_spread_deg([t.c2w for t in truths]),
        "ATE": float(np.mean([m["ATE"] for m in model_m])),
        "identity_ATE": float(np.mean([m["ATE"] for m in ident_m])),
        "per_style": per_style,
        "per_clip_rot_err_deg": [round(float(m["mean_rot_err_deg"]), 2) for m in model_m],
        "per_clip_identity_deg": [round(float(m["mean_rot_err_deg"]), 2) for m in ident_m],
    }


def probe_generation(engine, clips: list[EvalClip], *, steps: int | None = None, seed: int = 0) -> dict[str, Any]:
    n = len(clips)
    own, other, copy, warp, own1, other1, plane = [], [], [], [], [], [], []
    guide_depth = engine.config.model.guide_depth
    for i, clip in enumerate(clips):
        nxt = clips[(i + 1) % n].cameras
        own.append(generated_psnr(engine.generate(clip.frames[:1], clip.cameras, steps=steps, seed=seed), clip.frames))
        other.append(generated_psnr(engine.generate(clip.frames[:1], nxt, steps=steps, seed=seed), clip.frames))
        own1.append(generated_psnr(engine.generate(clip.frames[:1], clip.cameras, steps=1, seed=seed), clip.frames))
        other1.append(generated_psnr(engine.generate(clip.frames[:1], nxt, steps=1, seed=seed), clip.frames))
        copy.append(generated_psnr(np.repeat(clip.frames[:1], len(clip.frames), 0), clip.frames))
        warp.append(generated_psnr(warp_source_frame(clip.frames[0], clip.cameras), clip.frames))
        if guide_depth:
            plane.append(generated_psnr(warp_source_frame(clip.frames[0], clip.cameras, depth=guide_depth),
                                        clip.frames))
    extra = {}
    if guide_depth:   # the model's guide (model.guide_depth) is itself a classical answer: read the model beside it
        extra = {"guide_depth": guide_depth, "psnr_warp_guide": float(np.mean(plane)),
                 "own_beats_warp_guide": int(sum(a > b for a, b in zip(own, plane)))}
    return {"clips": n, "psnr_own": float(np.mean(own)), "psnr_other": float(np.mean(other)),
            "psnr_copy_first": float(np.mean(copy)), "psnr_warp_first": float(np.mean(warp)),
            "psnr_own_1step": float(np.mean(own1)), "psnr_other_1step": float(np.mean(other1)),
            "own_beats_warp_first": int(sum(a > b for a, b in zip(own, warp))),
            "own_beats_other": int(sum(a > b for a, b in zip(own, other))),
            "own_beats_copy_first": int(sum(a > b for a, b in zip(own, copy))), **extra}


def probe_joint(engine, clips: list[EvalClip], *, steps: int | None = None, pose_steps: int = 2,
                seed: int = 0) -> dict[str, Any]:
    truths = [c.cameras for c in clips]
    predicted, estimated = [], []
    for i, c in enumerate(clips):
        # A noise seed of its own per clip: the path depends far more on the noise than on the photo, so
        # with one seed for all clips every "other" path would be nearly the own one (RESULTS, session 13).
        frames, cams = engine.generate_joint(c.frames[:1], num_frames=len(c.frames), steps=steps, ray_steps=steps,
                                             seed=seed + i)
        predicted.append(cams.to(torch.float64))
        estimated.append(engine.estimate_poses(frames, steps=pose_steps, seed=seed).to(torch.float64))
    own, other, ratio = own_other_ratio(predicted, truths)
    c_own, c_other, c_ratio = own_other_ratio(estimated, predicted)
    still = float(np.mean([_rot_err(identity_baseline(p), p) for p in predicted]))
    return {"clips": len(clips), "joint_rot_err_deg": own, "joint_other_rot_err_deg": other, "joint_own_other": ratio,
            "joint_input_dependence": input_dependence([p.c2w for p in predicted], [t.c2w for t in truths]),
            "coherence_rot_err_deg": c_own, "coherence_other_rot_err_deg": c_other, "coherence_own_other": c_ratio,
            "coherence_still_rot_err_deg": still}


def run_probe(engine, *, pose_clips: int = 24, gen_clips: int = 12, pose_steps: int = 2,
              video_steps: int | None = None, styles: tuple[str, ...] = PROCEDURAL_STYLES,
              seed: int = 0, first_seed: int = 0) -> dict[str, Any]:
    """The probe on held-out clips ``first_seed ..`` (0: the probe's own; another range serves as validation):
    poses on the first ``pose_clips`` of them, generation on the first ``gen_clips`` (either may be 0)."""
    if pose_clips < 0 or gen_clips < 0 or pose_clips + gen_clips == 0:
        raise ValueError(f"the probe needs pose_clips >= 0 and gen_clips >= 0, not both 0; got {pose_clips} "
                         f"and {gen_clips}")
    if 0 < pose_clips < 2 or 0 < gen_clips < 2:
        raise ValueError("own/other compares each clip with another: pose_clips and gen_clips must each be 0 or "
                         f">= 2; got {pose_clips} and {gen_clips}")
    clip_cfg = engine.config.clip
    t0 = time.perf_counter()
    clips = procedural_clips(clip_cfg, max(pose_clips, gen_clips), styles=styles, first_seed=first_seed)
    out: dict[str, Any] = {"styles": list(styles), "first_seed": first_seed}
    if pose_clips:
        out["poses"] = probe_poses(engine, clips[:pose_clips], steps=pose_steps, seed=seed)
        if out["poses"]["ensemble"] != "none":
            out["poses_single_pass"] = probe_poses(engine, clips[:pose_clips], steps=pose_steps, seed=seed,
                                                   ensemble="none")
    if gen_clips:
        out["generation"] = probe_generation(engine, clips[:gen_clips], steps=video_steps, seed=seed)
        out["joint"] = probe_joint(engine, clips[:gen_clips], steps=video_steps, pose_steps=pose_steps, seed=seed)
        from .joint_ceiling import oracle_own_other

        out["joint"]["oracle"] = oracle_own_other(clip_cfg, gen_clips, 8, styles=styles, first_seed=first_seed)[0]
    out["seconds"] = round(time.perf_counter() - t0, 1)
    return out


def bars(result: dict[str, Any]) -> dict[str, bool]:
    """Issue 10's done-when bars on a probe result (those of the parts it ran)."""
    out: dict[str, bool] = {}
    if "poses" in result:
        p = result["poses"]
        out = {"rotation <= 0.5 x identity": p["rot_err_deg"] <= 0.5 * p["identity_rot_err_deg"],
               "own/other <= 0.5": p["own_other"] <= 0.5,
               "translation spread within 2x": (p["trans_dir_spread_truth_deg"] / 2 <= p["trans_dir_spread_deg"]
                                                <= 2 * p["trans_dir_spread_truth_deg"])}
    if "generation" in result:
        g = result["generation"]
        out["PSNR own >= copy-first + 1 dB"] = g["psnr_own"] >= g["psnr_copy_first"] + 1
        out["PSNR own >= other path + 1 dB"] = g["psnr_own"] >= g["psnr_other"] + 1
        out["joint own/other <= 0.8"] = result["joint"]["joint_own_other"] <= 0.8
    return out


def report(result: dict[str, Any], out: str | None) -> None:
    """Print a diagnostic's result as JSON and, with ``out``, write it there too."""
    text = json.dumps(result, indent=1, default=lambda x: None if isinstance(x, float) and math.isnan(x) else x)
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(text + "\n")
    print(text)


def main(argv: list[str] | None = None) -> int:
    from engine import Engine

    ap = argparse.ArgumentParser(prog="python -m engine.evaluate.probe", description=__doc__.split("\n")[0])
    ap.add_argument("--checkpoint", default=None)
    ap.add_argument("--pose-clips", type=int, default=24, help="clips for the pose figures (0: none)")
    ap.add_argument("--gen-clips", type=int, default=12,
                    help="clips for generation and joint generation, the first of the same held-out clips (0: none)")
    ap.add_argument("--pose-steps", type=int, default=2)
    ap.add_argument("--video-steps", type=int, default=None)
    ap.add_argument("--styles", default=",".join(PROCEDURAL_STYLES), help="trajectory styles, comma-separated")
    ap.add_argument("--first-seed", type=int, default=0, help="first held-out clip (0: the probe's; e.g. 512: validation)")
    ap.add_argument("--ensemble", default=None, choices=POSE_ENSEMBLES,
                    help="pose ensemble for the 'poses' figures (default: the checkpoint's sampler.pose_ensemble)")
    ap.add_argument("--out", default=None, help="write the result as JSON")
    args = ap.parse_args(argv)
    engine = Engine.from_checkpoint(args.checkpoint, device="cpu")
    if args.ensemble is not None:
        engine.config.sampler.pose_ensemble = args.ensemble
    result = run_probe(engine, pose_clips=args.pose_clips, gen_clips=args.gen_clips, pose_steps=args.pose_steps,
                       video_steps=args.video_steps, styles=tuple(args.styles.split(",")), first_seed=args.first_seed)
    result["checkpoint"] = str(args.checkpoint)
    result["bars"] = bars(result)
    report(result, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
