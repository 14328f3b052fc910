"""Session 18, one-off: score photometric_gain.py's file (the gain each clip's lowest photometric error picks).

    python assets/checkpoints/raxels-tiny/training/probes-s18/photometric_eval.py FILE.npz
"""
import sys
import numpy as np, torch
from scipy.spatial.transform import Rotation
from geometry import Cameras
from geometry.metrics import pose_metrics

d = np.load(sys.argv[1])
truth, ens, gains, S, styles, Ks = d["truth"], d["ensemble"], d["gains"], d["scores"], d["styles"], d["K"]


def err(c2w, t, K):
    T = len(t); K = torch.from_numpy(K).expand(T, 3, 3)
    return float(pose_metrics(Cameras(c2w=torch.from_numpy(c2w), K=K, width=32, height=32),
                              Cameras(c2w=torch.from_numpy(t), K=K, width=32, height=32))["mean_rot_err_deg"])


def scaled(c2w, g):
    out = c2w.copy()
    out[:, :3, :3] = Rotation.from_rotvec(Rotation.from_matrix(c2w[:, :3, :3]).as_rotvec() * g).as_matrix()
    return out


n = len(truth)
E = np.array([[err(scaled(ens[i], g), truth[i], Ks[i]) for g in gains] for i in range(n)])
ident = np.array([err(np.repeat(np.eye(4)[None], len(truth[i]), 0), truth[i], Ks[i]) for i in range(n)])
one = int(np.argmin(np.abs(gains - 1.0)))
pick = S.argmin(1)
chosen = E[np.arange(n), pick]
other = np.mean([err(scaled(ens[(i + 1) % n], gains[pick[(i + 1) % n]]), truth[i], Ks[i]) for i in range(n)])
other1 = np.mean([err(ens[(i + 1) % n], truth[i], Ks[i]) for i in range(n)])
print(f"clips {n}; identity {ident.mean():.2f}; ensemble {E[:, one].mean():.2f} (own/other {E[:, one].mean() / other1:.3f}); "
      f"picked {chosen.mean():.2f} (own/other {chosen.mean() / other:.3f}); oracle gain {E.min(1).mean():.2f}")
print("picks per gain:", " ".join(f"{g:g}:{int((pick == k).sum())}" for k, g in enumerate(gains)))
for st in sorted(set(styles)):
    m = styles == st
    print(f"  {st:8s} {int(m.sum()):3d} clips: identity {ident[m].mean():.2f} ensemble {E[m, one].mean():.2f} "
          f"picked {chosen[m].mean():.2f} oracle {E[m].min(1).mean():.2f}")
