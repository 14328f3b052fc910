"""Session 16: the classical two-view baseline (SIFT + essential matrix, true intrinsics) on the probe's held-out
procedural clips, scored exactly as the model's poses are (engine.evaluate.probe.score_poses), so that the
model's figures stand beside a classical method's as well as beside the identity's.

    OMP_NUM_THREADS=1 python assets/checkpoints/raxels-tiny/training/probes-s16/classical.py FIRST COUNT SIZE OUT.json

SIZE is the square image size the baseline sees: 32 is the model's own input (the same frames); larger sizes
re-render the same clips (same scene, same cameras) at that size, as a user with sharper video would have.
"""
import json, sys, time
import torch
from engine import Engine
from engine.data import render
from engine.evaluate.benchmarks import procedural_clips, procedural_path
from engine.evaluate.probe import score_poses

first, count, size, out = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
eng = Engine.from_checkpoint("assets/checkpoints/raxels-tiny", device="cpu")
clips = procedural_clips(eng.config.clip, count, first_seed=first)
pred, t0, failed = [], time.time(), 0
for n, c in zip(range(first, first + count), clips):
    frames, cams = c.frames, c.cameras
    if size != c.frames.shape[2]:
        scene, path = procedural_path(eng.config.clip, n)
        cams = path.cameras.resized(size, size)
        frames = render(scene, cams, supersample=2, depth=False).uint8().numpy()
    try:
        p = eng.estimate_poses(frames, method="two-view", intrinsics=cams.K.numpy())
    except ValueError:                      # nothing to match at all: the baseline answers "never turns"
        failed += 1
        p = cams.with_poses(torch.eye(4, dtype=cams.c2w.dtype).expand_as(cams.c2w).clone())
    pred.append(p.to(torch.float64))
res = {"method": "two-view", "size": size, "first_seed": first, "clips": count, "failed": failed,
       "seconds": round(time.time() - t0, 1), **score_poses(pred, clips)}
json.dump(res, open(out, "w"), indent=1)
print({k: res[k] for k in ("rot_err_deg", "identity_rot_err_deg", "own_other", "ATE", "failed", "seconds")})
