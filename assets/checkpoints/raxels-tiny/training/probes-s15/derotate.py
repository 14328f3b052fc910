"""Session 15, one-off: does iterative de-rotation lower the pose error at inference?

Each round warps every frame by the inverse of its estimated rotation (scene at infinity,
``geometry.infinite_depth_warp``), asks the model for the rotation left over, and composes it:
R_i <- Delta_i R_i. Rotations only; centres, K from the first round.

    OMP_NUM_THREADS=1 python assets/checkpoints/raxels-tiny/training/probes-s15/derotate.py \
        --first-seed 512 --clips 48 --rounds 3 --ensemble mirror_reverse --fill source --out F.json
"""
import argparse
import json
import time

import numpy as np
import torch

from engine import Engine
from engine.evaluate.benchmarks import procedural_clips
from engine.evaluate.probe import score_poses
from geometry import canonicalize, infinite_depth_warp


def derotated(frames: np.ndarray, cams, fill: str) -> np.ndarray:
    """frames (T, H, W, 3) uint8; cams: the estimate, canonical to frame 0. Each frame as a camera at its own
    centre with frame 0's orientation would see it (the scene at infinity)."""
    c2w = canonicalize(cams.c2w.double(), 0)
    K = cams.K.double()
    out = []
    for i in range(len(frames)):
        img = torch.from_numpy(frames[i]).permute(2, 0, 1).double()
        dst = c2w[i].clone()
        dst[:3, :3] = torch.eye(3, dtype=torch.float64)
        w, _ = infinite_depth_warp(img, K[i], c2w[i], K[i][None], dst[None], unseen=fill)
        out.append(w[0].round().clamp(0, 255).to(torch.uint8).permute(1, 2, 0).numpy())
    return np.stack(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--checkpoint", default="assets/checkpoints/raxels-tiny")
    ap.add_argument("--first-seed", type=int, default=512)
    ap.add_argument("--clips", type=int, default=48)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--ensemble", default="mirror_reverse")
    ap.add_argument("--fill", default="source", choices=("source", "zero"))
    ap.add_argument("--damping", type=float, default=1.0, help="fraction of each residual rotation applied")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    engine = Engine.from_checkpoint(args.checkpoint, device="cpu")
    clips = procedural_clips(engine.config.clip, args.clips, first_seed=args.first_seed)
    t0 = time.perf_counter()
    per_round = [[] for _ in range(args.rounds + 1)]
    for c in clips:
        cams = engine.estimate_poses(c.frames, steps=2, seed=0, ensemble=args.ensemble).to(torch.float64)
        per_round[0].append(cams)
        R = canonicalize(cams.c2w, 0)[:, :3, :3].clone()
        for r in range(1, args.rounds + 1):
            cur = cams.with_poses(torch.cat([torch.cat([R, cams.c2w[:, :3, 3:]], -1), cams.c2w[:, 3:]], -2))
            video = derotated(c.frames, cur, args.fill)
            delta = engine.estimate_poses(video, steps=2, seed=0, ensemble=args.ensemble).to(torch.float64)
            D = canonicalize(delta.c2w, 0)[:, :3, :3]
            if args.damping != 1.0:
                from scipy.spatial.transform import Rotation
                D = torch.from_numpy(Rotation.from_rotvec(
                    args.damping * Rotation.from_matrix(D.numpy()).as_rotvec()).as_matrix())
            R = D @ R
            per_round[r].append(cams.with_poses(torch.cat([torch.cat([R, cams.c2w[:, :3, 3:]], -1),
                                                           cams.c2w[:, 3:]], -2)))
    result = {"args": vars(args), "seconds": round(time.perf_counter() - t0, 1), "rounds": []}
    for r, preds in enumerate(per_round):
        s = score_poses(preds, clips)
        result["rounds"].append(s)
        print(r, f"rot {s['rot_err_deg']:.2f} (identity {s['identity_rot_err_deg']:.2f}, "
                 f"{s['rot_err_deg'] / s['identity_rot_err_deg']:.3f}x) own/other {s['own_other']:.3f} "
                 + " ".join(f"{k} {v['rot_err_deg']:.2f}/{v['identity_rot_err_deg']:.2f}" for k, v in s["per_style"].items()),
              flush=True)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
