"""Session 18, one-off: score the candidates saved by synthesis_score.py.

    python assets/checkpoints/raxels-tiny/training/probes-s18/synthesis_eval.py FILE.npz [--times 0,1,2,3]

Prints, over clips: the rotation error of the ensemble (gain 1), of the gain each clip's lowest score picks
(among the gains only; the truth is never a candidate), of the best gain in hindsight (oracle, unreachable),
how often the truth scores below the ensemble, and per style.
"""
import sys
import numpy as np, torch
from geometry import Cameras
from geometry.metrics import pose_metrics
from scipy.spatial.transform import Rotation

sys.path.insert(0, __file__.rsplit("/", 1)[0])


def option(flag, cast, default):
    if flag not in sys.argv:
        return default
    i = sys.argv.index(flag); value = cast(sys.argv[i + 1]); del sys.argv[i:i + 2]
    return value


tsel = option("--times", lambda s: [int(x) for x in s.split(",")], None)
d = np.load(sys.argv[1])
truth, ens, gains, sc, styles = d["truth"], d["ensemble"], d["gains"], d["scores"], d["styles"]
if tsel is not None:
    sc = sc[:, :, tsel]
S = sc.mean(axis=(2, 3))                                   # (n, G + 1)
K = torch.tensor([[32.0, 0, 16], [0, 32, 16], [0, 0, 1]], dtype=torch.float64)


def err(c2w, t):
    T = len(t)
    a = Cameras(c2w=torch.from_numpy(c2w), K=K.expand(T, 3, 3), width=32, height=32)
    b = Cameras(c2w=torch.from_numpy(t), K=K.expand(T, 3, 3), width=32, height=32)
    return float(pose_metrics(a, b)["mean_rot_err_deg"])


def scaled(c2w, g):
    out = c2w.copy()
    out[:, :3, :3] = Rotation.from_rotvec(Rotation.from_matrix(c2w[:, :3, :3]).as_rotvec() * g).as_matrix()
    return out


n, G = len(truth), len(gains)
E = np.array([[err(scaled(ens[i], g), truth[i]) for g in gains] for i in range(n)])   # (n, G)
ident = np.array([err(np.repeat(np.eye(4)[None], len(truth[i]), 0), truth[i]) for i in range(n)])
one = int(np.argmin(np.abs(gains - 1.0)))
pick = S[:, :G].argmin(1)
chosen = E[np.arange(n), pick]
print(f"clips {n}; identity {ident.mean():.2f}; ensemble (gain 1) {E[:, one].mean():.2f}; "
      f"picked by score {chosen.mean():.2f}; oracle gain {E.min(1).mean():.2f}")
own = chosen.mean()
other = np.mean([err(scaled(ens[(i + 1) % n], gains[pick[(i + 1) % n]]), truth[i]) for i in range(n)])
other1 = np.mean([err(ens[(i + 1) % n], truth[i]) for i in range(n)])
print(f"own/other: picked {own / other:.3f}; ensemble {E[:, one].mean() / other1:.3f}")
print("mean error per gain:", " ".join(f"{g:g}:{e:.2f}" for g, e in zip(gains, E.mean(0))))
print("picks per gain:     ", " ".join(f"{g:g}:{int((pick == k).sum())}" for k, g in enumerate(gains)))
print(f"truth scores below the ensemble in {int((S[:, G] < S[:, one]).sum())}/{n} clips; "
      f"rank corr(score, error) per clip, mean: "
      f"{np.mean([np.corrcoef(np.argsort(np.argsort(S[i, :G])), np.argsort(np.argsort(E[i])))[0, 1] for i in range(n)]):.3f}")
for st in sorted(set(styles)):
    m = styles == st
    print(f"  {st:10s} {int(m.sum()):3d} clips: identity {ident[m].mean():.2f} ensemble {E[m, one].mean():.2f} "
          f"picked {chosen[m].mean():.2f} oracle {E[m].min(1).mean():.2f}")
# per time
for j in range(d["scores"].shape[2]):
    s = d["scores"][:, :, j].mean(-1)
    p = s[:, :G].argmin(1)
    print(f"time {d['times'][j]:.2f}: picked {E[np.arange(n), p].mean():.2f}; truth below ensemble "
          f"{int((s[:, G] < s[:, one]).sum())}/{n}")
