"""Session 14: the pose-ensemble variants compared on validation clips (RESULTS.md, the ensemble addendum).

    python assets/checkpoints/raxels-tiny/training/probes-s14/ensemble_variants.py CHECKPOINT 512 48 OUT.json

One-off record of how tta-*-val.json were made (before engine/pose_ensemble.py existed): each pass through the
public Engine API, mapped back by hand; "all4-rot" is what engine.pose_ensemble now does.
"""
import sys, torch, numpy as np, json
torch.set_num_threads(1)
from engine import Engine
from engine.evaluate.benchmarks import procedural_clips, PROCEDURAL_STYLES
from engine.evaluate.probe import score_poses
from geometry import Cameras
ck, first, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
eng = Engine.from_checkpoint(ck, device="cpu")
clips = procedural_clips(eng.config.clip, n, styles=PROCEDURAL_STYLES, first_seed=first)
S = torch.diag(torch.tensor([-1.0, 1, 1, 1], dtype=torch.float64))
def proj(R):
    U, _, Vh = torch.linalg.svd(R); d = torch.sign(torch.det(U @ Vh))
    D = torch.diag_embed(torch.stack([torch.ones_like(d), torch.ones_like(d), d], -1)); return U @ D @ Vh
def unit(c2w):
    c = c2w[:, :3, 3]; s = c.norm(dim=-1).max().clamp_min(1e-9); return c / s, s
def mean(cams, ref):
    R = proj(sum(c[:, :3, :3] for c in cams))
    cs = [unit(c)[0] for c in cams]; s = unit(ref.c2w)[1]
    m = ref.c2w.clone(); m[:, :3, :3] = R; m[:, :3, 3] = sum(cs) / len(cs) * s
    return Cameras(c2w=m, K=ref.K, width=ref.width, height=ref.height)
def est(frames):
    return eng.estimate_poses(np.ascontiguousarray(frames), steps=2, seed=0).to(torch.float64)
res = {k: [] for k in ("plain", "flip", "rev", "flip+plain", "rev+plain", "all4", "all4-rot")}
for c in clips:
    f = c.frames
    a = est(f)
    b = S @ est(f[:, :, ::-1]).c2w @ S
    r = est(f[::-1]).c2w; r = torch.linalg.inv(r[-1]) @ r; r = r.flip(0)
    rb = S @ est(f[::-1, :, ::-1]).c2w @ S; rb = torch.linalg.inv(rb[-1]) @ rb; rb = rb.flip(0)
    mk = lambda m: Cameras(c2w=m, K=a.K, width=a.width, height=a.height)
    res["plain"].append(a); res["flip"].append(mk(b)); res["rev"].append(mk(r))
    res["flip+plain"].append(mean([a.c2w, b], a)); res["rev+plain"].append(mean([a.c2w, r], a))
    e = mean([a.c2w, b, r, rb], a); res["all4"].append(e)
    m2 = a.c2w.clone(); m2[:, :3, :3] = e.c2w[:, :3, :3]; res["all4-rot"].append(mk(m2))
out = {}
for k, p in res.items():
    s = score_poses(p, clips)
    out[k] = {"rot": s["rot_err_deg"], "identity": s["identity_rot_err_deg"], "own_other": s["own_other"], "ATE": s["ATE"],
              "per_style": {q: v["rot_err_deg"] for q, v in s["per_style"].items()}, "spread": s["trans_dir_spread_deg"],
              "per_clip": s["per_clip_rot_err_deg"]}
    print(k, round(s["rot_err_deg"], 2), "id", round(s["identity_rot_err_deg"], 2), round(s["own_other"], 3),
          {q: round(v["rot_err_deg"], 1) for q, v in s["per_style"].items()}, "ATE", round(s["ATE"], 3), flush=True)
if len(sys.argv) > 4: json.dump(out, open(sys.argv[4], "w"), indent=1)
