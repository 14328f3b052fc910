"""What every dataset here shares: numbered streams split over DataLoader workers, and the options
that turn a clip into an example.

Every dataset is a numbered stream: item ``n`` is a pure function of ``(seed, n)``, so a trainer
resumes exactly by passing ``start=n`` (the number of items it has consumed). DataLoader workers
split the stream in blocks of ``chunk`` items: worker ``w`` of ``k`` makes blocks ``w, w + k, w + 2k,
...``. DataLoader takes one batch from each worker in turn, so with ``chunk = batch_size`` the batches
are the same for any number of workers, and ``start = steps * batch_size`` resumes mid-run.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import count
from typing import Iterator

import numpy as np
import torch
from torch.utils.data import get_worker_info

from engine.config import ClipConfig
from geometry import Cameras

from .examples import build_example


def worker_positions(start: int, stop: int | None, chunk: int) -> Iterator[int]:
    """Item numbers this DataLoader worker makes: blocks of ``chunk`` round-robin over workers."""
    info = get_worker_info()
    worker, workers = (0, 1) if info is None else (info.id, info.num_workers)
    if chunk < 1:
        raise ValueError(f"chunk must be >= 1, got {chunk}")
    for block in count(worker, workers):
        first = start + block * chunk
        for n in range(first, first + chunk):
            if stop is not None and n >= stop:
                return
            yield n


@dataclass
class ExampleOptions:
    """What turns a clip into an example (``build_example``'s arguments besides the clip)."""

    clip: ClipConfig
    raxel_downsample: int = 1
    encoding: str = "raxel"
    reverse_prob: float = 0.5
    max_stride: int = 1
    min_sources: int = 1
    max_sources: int | None = None
    first_reference_prob: float = 0.0

    def build(self, frames, cameras: Cameras, rng: np.random.Generator, *, metric_scale: float | None,
              frame_idx: np.ndarray | None = None) -> dict[str, torch.Tensor]:
        return build_example(frames, cameras, self.clip, rng=rng, raxel_downsample=self.raxel_downsample,
                             encoding=self.encoding, metric_scale=metric_scale, max_stride=self.max_stride,
                             reverse_prob=self.reverse_prob, min_sources=self.min_sources,
                             max_sources=self.max_sources, frame_idx=frame_idx,
                             first_reference_prob=self.first_reference_prob)
