"""Training-data speed: rendering a clip, making a whole example, and one tiny-model training step.

    python -m benchmarks.render            # under a minute on 2 CPU cores
    python -m benchmarks.render --threads 1   # as inside a DataLoader worker (PyTorch uses 1 thread there)

Prints the best and median of a few repeats (the best is the machine's speed, the median what a busy
machine gives) for: a 9-frame 64 x 64 clip of procedural scenes (indoor and outdoor, 1 and 2 x 2 rays
per pixel), one ``ProceduralClips`` example at the tiny preset (scene, path, render, example), a
batch of 4 such examples, and one training step of the tiny preset (forward, backward, AdamW) on it.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Callable

import numpy as np
import torch

from engine.config import preset
from engine.data import ProceduralClips, collate_examples, make_scene, render, sample_trajectory


def timed(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    fn()                                                        # warm-up (texture cache, allocator)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times)


def report(name: str, best_median: tuple[float, float]) -> None:
    best, median = best_median
    print(f"{name:<52} best {best * 1e3:8.1f} ms   median {median * 1e3:8.1f} ms")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")

    for seed, kind in ((1, "indoor"), (4, "outdoor")):
        scene = make_scene(seed, kind)
        cams = sample_trajectory(scene, 9, rng=np.random.default_rng(0), width=64, height=64).cameras
        for ss in (1, 2):
            report(f"render 9 x 64x64, {kind} ({scene.num_boxes} boxes), {ss}x{ss} rays/px",
                   timed(lambda: render(scene, cams, supersample=ss, depth=False), args.repeats))
        report(f"sample_trajectory, {kind}",
               timed(lambda: sample_trajectory(scene, 9, rng=np.random.default_rng(1), width=64, height=64),
                     args.repeats))

    cfg = preset("tiny")
    data = ProceduralClips(cfg.clip, seed=0)
    counter = iter(range(10**9))
    report(f"ProceduralClips example ({cfg.clip.num_frames} x {cfg.clip.height}x{cfg.clip.width}, 2x2 rays/px)",
           timed(lambda: data.example(next(counter)), 2 * args.repeats))
    batch_of = lambda: collate_examples([data.example(next(counter)) for _ in range(4)])  # noqa: E731
    report("batch of 4 examples", timed(batch_of, args.repeats))

    from engine.objective import training_loss
    from engine.pipeline import JointPipeline

    pipe = JointPipeline(cfg)
    opt = torch.optim.AdamW(pipe.model.parameters(), lr=1e-4)
    batch = batch_of()
    gen = torch.Generator().manual_seed(0)

    def step():
        loss, _ = training_loss(pipe, batch, generator=gen)
        opt.zero_grad()
        loss.backward()
        opt.step()
    report("tiny-preset training step, batch 4", timed(step, args.repeats))


if __name__ == "__main__":
    main()
