"""Procedural training and evaluation data: ``ProceduralClips``, an endless ``IterableDataset`` of
examples rendered from procedural scenes.

Batch it with ``DataLoader(ds, batch_size=B, num_workers=k, collate_fn=collate_examples)`` and
``chunk=B`` (see ``stream``: then the batches do not depend on ``k``, and ``start`` resumes exactly).

Seeds: ``split="train"`` is endless; item n renders scene ``train_scene_seed(seed, n)``, a hash of
``(seed, n)`` into ``[TRAIN_SEED_START, 2**31)``. ``split="heldout"`` walks ``HELDOUT_SEEDS`` (scene
seeds ``0 .. 1023``, never used for training) once, one clip per scene, independent of ``seed``: a
fixed evaluation set. Scenes are metric (metres), so examples keep metric scale.

Real clips are in ``real_clips`` (``Re10kClips``, ``ColmapScenes``, ``TransformsScenes``).
"""

from __future__ import annotations

from typing import Iterator

import numpy as np
import torch
from torch.utils.data import IterableDataset

from engine.config import ClipConfig

from .layouts import SCENE_KINDS, make_scene
from .render import render
from .stream import ExampleOptions, worker_positions
from .trajectories import STYLES, sample_trajectory, style_for_kind

HELDOUT_SEEDS = range(0, 1024)     # procedural scene seeds reserved for evaluation
TRAIN_SEED_START = 1024            # training scene seeds are drawn from [TRAIN_SEED_START, 2**31)
_SEED_SPACE = 2**31


def train_scene_seed(seed: int, n: int) -> int:
    """Scene seed of training item ``n`` of stream ``seed``: outside ``HELDOUT_SEEDS`` by construction."""
    h = int(np.random.SeedSequence([int(seed), int(n), 0x7EA1]).generate_state(1, np.uint64)[0])
    return TRAIN_SEED_START + h % (_SEED_SPACE - TRAIN_SEED_START)


# --------------------------------------------------------------------------------------
# Procedural clips
# --------------------------------------------------------------------------------------

class ProceduralClips(IterableDataset):
    """Examples rendered from procedural scenes along generated camera paths (see the module docstring).

    Args:
        clip: frames, size and conditioning slots of an example.
        split: ``"train"`` (endless unless ``num_examples``) or ``"heldout"`` (``HELDOUT_SEEDS``, once).
        seed: the training stream (ignored by ``"heldout"``).
        start: first item number (resume), ``chunk``: items per worker block (use the batch size).
        num_examples: stop after this many items (counted from 0, so ``start`` does not extend it).
        raxel_downsample, encoding, reverse_prob, min_sources, max_sources, first_reference_prob: see
            ``build_example``.
        kinds: scene kinds to draw from (default both), ``styles``: trajectory styles (default all).
        kind_styles: draw the style from the scene's kind (``trajectories.KIND_STYLES``; ours, an experiment)
            instead of from all styles; not with ``styles``.
        supersample: anti-aliasing rays per pixel side; ``fps``: timestamps of the paths.
    """

    def __init__(self, clip: ClipConfig, *, split: str = "train", seed: int = 0, start: int = 0, chunk: int = 1,
                 num_examples: int | None = None, raxel_downsample: int = 1, encoding: str = "raxel",
                 reverse_prob: float = 0.5, min_sources: int = 1, max_sources: int | None = None,
                 kinds: tuple[str, ...] | None = None, styles: tuple[str, ...] | None = None,
                 supersample: int = 2, fps: float = 8.0, first_reference_prob: float = 0.0,
                 kind_styles: bool = False):
        if split not in ("train", "heldout"):
            raise ValueError(f"split must be 'train' or 'heldout', got {split!r}")
        bad = [k for k in (kinds or ()) if k not in SCENE_KINDS] + [s for s in (styles or ()) if s not in STYLES]
        if bad:
            raise ValueError(f"unknown scene kinds / styles {bad}; kinds: {SCENE_KINDS}, styles: {STYLES}")
        if kind_styles and styles is not None:
            raise ValueError("kind_styles draws the style from the scene's kind: give it or styles, not both")
        if not 0 <= first_reference_prob <= 1:
            raise ValueError(f"first_reference_prob must be in [0, 1], got {first_reference_prob}")
        self.options = ExampleOptions(clip, raxel_downsample, encoding, reverse_prob, 1, min_sources, max_sources,
                                      first_reference_prob)
        self.split, self.seed, self.start, self.chunk = split, int(seed), int(start), int(chunk)
        self.num_examples = len(HELDOUT_SEEDS) if split == "heldout" and num_examples is None else num_examples
        self.kinds, self.styles, self.kind_styles = kinds, styles, bool(kind_styles)
        self.supersample, self.fps = supersample, fps

    def scene_seed(self, n: int) -> int:
        """Scene seed of item ``n``."""
        if self.split == "heldout":
            return HELDOUT_SEEDS[n % len(HELDOUT_SEEDS)]
        return train_scene_seed(self.seed, n)

    def example(self, n: int) -> dict[str, torch.Tensor]:
        """Item ``n`` of the stream (deterministic)."""
        scene_seed = self.scene_seed(n)
        # Held-out items depend on the scene seed only, so the evaluation set is fixed.
        entropy = [scene_seed, 0xE7A1] if self.split == "heldout" else [self.seed, n, 0xC11B]
        rng = np.random.default_rng(entropy)
        kind = None if self.kinds is None else str(rng.choice(self.kinds))
        scene = make_scene(scene_seed, kind)
        clip = self.options.clip
        if self.kind_styles:
            style = style_for_kind(scene.kind, rng)
        else:
            style = None if self.styles is None else str(rng.choice(self.styles))
        path = sample_trajectory(scene, clip.num_frames, rng=rng, style=style, width=clip.width,
                                 height=clip.height, fps=self.fps)
        frames = render(scene, path.cameras, supersample=self.supersample, depth=False).rgb     # (T, 3, H, W)
        return self.options.build(frames * 2 - 1, path.cameras, rng, metric_scale=scene.metric_scale)

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        for n in worker_positions(self.start, self.num_examples, self.chunk):
            yield self.example(n)
