"""Two-clip probe: how fast does each design learn to read the video? (RESULTS.md, "Two-clip probe")

    OMP_NUM_THREADS=1 python configs/ablations/two_clip_probe.py base plucker global nocos velocity
    SEEDS=0,1,2 OMP_NUM_THREADS=1 python configs/ablations/two_clip_probe.py     # every arm, 3 seeds

A 2-layer model is trained on two mirrored clips: the same arc of a textured plane, one turning right,
the other left. It is trained only on pose estimation (video clean), for 300 steps, per seed (``SEEDS``, default 0). Only the
video tells the clips apart, so a model that ignores it gives both the same trajectory. Printed per
arm:
- every 50 steps, the ratio of the ray output's difference between the two clips at t = 0 (same
  noise) to the targets' difference;
- at the end, the 2-step mean rotation error against the clip's own trajectory and against the other
  clip's.
The clip renderer is the one of tests/test_overfit.py.
"""

import dataclasses
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))
from test_overfit import _clip, _config, _train, own_and_other_errors, pose_batch  # noqa: E402

import geometry as g  # noqa: E402
from engine import Engine  # noqa: E402
from engine.pipeline import JointPipeline  # noqa: E402

ARMS = {
    "base": {},
    "plucker": {"model": {"camera_encoding": "plucker"}},
    "global": {"model": {"attention": "global"}},
    "nocos": {"flow": {"cos_weight": 0.0}},
    "velocity": {"flow": {"loss_weighting": "velocity"}},
}


def arm_config(name: str):
    cfg = _config(loss_weighting="data")
    for section, changes in ARMS[name].items():
        cfg = dataclasses.replace(cfg, **{section: dataclasses.replace(getattr(cfg, section), **changes)})
    return cfg


def run(name: str, steps: int = 300, seed: int = 0) -> dict:
    torch.manual_seed(seed)
    arc = np.linspace(0.0, 0.6, 9)
    clips = [_clip(arc, +1.0), _clip(arc, -1.0)]
    pipe = JointPipeline(arm_config(name))
    batch = pose_batch(pipe, clips)

    def dependence() -> float:
        clean, cond_pos = pipe.clean_streams(batch["video"][:2], batch["rays"][:2], batch["cond_idx"][:2])
        gen = torch.Generator().manual_seed(1)
        noised = dict(clean)
        for s in ("rays", "cond_rays"):
            noised[s] = torch.randn(clean[s][:1].shape, generator=gen).expand_as(clean[s]).clone()
        times = {"video": torch.ones(2), "cond_video": torch.ones(2, 3), "rays": torch.zeros(2), "cond_rays": torch.zeros(2, 3)}
        with torch.no_grad():
            out = pipe.model(noised, times, cond_pos=cond_pos)["rays"]
        return float((out[0] - out[1]).abs().mean() / (clean["rays"][0] - clean["rays"][1]).abs().mean())

    curve, t0 = [], time.perf_counter()
    _train(pipe, batch, steps, warmup_decay=False, seed=seed, probe=lambda i: curve.append(round(dependence(), 3)))
    eng = Engine(pipe, device=torch.device("cpu"), dtype=torch.float32, source=name, trained=True)
    own, other = own_and_other_errors(eng, clips)
    truth0 = g.canonicalize(clips[0][1].c2w, 0)[..., :3, :3]
    return {"arm": name, "seed": seed, "dependence_every_50": curve, "own_err": np.mean(own), "other_err": np.mean(other),
            "identity_err": float(g.rotation_angle(truth0).rad2deg().mean()), "seconds": time.perf_counter() - t0}


if __name__ == "__main__":
    import itertools
    import os

    seeds = [int(x) for x in os.environ.get("SEEDS", "0").split(",")]
    for arm, seed in itertools.product(sys.argv[1:] or list(ARMS), seeds):
        r = run(arm, seed=seed)
        print(f"{r['arm']:9s} seed {seed} dependence {r['dependence_every_50']}  2-step rot err own {r['own_err']:.1f} "
              f"other {r['other_err']:.1f} identity {r['identity_err']:.1f}  ({r['seconds']:.0f} s)", flush=True)
