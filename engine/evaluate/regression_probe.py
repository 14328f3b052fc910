"""Is the tokenisation the limit? A plain pose regressor on the tiny preset's video latents (issue 10).

    python -m engine.evaluate.regression_probe --make-bank runs/bank-3000.safetensors --bank-clips 3000
    python -m engine.evaluate.regression_probe --bank runs/bank-3000.safetensors --temporal-factor 4 \\
        --steps 1500 --out results/regression-tf4.json          # and --temporal-factor 1
    python -m engine.evaluate.regression_probe --size 64 --make-bank runs/bank64-3000.safetensors
    python -m engine.evaluate.regression_probe --size 64 --patch-size 8 --bank runs/bank64-3000.safetensors ...

The diffusion model has to read camera motion from the video latents of ``PatchVAE(4)``, which stacks 4
frames into each latent frame after the first (Wan's ``1 + 4k``). Issue 10 asks whether that layout is the
limit: if a plain regressor on the same latents cannot beat the "never turns" answer, no recipe will. This
trains a small transformer (the tiny model's width and depth, no diffusion, no rays) to map the latents
of a clip, with the tiny preset's frame-difference input ``[z, z - z_ref]``, straight to each frame's
rotation and translation in frame 0's camera, and scores it as ``engine.evaluate.probe`` scores the model
on the same held-out clips: mean rotation error against the identity's and own/other. Run with
``--temporal-factor 1`` (one latent frame per frame) at the same budget, it says what the stacking costs.
With ``--size 64 --patch-size 8`` (a bank made at that size) it sees the same clips at twice the resolution
through the same number of tokens: whether the 32x32 frames, not the tokens, hold the model back.
With ``--input correlation`` the tokens are instead each patch's histogram of local motion between consecutive
frames (``engine.model.correlation``), and with ``--input latents+correlation`` the two side by side: whether an explicit
motion input reads the camera sooner than the latents alone.

Training clips come from a bank rendered once (``--make-bank``: the training stream's scenes and paths,
reference frame 0), so two arms see the same clips; the held-out clips are the probe's.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from einops import rearrange
from safetensors.torch import load_file, save_file
from torch import nn

from geometry import Cameras

from ..train.schedule import lr_factor
from ..vae.patch import PatchVAE
from ..model.correlation import MOTION_RADIUS, displacements, video_correlation
from .benchmarks import PROCEDURAL_STYLES, procedural_clips
from .probe import score_poses

INPUTS = ("latents", "correlation", "latents+correlation")


def make_bank(clip_cfg, num_clips: int, *, seed: int = 1234) -> dict[str, torch.Tensor]:
    """``num_clips`` training clips: ``video`` (N, 3, T, H, W) uint8 and ``c2w`` (N, T, 4, 4) in frame 0's
    camera, translations scaled into the unit ball (as the training examples are)."""
    from engine.data import ProceduralClips

    ds = ProceduralClips(clip_cfg, split="train", seed=seed, first_reference_prob=1.0)
    videos, poses = [], []
    for n in range(num_clips):
        ex = ds.example(n)
        if int(ex["cond_idx"][0]) != 0:
            raise RuntimeError("bank: the reference slot should be frame 0")
        videos.append(((ex["video"] + 1) * 127.5).round().clamp(0, 255).to(torch.uint8))
        poses.append(ex["c2w"])
    return {"video": torch.stack(videos), "c2w": torch.stack(poses)}


def rotation_from_6d(x: torch.Tensor) -> torch.Tensor:
    """(..., 6) -> (..., 3, 3): Gram-Schmidt on two predicted columns (Zhou et al., CVPR 2019)."""
    a, b = x[..., :3], x[..., 3:]
    c1 = nn.functional.normalize(a, dim=-1)
    c2 = nn.functional.normalize(b - (c1 * b).sum(-1, keepdim=True) * c1, dim=-1)
    return torch.stack([c1, c2, torch.cross(c1, c2, dim=-1)], dim=-1)


class LatentPoseRegressor(nn.Module):
    """Video latents -> per-frame pose in frame 0's camera. Tokens are the latent pixels of every latent
    frame (learned position embedding over (t, y, x)); each latent frame's mean token predicts the
    rotations (6D) and translations of the frames it covers."""

    def __init__(self, *, num_frames: int, height: int, width: int, patch_size: int = 4,
                 temporal_factor: int = 4, dim: int = 128, depth: int = 4, heads: int = 4,
                 inputs: str = "latents"):
        super().__init__()
        if inputs not in INPUTS:
            raise ValueError(f"inputs must be one of {INPUTS}, got {inputs!r}")
        self.vae = PatchVAE(patch_size, temporal_factor)
        self.tf = temporal_factor
        self.patch_size = patch_size
        self.inputs = inputs
        self.latent_frames = 1 + (num_frames - 1) // temporal_factor
        h, w = height // patch_size, width // patch_size
        channels = {"latents": 2 * self.vae.latent_channels, "correlation": temporal_factor * displacements(MOTION_RADIUS)}
        self.embed = nn.Linear(sum(channels[k] for k in channels if k in inputs), dim)
        self.pos = nn.Parameter(torch.randn(self.latent_frames * h * w, dim) * 0.02)
        layer = nn.TransformerEncoderLayer(dim, heads, 4 * dim, dropout=0.0, batch_first=True, norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, temporal_factor * 9)          # per covered frame: 6D rotation + translation

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        """video (B, 3, T, H, W) in [-1, 1] -> c2w (B, T, 4, 4); frame 0 is the identity."""
        parts = []
        if "latents" in self.inputs:
            z = self.vae.encode_video(video)                                 # (B, C, T', h, w)
            parts += [z, z - z[:, :, :1]]                                    # frame difference, as the model
        if "correlation" in self.inputs:
            parts.append(video_correlation(video, patch=self.patch_size, temporal_factor=self.tf))
        z = torch.cat(parts, dim=1)
        B, _, Tl, h, w = z.shape
        x = self.embed(rearrange(z, "b c t h w -> b (t h w) c")) + self.pos
        x = self.norm(self.blocks(x))
        per_frame = rearrange(x, "b (t hw) d -> b t hw d", t=Tl).mean(2)[:, 1:]   # latent frames 1..
        out = rearrange(self.head(per_frame), "b t (s k) -> b (t s) k", s=self.tf)  # (B, T - 1, 9)
        eye6 = torch.tensor([1.0, 0, 0, 0, 1, 0], dtype=out.dtype)
        R = rotation_from_6d(out[..., :6] + eye6)                            # starts near "never turns"
        c2w = torch.eye(4, dtype=out.dtype).repeat(B, out.shape[1] + 1, 1, 1)
        c2w[:, 1:, :3, :3] = R
        c2w[:, 1:, :3, 3] = out[..., 6:]
        return c2w


def pose_loss(pred: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """Chordal rotation distance plus translation L1, frames 1.. (c2w (B, T, 4, 4))."""
    rot = (pred[:, 1:, :3, :3] - truth[:, 1:, :3, :3]).square().sum((-1, -2)).mean()
    trans = (pred[:, 1:, :3, 3] - truth[:, 1:, :3, 3]).abs().sum(-1).mean()
    return rot + trans


def evaluate(model: LatentPoseRegressor, clips) -> dict[str, Any]:
    """``probe.score_poses`` of the regressor's predictions for ``clips``."""
    model.eval()
    with torch.no_grad():
        video = torch.stack([torch.from_numpy(c.frames).permute(3, 0, 1, 2).float() / 127.5 - 1 for c in clips])
        c2w = model(video).double()
    model.train()
    predicted = [Cameras(c2w[i], c.cameras.K, c.cameras.width, c.cameras.height) for i, c in enumerate(clips)]
    return {"clips": len(clips), **score_poses(predicted, clips)}


