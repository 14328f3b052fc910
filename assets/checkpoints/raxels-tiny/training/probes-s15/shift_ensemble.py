"""Session 15, one-off: does averaging over small image shifts (a change of principal point, which leaves
relative rotations unchanged but moves the 4x4 patch grid) add to the pose ensemble?

    OMP_NUM_THREADS=1 python assets/checkpoints/raxels-tiny/training/probes-s15/shift_ensemble.py \
        --first-seed 512 --clips 48 --out F.json

Each shifted clip goes through the public Engine API with the checkpoint's ensemble; subsets of shifts
are combined by the chordal mean of rotations (centres and K from the unshifted pass).
"""
import argparse
import itertools
import json

import numpy as np
import torch

from engine import Engine
from engine.evaluate.benchmarks import procedural_clips
from engine.evaluate.probe import score_poses
from geometry import canonicalize, chordal_mean

SHIFTS = [(0, 0), (2, 0), (0, 2), (2, 2), (1, 1), (3, 3), (-2, 0), (0, -2)]


def shifted(frames: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """frames (T, H, W, 3) moved by (dx, dy) pixels, the edge repeated into the gap."""
    T, H, W, _ = frames.shape
    ys = np.clip(np.arange(H) - dy, 0, H - 1)
    xs = np.clip(np.arange(W) - dx, 0, W - 1)
    return np.ascontiguousarray(frames[:, ys][:, :, xs])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--checkpoint", default="assets/checkpoints/raxels-tiny")
    ap.add_argument("--first-seed", type=int, default=512)
    ap.add_argument("--clips", type=int, default=48)
    ap.add_argument("--ensemble", default="mirror_reverse")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    eng = Engine.from_checkpoint(args.checkpoint, device="cpu")
    clips = procedural_clips(eng.config.clip, args.clips, first_seed=args.first_seed)
    preds = {s: [] for s in SHIFTS}
    for c in clips:
        for s in SHIFTS:
            cams = eng.estimate_poses(shifted(c.frames, *s), steps=2, seed=0, ensemble=args.ensemble)
            preds[s].append(cams.with_poses(canonicalize(cams.c2w.double(), 0)).to(torch.float64))
    out = {"args": vars(args), "subsets": {}}
    subsets = [[s] for s in SHIFTS] + [SHIFTS[:2], SHIFTS[:4], [SHIFTS[0], SHIFTS[3]], SHIFTS[:6], SHIFTS]
    for sub in subsets:
        combined = []
        for i in range(len(clips)):
            base = preds[sub[0]][i]
            c2w = base.c2w.clone()
            c2w[:, :3, :3] = chordal_mean(torch.stack([preds[s][i].c2w[:, :3, :3] for s in sub]), dim=0)
            combined.append(base.with_poses(c2w))
        sc = score_poses(combined, clips)
        key = "+".join(f"{a},{b}" for a, b in sub)
        out["subsets"][key] = sc
        print(f"{key:40s} rot {sc['rot_err_deg']:.2f} ({sc['rot_err_deg'] / sc['identity_rot_err_deg']:.3f}x) "
              f"own/other {sc['own_other']:.3f} ATE {sc['ATE']:.3f} "
              + " ".join(f"{k} {v['rot_err_deg']:.2f}" for k, v in sc["per_style"].items()), flush=True)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
