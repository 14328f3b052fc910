"""Session 15: a weight average ("soup") of ray-side fine-tunes that share one frozen video stream.

    python assets/checkpoints/raxels-tiny/training/probes-s15/soup.py OUT_DIR CK1 CK2 ...

Every checkpoint must be a checkpoint directory (config.json + model.safetensors) of the same
architecture; tensors are averaged with equal weights and the first checkpoint's config is kept. Reports
how many tensors differ between the inputs (the video stream's should not: it was frozen).
"""
import shutil
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

out, cks = Path(sys.argv[1]), [Path(p) for p in sys.argv[2:]]
states = [load_file(str(c / "model.safetensors")) for c in cks]
keys = list(states[0])
assert all(list(s) == keys for s in states), "checkpoints differ in their tensors"
differ = [k for k in keys if any(not torch.equal(states[0][k], s[k]) for s in states[1:])]
avg = {k: (sum(s[k].double() for s in states) / len(states)).to(states[0][k].dtype) if k in differ else states[0][k]
       for k in keys}
out.mkdir(parents=True, exist_ok=True)
save_file(avg, str(out / "model.safetensors"))
shutil.copy(cks[0] / "config.json", out / "config.json")
print(f"{len(differ)} of {len(keys)} tensors differ; e.g. identical: {[k for k in keys if k not in differ][:3]}")
