"""A training batch of the tiny preset's procedural clips, as the trainer's loader makes it (for tests)."""

from __future__ import annotations

import torch

from engine.config import preset


def tiny_batch(B: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """The first ``B`` examples of the tiny preset's procedural stream ``seed`` (no supersampling), collated."""
    from engine.data import ProceduralClips
    from engine.train.data import collate_examples

    src = ProceduralClips(preset("tiny").clip, seed=seed, supersample=1)
    return collate_examples([src.example(i) for i in range(B)])
