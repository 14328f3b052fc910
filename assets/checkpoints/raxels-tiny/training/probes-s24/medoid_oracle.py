"""Session 24, one-off: can a *point estimate* of the path from the photo pass the joint bar where samples cannot?

For each of 48 validation clips (352-399) the data generator draws 16 paths from the clip's true first camera and
target (``joint_ceiling.start_conditioned_paths``, the style drawn as in training). Scored as the probe scores joint
generation (own/other: rotation error against the clip's own path over that against the next clip's):
    single draw   one of those paths, as a perfect sampler of the training data would answer
    medoid        of the 16, the one with the least mean rotation error to the other 15: the minimum-risk
                  answer a sampler could return after drawing 16 paths

    OMP_NUM_THREADS=1 python assets/checkpoints/raxels-tiny/training/probes-s24/medoid_oracle.py OUT.json
"""
import json
import sys

import numpy as np

from engine.config import ClipConfig
from engine.evaluate.joint_ceiling import start_conditioned_paths
from engine.evaluate.probe import own_other_ratio
from geometry.metrics import pose_metrics

truths, samples = start_conditioned_paths(ClipConfig(), 48, 16, first_seed=352)
medoids = []
for draws in samples:
    dist = np.array([[float(pose_metrics(a, b)["mean_rot_err_deg"]) if i != j else 0.0 for j, b in enumerate(draws)]
                     for i, a in enumerate(draws)])
    medoids.append(draws[int(dist.mean(1).argmin())])
out = {}
for name, answer in (("single draw (the first)", [d[0] for d in samples]), ("medoid of 16", medoids)):
    own, other, ratio = own_other_ratio(answer, truths)
    out[name] = {"own": own, "other": other, "own_other": ratio}
    print(name, out[name], flush=True)
json.dump({"clips": "validation 352-399", "draws": 16, **out}, open(sys.argv[1], "w"), indent=1)
