"""Session 18, one-off: K1's measure. Joint generation's own/other on held-out clips whose move follows the scene's
kind (``engine.data.KIND_STYLES``): the probe's clips (seed ``HELDOUT_SEEDS[n]``, style RealEstate10K-like for
even n and DL3DV-like for odd n, the same path generator and seed), but each scene built indoor for the walks and
outdoor for the orbits. Beside it, the data's own paths from each clip's true first view under the same rule
(``style_for_kind``; 8 draws).

    OMP_NUM_THREADS=1 python assets/checkpoints/raxels-tiny/training/probes-s18/kind_joint.py OUT.json FIRST COUNT CK [CK ...]
"""
import json, sys, time
import numpy as np, torch
from engine import Engine
from engine.config import ClipConfig
from engine.data import HELDOUT_SEEDS, KIND_STYLES, make_scene, render, sample_trajectory, style_for_kind
from engine.evaluate.probe import own_other_ratio

out_path, first, count, checkpoints = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]
clip = ClipConfig()
scenes, truths, frames = [], [], []
for n in range(first, first + count):
    seed, style = HELDOUT_SEEDS[n], ("re10k", "dl3dv")[n % 2]
    kind = "indoor" if style in KIND_STYLES["indoor"] else "outdoor"
    scene = make_scene(seed, kind)
    path = sample_trajectory(scene, clip.num_frames, rng=np.random.default_rng([seed, 0xE7A1]), style=style,
                             width=clip.width, height=clip.height)
    scenes.append((scene, path)); truths.append(path.cameras.to(torch.float64))
    frames.append(render(scene, path.cameras, supersample=2, depth=False).uint8().numpy())

result = {"clips": count, "first_seed": first}
draws = []
for k in range(8):
    paths = []
    for i, (scene, path) in enumerate(scenes):
        rng = np.random.default_rng([HELDOUT_SEEDS[first + i], 1, k])
        fov = float(torch.rad2deg(path.cameras.fov_y[0]))
        paths.append(sample_trajectory(scene, clip.num_frames, rng=rng, style=style_for_kind(scene.kind, rng),
                                       width=clip.width, height=clip.height, fov_y_deg=fov,
                                       eye=path.cameras.centers[0].double(), target=path.target).cameras.to(torch.float64))
    draws.append(own_other_ratio(paths, truths))
result["data_own_paths"] = {"own": float(np.mean([d[0] for d in draws])), "other": float(np.mean([d[1] for d in draws])),
                            "own_other": float(np.mean([d[0] for d in draws]) / np.mean([d[1] for d in draws])),
                            "per_draw": [round(d[2], 3) for d in draws]}
print("data", result["data_own_paths"], flush=True)
for ck in checkpoints:
    t0 = time.time()
    eng = Engine.from_checkpoint(ck, device="cpu")
    predicted = [eng.generate_joint(f[:1], num_frames=len(f), seed=i)[1].to(torch.float64) for i, f in enumerate(frames)]
    own, other, ratio = own_other_ratio(predicted, truths)
    result[ck] = {"own": own, "other": other, "own_other": ratio, "seconds": round(time.time() - t0)}
    print(ck, result[ck], flush=True)
json.dump(result, open(out_path, "w"), indent=1)
