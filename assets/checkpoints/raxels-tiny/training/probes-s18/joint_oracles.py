"""Session 18, one-off: the joint bar's ceiling on the 96 clips of gen48-val/test: the data generator's own paths
from each clip's true first view, with the style drawn as in training (what a perfect model of the data samples)
and with the clip's own style given away (more than a photo shows). 16 draws each.

    OMP_NUM_THREADS=1 python assets/checkpoints/raxels-tiny/training/probes-s18/joint_oracles.py OUT.json
"""
import json, sys
from engine.config import ClipConfig
from engine.evaluate.joint_ceiling import oracle_own_other

out = {}
for name, first in (("validation 352-399", 352), ("test 560-607", 560)):
    for style, give in (("prior_style", False), ("true_style", True)):
        out[f"{name}, {style}"] = oracle_own_other(ClipConfig(), 48, 16, give_style=give, first_seed=first)[0]
        print(name, style, out[f"{name}, {style}"], flush=True)
json.dump(out, open(sys.argv[1], "w"), indent=1)