def train_probe(bank: dict[str, torch.Tensor], clips, *, temporal_factor: int, steps: int, batch_size: int = 16,
                lr: float = 1e-3, seed: int = 0, eval_every: int = 250, patch_size: int = 4,
                inputs: str = "latents") -> dict[str, Any]:
    torch.manual_seed(seed)
    T, H, W = bank["video"].shape[2:]
    model = LatentPoseRegressor(num_frames=T, height=H, width=W, patch_size=patch_size,
                                temporal_factor=temporal_factor, inputs=inputs)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda k: lr_factor(k, total_steps=steps, warmup_steps=100,
                                                                       schedule="cosine", min_lr_ratio=0.1))
    gen = torch.Generator().manual_seed(seed)
    n = bank["video"].shape[0]
    curve, evals, t0 = [], [], time.perf_counter()
    for step in range(1, steps + 1):
        idx = torch.randint(n, (batch_size,), generator=gen)
        video = bank["video"][idx].float() / 127.5 - 1
        loss = pose_loss(model(video), bank["c2w"][idx].float())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        curve.append(round(loss.item(), 5))
        if step % eval_every == 0 or step == steps:
            ev = evaluate(model, clips)
            evals.append({"step": step, "minutes": round((time.perf_counter() - t0) / 60, 2),
                          "train_loss_last100": float(np.mean(curve[-100:])),
                          **{k: ev[k] for k in ("rot_err_deg", "identity_rot_err_deg", "own_other")}})
            print(json.dumps(evals[-1]), flush=True)
    final = evaluate(model, clips)
    return {"inputs": inputs, "temporal_factor": temporal_factor, "size": [H, W], "patch_size": patch_size, "steps": steps,
            "batch_size": batch_size, "lr": lr, "seed": seed, "bank_clips": n,
            "parameters": sum(p.numel() for p in model.parameters()),
            "minutes": round((time.perf_counter() - t0) / 60, 2), "final": final, "evals": evals,
            "loss_curve_every_10": curve[::10]}


