"""The guide plane's depth (model.guide_depth) from training scenes only: the median z-depth of the first
frame's pixels that hit something, pooled over ``--items`` items of the training stream (the trainer's own
scene seeds and trajectory styles, seed 0), at the tiny preset's size.

    python plane_depth.py --items 128
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from engine.config import preset
from engine.data import make_scene, render, sample_trajectory
from engine.data.datasets import train_scene_seed

ap = argparse.ArgumentParser()
ap.add_argument("--items", type=int, default=128)
a = ap.parse_args()
clip = preset("tiny").clip
depths, per_item = [], []
for n in range(a.items):
    rng = np.random.default_rng([0, n, 0xC11B])
    scene = make_scene(train_scene_seed(0, n))
    path = sample_trajectory(scene, clip.num_frames, rng=rng, width=clip.width, height=clip.height)
    z = render(scene, path.cameras[:1], depth=True).depth[0]
    z = z[torch.isfinite(z)]
    depths.append(z.flatten())
    per_item.append(float(z.median()) if z.numel() else float("nan"))
pooled = torch.cat(depths)
print(f"items {a.items}: pooled median {float(pooled.median()):.3f}, quartiles "
      f"{float(pooled.quantile(0.25)):.3f} / {float(pooled.quantile(0.75)):.3f}, median of per-item medians "
      f"{float(np.nanmedian(per_item)):.3f}")
