import json, os, sys, time, torch, numpy as np
torch.set_num_threads(1)
from engine import Engine
from engine.evaluate.benchmarks import procedural_clips
from geometry.metrics import identity_baseline, pose_metrics
from geometry import Cameras
ck = sys.argv[1]; n = int(os.environ.get("N", 24)); K = int(os.environ.get("K", 4))
eng = Engine.from_checkpoint(ck, device="cpu")
clips = procedural_clips(eng.config.clip, n, styles=("re10k", "dl3dv"))
def rot_mean(Rs):
    M = sum(Rs); U, S, Vt = torch.linalg.svd(M); D = torch.eye(3, dtype=M.dtype).expand_as(M).clone()
    D[..., 2, 2] = torch.sign(torch.det(U @ Vt)); return U @ D @ Vt
out = {}
for steps in [int(s) for s in os.environ.get("STEPS", "1,2,3").split(",")]:
    t0 = time.time(); errs = {k: [] for k in range(K)}; ens = []; ident = []
    for c in clips:
        preds = [eng.estimate_poses(c.frames, steps=steps, seed=s).to(torch.float64) for s in range(K)]
        for k, p in enumerate(preds): errs[k].append(float(pose_metrics(p, c.cameras)["mean_rot_err_deg"]))
        R = rot_mean([p.c2w[:, :3, :3] for p in preds]); t = torch.stack([p.c2w[:, :3, 3] for p in preds]).mean(0)
        c2w = preds[0].c2w.clone(); c2w[:, :3, :3] = R; c2w[:, :3, 3] = t
        ens.append(float(pose_metrics(Cameras(c2w, preds[0].K, preds[0].width, preds[0].height), c.cameras)["mean_rot_err_deg"]))
        ident.append(float(pose_metrics(identity_baseline(c.cameras), c.cameras)["mean_rot_err_deg"]))
    out[steps] = {"single": [float(np.mean(errs[k])) for k in range(K)], "ensemble": float(np.mean(ens)),
                  "identity": float(np.mean(ident)), "sec": round(time.time() - t0)}
    print(steps, json.dumps(out[steps]), flush=True)