def main(argv: list[str] | None = None) -> int:
    from engine.config import preset

    p = argparse.ArgumentParser(prog="python -m engine.evaluate.regression_probe", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--make-bank", default=None, metavar="FILE", help="render the training bank to FILE and exit")
    p.add_argument("--bank-clips", type=int, default=3000)
    p.add_argument("--bank", default=None, metavar="FILE", help="the bank to train on")
    p.add_argument("--temporal-factor", type=int, default=4, help="frames per latent frame after the first")
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--size", type=int, default=None, help="square frame size (default: the tiny preset's)")
    p.add_argument("--patch-size", type=int, default=4, help="PatchVAE pixels per latent pixel side")
    p.add_argument("--input", default="latents", choices=INPUTS,
                   help="what the tokens carry: the video latents (with frame differences), local motion histograms, or both")
    p.add_argument("--eval-clips", type=int, default=24)
    p.add_argument("--eval-first-seed", type=int, default=0, help="first held-out clip scored (the probe's: 0)")
    p.add_argument("--eval-every", type=int, default=250)
    p.add_argument("--out", default=None, help="JSON file for the result")
    args = p.parse_args(argv)
    clip_cfg = preset("tiny").clip
    if args.size is not None:
        clip_cfg = dataclasses.replace(clip_cfg, height=args.size, width=args.size)
    if args.make_bank:
        t0 = time.perf_counter()
        save_file(make_bank(clip_cfg, args.bank_clips), args.make_bank)
        print(f"bank of {args.bank_clips} clips in {(time.perf_counter() - t0) / 60:.1f} min: {args.make_bank}")
        return 0
    if not args.bank:
        p.error("give --bank FILE (made with --make-bank)")
    bank = load_file(args.bank)
    if tuple(bank["video"].shape[-2:]) != (clip_cfg.height, clip_cfg.width):
        p.error(f"the bank's frames are {tuple(bank['video'].shape[-2:])}, not {clip_cfg.height}x{clip_cfg.width}: "
                "give the --size it was made with")
    clips = procedural_clips(clip_cfg, args.eval_clips, styles=PROCEDURAL_STYLES, first_seed=args.eval_first_seed)
    result = train_probe(bank, clips, temporal_factor=args.temporal_factor, steps=args.steps,
                         batch_size=args.batch_size, lr=args.lr, seed=args.seed, eval_every=args.eval_every,
                         patch_size=args.patch_size, inputs=args.input)
    result["bank"] = str(args.bank)
    text = json.dumps(result, indent=1)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text + "\n")
    f = result["final"]
    print(f"{args.input}, tf={args.temporal_factor}: rotation {f['rot_err_deg']:.2f} deg (identity {f['identity_rot_err_deg']:.2f}), "
          f"own/other {f['own_other']:.3f}, {result['minutes']} min")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
