import sys, os, torch, numpy as np
torch.set_num_threads(1)
from engine import Engine
from engine.evaluate.benchmarks import procedural_clips
from geometry.metrics import pose_metrics
from geometry import Cameras, canonicalize
eng = Engine.from_checkpoint(sys.argv[1], device="cpu")
clips = procedural_clips(eng.config.clip, 24, styles=("re10k", "dl3dv"))
def rot_mean(Rs):
    M = sum(Rs); U, S, Vt = torch.linalg.svd(M); D = torch.eye(3, dtype=M.dtype).expand_as(M).clone()
    D[..., 2, 2] = torch.sign(torch.det(U @ Vt)); return U @ D @ Vt
res = {r: [] for r in (0, 4, 8, "avg", "rev")}
for c in clips:
    preds = {}
    for r in (0, 4, 8):
        p = eng.estimate_poses(c.frames, steps=2, seed=0, ref=r).to(torch.float64)
        preds[r] = p
        res[r].append(float(pose_metrics(p, c.cameras)["mean_rot_err_deg"]))
    # reversed clip, ref 0 of reversed = last frame
    pr = eng.estimate_poses(c.frames[::-1].copy(), steps=2, seed=0).to(torch.float64)
    c2w = pr.c2w.flip(0)
    prr = Cameras(c2w, pr.K.flip(0), pr.width, pr.height)
    res["rev"].append(float(pose_metrics(prr, c.cameras)["mean_rot_err_deg"]))
    cs = [canonicalize(preds[r].c2w, 0) for r in (0, 4, 8)] + [canonicalize(c2w, 0)]
    R = rot_mean([x[:, :3, :3] for x in cs]); t = torch.stack([x[:, :3, 3] for x in cs]).mean(0)
    m = cs[0].clone(); m[:, :3, :3] = R; m[:, :3, 3] = t
    res["avg"].append(float(pose_metrics(Cameras(m, preds[0].K, preds[0].width, preds[0].height), c.cameras)["mean_rot_err_deg"]))
for k, v in res.items(): print(k, round(float(np.mean(v)), 2), round(float(np.median(v)), 2), [round(x) for x in v])
