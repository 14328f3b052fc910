"""The end-of-run evaluation hook: cheap numbers on held-out clips, from the checkpoint as users load it.

``evaluate_hook(engine, examples, cfg)`` is called by the trainer with the final checkpoint loaded
through ``Engine.from_checkpoint`` and held-out examples (the trainer's batch format, unbatched).
It returns a flat dict of floats (stored in the run's ``summary.json``):

    heldout_loss, heldout_loss_video, heldout_loss_rays   flow loss with fixed noise and times
    pose_rot_err_deg      mean relative rotation error of estimated poses (all frame pairs, degrees)
    pose_rra15            fraction of frame pairs with rotation error < 15 degrees
    identity_rot_err_deg  the same error for "every camera = the reference" (the trivial baseline)
    pose_rot_err_median_deg / identity_rot_err_median_deg   the same over clips by their median, and
    pose_beats_identity   the fraction of clips where the model's error is below the identity's: a few
                          clips are held out, of every trajectory style, and one large turn the model
                          misses moves the means by several degrees (the probe's fixed 24 clips are the
                          figure to compare checkpoints by: ``engine.evaluate.probe``)
    pose_steps, pose_clips, heldout_clips

Ground-truth cameras are the example's ``c2w`` / ``K`` (``engine.data`` examples carry them), else
they are decoded from its ray images, so any source of the batch format can be evaluated. Another hook can be named in the
run config (``[eval] hook = "package.module:function"``) with the same signature.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from geometry import Cameras
from geometry.metrics import identity_baseline, pose_metrics

from ..camera_codec import decode_cameras
from ..objective import training_loss
from ..tasks import estimate_poses_events
from .config import EvalConfig
from .data import collate_examples


def heldout_flow_loss(pipe, examples: list[dict[str, Any]], *, batch_size: int, seed: int,
                      device: torch.device, dtype: torch.dtype) -> dict[str, float]:
    """Token-weighted mean flow loss over ``examples`` with a fixed generator (comparable across runs)."""
    gen = torch.Generator().manual_seed(seed)
    sums = {"loss": 0.0, "loss_video": 0.0, "loss_rays": 0.0}
    n_batches, tok = 0, {"video": 0.0, "rays": 0.0}
    with torch.no_grad():
        for i in range(0, len(examples), batch_size):
            batch = collate_examples(examples[i:i + batch_size])
            batch = {k: (v.to(device, dtype) if v.is_floating_point() else v.to(device))
                     for k, v in batch.items() if isinstance(v, torch.Tensor)}
            _, logged = training_loss(pipe, batch, generator=gen)
            sums["loss"] += logged["loss"]
            n_batches += 1
            for m in ("video", "rays"):
                sums[f"loss_{m}"] += logged[f"loss_{m}"] * logged[f"tokens_{m}"]
                tok[m] += logged[f"tokens_{m}"]
    return {"heldout_loss": sums["loss"] / max(1, n_batches),
            "heldout_loss_video": sums["loss_video"] / tok["video"] if tok["video"] else math.nan,
            "heldout_loss_rays": sums["loss_rays"] / tok["rays"] if tok["rays"] else math.nan}


def pose_errors(pipe, examples: list[dict[str, Any]], *, steps: int, seed: int, device: torch.device,
                dtype: torch.dtype) -> dict[str, float]:
    """Estimate each clip's cameras (video clean, rays in ``steps`` steps) and compare with the truth."""
    H, W = pipe.image_size
    errs, rra, ident = [], [], []
    for ex in examples:
        ref = int(ex["cond_idx"][0])
        frames = ex["video"].transpose(0, 1).to(device, dtype)               # (T, 3, H, W)
        result = None
        for ev in estimate_poses_events(pipe, frames, steps=steps, seed=seed, ref=ref,
                                        method=pipe.cfg.sampler.method, preview_every=10**9):
            if ev.stage == "done":
                result = ev.result
        if "c2w" in ex and "K" in ex:          # engine.data examples carry the cameras the rays encode
            gt = Cameras(ex["c2w"].double(), ex["K"].double(), W, H)
        else:
            gt = decode_cameras(ex["rays"].double(), width=W, height=H, encoding=pipe.encoding, ref=ref)
        m = pose_metrics(result.cameras.to(torch.float64), gt)
        errs.append(float(m["mean_rot_err_deg"]))
        rra.append(float(m["RRA@15"]))
        ident.append(float(pose_metrics(identity_baseline(gt), gt)["mean_rot_err_deg"]))
    return {"pose_rot_err_deg": float(np.mean(errs)), "pose_rra15": float(np.mean(rra)),
            "identity_rot_err_deg": float(np.mean(ident)),
            "pose_rot_err_median_deg": float(np.median(errs)), "identity_rot_err_median_deg": float(np.median(ident)),
            "pose_beats_identity": float(np.mean(np.array(errs) < np.array(ident)))}


def evaluate_hook(engine, examples: list[dict[str, Any]], cfg: EvalConfig) -> dict[str, float]:
    """Held-out flow loss on ``cfg.num_clips`` clips and pose error on the first ``cfg.pose_clips``."""
    pipe = engine.pipe
    out: dict[str, float] = {"heldout_clips": float(len(examples))}
    if examples:
        out.update(heldout_flow_loss(pipe, examples, batch_size=cfg.batch_size, seed=cfg.seed,
                                     device=engine.device, dtype=engine.dtype))
    pose = examples[: cfg.pose_clips]
    if pose:
        steps = cfg.pose_steps or engine.config.sampler.pose_steps
        out.update(pose_errors(pipe, pose, steps=steps, seed=cfg.seed, device=engine.device, dtype=engine.dtype))
        out.update(pose_steps=float(steps), pose_clips=float(len(pose)))
    return out
