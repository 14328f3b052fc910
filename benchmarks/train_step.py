"""Training examples per second of the tiny recipe against the step it replaced, run by hand:

    python -m benchmarks.train_step [--batch 8] [--repeats 6] [--threads 1]

Baseline (named in the output): "before issue 10" -- the tiny preset as shipped until then (three
conditioning slots for every example, 30/30/40 pose/camera/joint mix, no ray image terms), one CPU
thread, float32. Rows: the new recipe in its pose-only phase and after the mix has settled, with and
without the pixel-space ray terms, with the frozen XFeat descriptors (model.xfeat_features: their
extraction is part of the step), and under bf16 autocast (only a gain on CPUs with native bf16,
e.g. AVX512-BF16 or AMX; the output says whether this one has it). Same rendered batch for every row.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time
from contextlib import nullcontext

import torch

from engine.config import EngineConfig, FlowConfig, preset
from engine.objective import training_loss
from engine.pipeline import JointPipeline


def _cpu_has_bf16() -> bool:
    try:
        flags = open("/proc/cpuinfo").read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def _step_time(cfg: EngineConfig, batch, step: int | None, repeats: int, bf16: bool = False) -> float:
    torch.manual_seed(0)
    pipe = JointPipeline(cfg)
    opt = torch.optim.AdamW(pipe.model.parameters(), 6e-4)
    gen = torch.Generator().manual_seed(0)
    times = []
    for i in range(repeats + 1):
        t0 = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else nullcontext():
            loss, _ = training_loss(pipe, batch, generator=gen, step=step)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        if i:                                        # the first step warms the allocator up
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    from engine.data import ProceduralClips
    from engine.train.data import collate_examples

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=6)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--no-bf16", action="store_true", help="skip the bf16 autocast row")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    new = preset("tiny")
    batch = collate_examples([ProceduralClips(new.clip, seed=0).example(i) for i in range(args.batch)])
    settled = new.flow.pose_only_steps + new.flow.mix_anneal_steps
    plain = dataclasses.replace(new, flow=dataclasses.replace(new.flow, ray_centered_weight=0.0))
    xfeat = dataclasses.replace(new, model=dataclasses.replace(new.model, xfeat_features=True))
    rows = [("before issue 10 (baseline)", EngineConfig(flow=FlowConfig(loss_weighting="data")), None, False),
            ("recipe, pose-only phase", new, 0, False),
            ("recipe, pose-only phase, no ray image term", plain, 0, False),
            ("recipe, pose-only phase, XFeat features", xfeat, 0, False),
            ("recipe, settled mix", new, settled, False),
            ("recipe, settled mix, XFeat features", xfeat, settled, False)]
    if not args.no_bf16:
        rows.append(("recipe, pose-only phase, bf16 autocast", new, 0, True))
    print(f"batch {args.batch}, {args.threads} thread(s), CPU bf16 support: {_cpu_has_bf16()}")
    base = None
    for label, cfg, step, bf16 in rows:
        s = _step_time(cfg, batch, step, args.repeats, bf16)
        rate = args.batch / s
        base = base or rate
        print(f"{label:45s} {s:6.3f} s/step  {rate:6.2f} examples/s  {rate / base:5.2f}x baseline")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
