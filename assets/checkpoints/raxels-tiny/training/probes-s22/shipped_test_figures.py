"""The figures `tests/test_shipped_checkpoint.py` asserts, printed for any checkpoint (to set its bars).

    python assets/checkpoints/raxels-tiny/training/probes-s22/shipped_test_figures.py CHECKPOINT [OUT.json]
"""

import json
import sys

import numpy as np

import geometry as g
from engine import Engine
from engine.evaluate import load_benchmark
from engine.evaluate.probe import generated_psnr, probe_joint
from geometry.metrics import identity_baseline, pose_metrics

NUM_CLIPS = 8  # as the test


def main(checkpoint, out=None):
    engine = Engine.from_checkpoint(checkpoint, device="cpu")
    clips = load_benchmark("procedural", engine.config.clip, NUM_CLIPS)
    preds = [engine.estimate_poses(clip.frames, steps=2) for clip in clips]
    truths = [clip.cameras.with_poses(g.canonicalize(clip.cameras.c2w, 0)) for clip in clips]

    def rot(pred, truth):
        return float(g.relative_rotation_angle_deg(pred.R.double(), truth.R.double()).mean())

    own = np.array([rot(p, t) for p, t in zip(preds, truths)])
    other = np.array([rot(preds[(i + 1) % len(preds)], t) for i, t in enumerate(truths)])
    identity = np.array([rot(identity_baseline(t), t) for t in truths])
    ate = np.array([float(pose_metrics(p, c.cameras)["ATE"]) for p, c in zip(preds, clips)])
    gen = {"own": [], "other": [], "copy": []}
    for i, clip in enumerate(clips):
        gen["own"].append(generated_psnr(engine.generate(clip.frames[:1], clip.cameras, seed=0), clip.frames))
        nxt = clips[(i + 1) % len(clips)].cameras
        gen["other"].append(generated_psnr(engine.generate(clip.frames[:1], nxt, seed=0), clip.frames))
        gen["copy"].append(generated_psnr(np.repeat(clip.frames[:1], len(clip.frames), 0), clip.frames))
    joint = probe_joint(engine, clips)
    figures = {
        "checkpoint": str(checkpoint),
        "rot_err_deg": own.mean(), "identity_rot_err_deg": identity.mean(), "rot_vs_identity": own.mean() / identity.mean(),
        "own_other": own.mean() / other.mean(), "ATE": ate.mean(),
        "psnr_own": float(np.mean(gen["own"])), "psnr_other": float(np.mean(gen["other"])),
        "psnr_copy": float(np.mean(gen["copy"])),
        "coherence_own_other": joint["coherence_own_other"],
        "coherence_vs_still": joint["coherence_rot_err_deg"] / joint["coherence_still_rot_err_deg"],
    }
    figures = {k: (float(v) if not isinstance(v, str) else v) for k, v in figures.items()}
    print(json.dumps(figures, indent=1))
    if out:
        with open(out, "w") as f:
            json.dump(figures, f, indent=1)


if __name__ == "__main__":
    main(*sys.argv[1:])
