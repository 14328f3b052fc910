import sys, os, torch, numpy as np
torch.set_num_threads(1)
from engine import Engine
from engine.evaluate.benchmarks import procedural_clips
from geometry.metrics import pose_metrics
eng = Engine.from_checkpoint(sys.argv[1], device="cpu")
clips = procedural_clips(eng.config.clip, 24, styles=("re10k", "dl3dv"))
for sh in [float(s) for s in sys.argv[2].split(",")]:
    eng.pipe.cfg.sampler.shift = sh
    for steps in (2, 3):
        e = [float(pose_metrics(eng.estimate_poses(c.frames, steps=steps, seed=0).to(torch.float64), c.cameras)["mean_rot_err_deg"]) for c in clips]
        print(sh, steps, round(float(np.mean(e)), 2), round(float(np.median(e)), 2), flush=True)
