"""Session 21: pose estimation on the clip slowed down by repeating frames, read in windows and chained.

    OMP_NUM_THREADS=1 python assets/checkpoints/raxels-tiny/training/probes-s21/stretch.py FIRST COUNT OUT.json \
        [CHECKPOINT] [--factors 1,2,3]

Factor k repeats every frame k times (9 frames -> 9k - k + 1: the last frame once), so the model sees the same
motion k times slower, in windows of its clip length (engine.windows: overlapping, chained by a similarity);
frame j of the clip takes the camera of its first copy (index k j). Every pass is the engine's shipped pose
estimate (2 ray steps, the four-pass mirror/reverse ensemble, seed 0). Factor 1 is the shipped answer.
Also scored: the rotation average (chordal mean) of the factors' answers ("mean").
Scored as the evaluator scores poses: mean rotation error over all frame pairs; own/other against the next
clip's prediction; identity = never turns.
"""
import sys, json, time
import numpy as np, torch
from engine import Engine
from engine.evaluate.benchmarks import procedural_clips
from geometry import canonicalize, chordal_mean
from geometry.metrics import pose_metrics


def option(flag, cast, default):
    if flag not in sys.argv:
        return default
    i = sys.argv.index(flag); value = cast(sys.argv[i + 1]); del sys.argv[i:i + 2]
    return value


factors = option("--factors", lambda s: [int(x) for x in s.split(",")], [1, 2, 3])
first, count, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
ck = sys.argv[4] if len(sys.argv) > 4 else "assets/checkpoints/raxels-tiny"
eng = Engine.from_checkpoint(ck, device="cpu")
clips = procedural_clips(eng.config.clip, count, first_seed=first)
truth, preds, styles = [], {k: [] for k in factors}, []
t0 = time.time()
for i, c in enumerate(clips):
    f = np.asarray(c.frames)                                            # (T, H, W, 3)
    T = f.shape[0]
    for k in factors:
        x = np.repeat(f, k, axis=0)[: k * (T - 1) + 1]
        cams = eng.estimate_poses(np.ascontiguousarray(x), steps=2, seed=0).to(torch.float64)
        preds[k].append(canonicalize(cams.c2w[::k], 0))
    truth.append(canonicalize(c.cameras.c2w.to(torch.float64), 0)); styles.append(c.label)
    print(i, f"{time.time() - t0:.0f}s", flush=True)

truth = torch.stack(truth)
ident = torch.eye(4, dtype=truth.dtype).expand_as(truth)


answers = {f"x{k}": torch.stack(preds[k]) for k in factors}
mean = answers[f"x{factors[0]}"].clone()
mean[..., :3, :3] = chordal_mean(torch.stack([a[..., :3, :3] for a in answers.values()]), dim=0)
answers["mean"] = mean
id_own = np.asarray(pose_metrics(ident, truth)["mean_rot_err_deg"])
res = {"clips": [first, first + count], "identity": float(id_own.mean()), "styles": styles,
       "minutes": round((time.time() - t0) / 60, 1)}
for name, a in answers.items():
    own = np.asarray(pose_metrics(a, truth)["mean_rot_err_deg"])
    other = np.asarray(pose_metrics(a.roll(-1, 0), truth)["mean_rot_err_deg"])
    res[name] = {"rot": float(own.mean()), "x_identity": float(own.mean() / id_own.mean()),
                 "own_other": float(own.mean() / other.mean()), "per_clip": own.round(2).tolist(),
                 "by_style": {s: float(own[np.array(styles) == s].mean()) for s in sorted(set(styles))}}
    print(name, {k: v for k, v in res[name].items() if k != "per_clip"})
print("identity", res["identity"])
json.dump(res, open(out, "w"), indent=1)
