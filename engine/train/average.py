"""The mean of a run's checkpoints (stochastic weight averaging, Izmailov et al. 2018) *(ours)*.

    python -m engine average-checkpoints runs/x/checkpoints/step-0001200 runs/x/final --out runs/x/swa

Checkpoints of one run, some hundred steps apart, wander around a common basin; their mean sits nearer its
centre than any one of them, and its figures move less from one choice of checkpoints to the next. All
inputs must have the same model config; the output takes the last one's config and meta, plus
``meta["averaged"]`` naming the inputs.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from engine.checkpoint import load_checkpoint, save_checkpoint


def average_checkpoints(paths: list[str | Path], out: str | Path) -> Path:
    """Write the element-wise mean of the checkpoints ``paths`` (at least 2) to the new directory ``out``."""
    if len(paths) < 2:
        raise ValueError(f"average-checkpoints needs at least 2 checkpoints, got {len(paths)}")
    out = Path(out)
    if out.exists():
        raise ValueError(f"{out}: exists; average into a new directory")
    loaded = [load_checkpoint(p) for p in paths]
    cfg, last, meta = loaded[-1]
    total = {k: torch.zeros_like(v, dtype=torch.float64) for k, v in last.items()}
    for p, (c, state, _) in zip(paths, loaded):
        if dataclasses.asdict(c.model) != dataclasses.asdict(cfg.model):
            raise ValueError(f"{p}: its model config differs from {paths[-1]}'s; only one run's checkpoints average")
        if state.keys() != last.keys():
            raise ValueError(f"{p}: its tensors differ from {paths[-1]}'s")
        for k, v in state.items():
            total[k] += v.double()
    mean = {k: (v / len(paths)).to(last[k].dtype) for k, v in total.items()}

    from engine.pipeline import JointPipeline

    model = JointPipeline(cfg).model
    model.load_state_dict(mean)
    meta = {**meta, "averaged": [str(p) for p in paths]}
    return save_checkpoint(out, model, cfg, meta)
