"""Session 19, one-off: does the joint path depend on the photo where the data's moves do (``kind_styles``)?
K1/K2's measure (``probes-s18/kind_joint.py``: own/other on 48 validation clips, walks indoors and orbits
outdoors) beside answers that cannot read the photo, and one that reads only the scene's kind:

- identity (never turns) and a fixed path (clip 0's true path for every clip): own/other 1 by construction, so
  their *own* error is the figure a reading model has to beat;
- how much each path turns (rotation of the last frame from the first, degrees), indoor against outdoor, and
  the AUC with which that one number tells an outdoor clip from an indoor one (0.5: it does not). The truth's
  AUC says how much the kind shows in the move; a model whose paths depend on the photo's kind has an AUC above
  0.5.

    OMP_NUM_THREADS=1 python assets/checkpoints/raxels-tiny/training/probes-s19/kind_paths.py OUT.json FIRST COUNT CK [CK ...]

Writes OUT.json and OUT.npz (truth and each checkpoint's predicted c2w, (n, T, 4, 4)).
"""
import json, sys, time
import numpy as np, torch
from engine import Engine
from engine.config import ClipConfig
from engine.data import HELDOUT_SEEDS, KIND_STYLES, make_scene, render, sample_trajectory
from engine.evaluate.probe import own_other_ratio
from geometry import Cameras, canonicalize

out_path, first, count, checkpoints = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]
clip = ClipConfig()
truths, frames, outdoor = [], [], []
for n in range(first, first + count):            # the clips of kind_joint.py, built the same way
    seed, style = HELDOUT_SEEDS[n], ("re10k", "dl3dv")[n % 2]
    kind = "indoor" if style in KIND_STYLES["indoor"] else "outdoor"
    scene = make_scene(seed, kind)
    path = sample_trajectory(scene, clip.num_frames, rng=np.random.default_rng([seed, 0xE7A1]), style=style,
                             width=clip.width, height=clip.height)
    truths.append(path.cameras.to(torch.float64)); outdoor.append(kind == "outdoor")
    frames.append(render(scene, path.cameras, supersample=2, depth=False).uint8().numpy())
outdoor = np.array(outdoor)


def turn_deg(cams: Cameras) -> float:
    """Rotation of the last camera from the first, degrees."""
    R = canonicalize(cams.c2w.double(), 0)[-1, :3, :3]
    return float(torch.rad2deg(torch.arccos(((R.trace() - 1) / 2).clamp(-1, 1))))


def auc(score: np.ndarray, positive: np.ndarray) -> float:
    """P(score of a random positive > score of a random negative), ties half."""
    p, n = score[positive], score[~positive]
    return float(((p[:, None] > n[None]).sum() + 0.5 * (p[:, None] == n[None]).sum()) / (len(p) * len(n)))


def describe(paths: list[Cameras]) -> dict:
    own, other, ratio = own_other_ratio(paths, truths)
    turns = np.array([turn_deg(c) for c in paths])
    return {"own": own, "other": other, "own_other": ratio, "turn_indoor": float(turns[~outdoor].mean()),
            "turn_outdoor": float(turns[outdoor].mean()), "turn_auc_outdoor": auc(turns, outdoor)}


still = Cameras(torch.eye(4, dtype=torch.float64).expand(clip.num_frames, 4, 4).clone(), truths[0].K, clip.width, clip.height)
result = {"clips": count, "first_seed": first, "truth": describe(truths),
          "identity": describe([still] * count), "fixed path (clip 0's truth)": describe([truths[0]] * count)}
saved = {"truth": np.stack([c.c2w.numpy() for c in truths]), "outdoor": outdoor}
for name in ("truth", "identity", "fixed path (clip 0's truth)"):
    print(name, result[name], flush=True)
for j, ck in enumerate(checkpoints):
    t0 = time.time()
    eng = Engine.from_checkpoint(ck, device="cpu")
    predicted = [eng.generate_joint(f[:1], num_frames=len(f), seed=i)[1].to(torch.float64) for i, f in enumerate(frames)]
    result[ck] = describe(predicted) | {"seconds": round(time.time() - t0)}
    saved[f"predicted_{j}"] = np.stack([c.c2w.numpy() for c in predicted])
    print(ck, result[ck], flush=True)
json.dump(result, open(out_path, "w"), indent=1)
np.savez_compressed(out_path.removesuffix(".json") + ".npz", checkpoints=np.array(checkpoints), **saved)
