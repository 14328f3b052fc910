"""Session 18, one-off: a classical judge of the model's pose answer. Each candidate (the shipped ensemble's
rotations scaled by a gain, as in synthesis_score.py) is scored by how well frame 0, warped into every camera with
the scene at infinity (``geometry.infinite_depth_warp``, the model's own intrinsics), matches the clip's frames:
the mean absolute difference over the pixels the warp sees. Exact for turns; translation leaves parallax, which a
turn can partly imitate, so the figure is split by style.

    OMP_NUM_THREADS=1 python assets/checkpoints/raxels-tiny/training/probes-s18/photometric_gain.py FIRST COUNT OUT.npz

OUT: truth, ensemble (n, T, 4, 4), K (n, 3, 3), gains (G,), scores (n, G), styles (n,).
"""
import sys, time
import numpy as np, torch
from scipy.spatial.transform import Rotation
from engine import Engine
from engine.evaluate.benchmarks import procedural_clips
from geometry import canonicalize, infinite_depth_warp

GAINS = [0.0, 0.5, 0.75, 0.9, 1.0, 1.1, 1.25, 1.5, 2.0]
first, count, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
eng = Engine.from_checkpoint("assets/checkpoints/raxels-tiny", device="cpu")
clips = procedural_clips(eng.config.clip, count, first_seed=first)


def scaled(c2w, g):
    out = c2w.clone()
    out[:, :3, :3] = torch.from_numpy(Rotation.from_rotvec(Rotation.from_matrix(c2w[:, :3, :3].numpy()).as_rotvec() * g).as_matrix())
    return out


rows = {"truth": [], "ensemble": [], "K": [], "scores": [], "styles": []}
t0 = time.time()
for i, c in enumerate(clips):
    ens = eng.estimate_poses(c.frames, steps=2, seed=0, ensemble="mirror_reverse").to(torch.float64)
    c2w = canonicalize(ens.c2w, 0)
    K = ens.K.double()
    img = torch.from_numpy(np.asarray(c.frames)).permute(0, 3, 1, 2).double()       # (T, 3, H, W) 0-255
    sc = []
    for g in GAINS:
        cand = scaled(c2w, g)
        warped, valid = infinite_depth_warp(img[0], K[0], cand[0], K, cand)        # (T, 3, H, W), (T, 1, H, W)
        err = ((warped - img).abs().mean(1, keepdim=True) * valid)[1:].sum() / valid[1:].sum().clamp_min(1)
        sc.append(float(err))
    rows["truth"].append(canonicalize(c.cameras.c2w.double(), 0).numpy()); rows["ensemble"].append(c2w.numpy())
    rows["K"].append(K[0].numpy()); rows["scores"].append(sc); rows["styles"].append(c.label)
    if i % 20 == 0:
        print(i, f"{time.time() - t0:.0f}s", flush=True)
np.savez_compressed(out, gains=np.array(GAINS), **{k: np.array(v) for k, v in rows.items()})
print("saved", out, f"{time.time() - t0:.0f}s")
