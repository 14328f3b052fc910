"""Engine throughput, run by hand: ``python -m benchmarks.engine --device cuda`` (a GPU owner's check).

Prints, for one preset (default ``small``) on the given device:
  - forward and training-step time and throughput (tokens/s; tokens = video + ray tokens of the batch);
  - FLOPs of each, counted by ``torch.utils.flop_counter.FlopCounterMode`` (matmuls, convolutions and
    attention; the optimizer's element-wise update is not counted), the achieved TFLOP/s, and the model
    FLOP utilisation against the device's dense bf16 peak from ``PEAK_BF16_TFLOPS``. A device not in the
    table prints "peak unknown": a guessed peak would make the percentage meaningless;
  - unless ``--no-tasks``: per task (pose estimation, camera-conditioned generation, joint generation)
    the time to the first streamed denoising event and the total time.
Baselines named in the output: the training step against the forward (~3x for forward + backward);
tasks against (steps x forward time per clip).

On a CPU the ``small`` preset is slow; shrink it for a quick run, e.g.
``python -m benchmarks.engine --device cpu --preset tiny --batch 1 --num-frames 5 --size 32 --repeats 1``.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

import geometry as g
from engine import Engine, EngineConfig, preset
from engine.camera_codec import encode_cameras
from engine.objective import training_loss
from engine.pipeline import JointPipeline
from engine.pose_ensemble import num_passes

# Dense (no sparsity) bf16 tensor-core peaks in TFLOP/s from the vendors' datasheets, matched as a
# substring of torch.cuda.get_device_name(). Longer keys first, so "RTX 4090" is not read as something else.
PEAK_BF16_TFLOPS = {"H200": 989.0, "H100": 989.0, "A100": 312.0, "RTX 4090": 165.0, "L40S": 362.0,
                    "L4": 121.0, "A10G": 70.0}


def device_peak_tflops(device: torch.device) -> tuple[str, float | None]:
    """(device name, dense bf16 peak in TFLOP/s, or None when the device is not in the table)."""
    if device.type != "cuda":
        return f"cpu ({torch.get_num_threads()} threads)", None
    name = torch.cuda.get_device_name(device)
    return name, next((v for k, v in sorted(PEAK_BF16_TFLOPS.items(), key=lambda kv: -len(kv[0])) if k in name),
                      None)


def _timed(fn, repeats: int, sync) -> float:
    """Median seconds of ``repeats`` calls after one warm-up call."""
    fn()
    sync()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _counted_flops(fn) -> int:
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


def _batch(pipe: JointPipeline, B: int, device) -> dict[str, torch.Tensor]:
    c = pipe.cfg.clip
    T, H, W, M = c.num_frames, c.height, c.width, c.num_cond
    eyes = torch.stack([torch.tensor([0.1 * i, 0.0, -1.0], dtype=torch.float64) for i in range(T)])
    c2w = g.look_at(eyes, torch.tensor([0.0, 0.0, 3.0], dtype=torch.float64).expand(T, 3))
    cams = g.Cameras.from_fov(c2w, fov_y_deg=60.0, width=W, height=H)
    rays, _ = encode_cameras(cams, ref=0, grid=pipe.ray_grid, encoding=pipe.encoding)
    return {"video": torch.rand(B, 3, T, H, W, device=device) * 2 - 1,
            "rays": rays.float().to(device)[None].expand(B, -1, -1, -1, -1).contiguous(),
            "cond_idx": torch.tensor([list(range(M))], device=device).expand(B, -1) * (T - 1) // max(1, M - 1),
            "num_sources": torch.ones(B, dtype=torch.long, device=device)}


def sized_config(name: str, *, num_frames: int | None = None, size: int | None = None,
                 layers: int | None = None) -> EngineConfig:
    """The preset, optionally with fewer frames (1 + 4k), a square ``size`` x ``size`` clip, or fewer layers."""
    cfg = preset(name)
    clip = dataclasses.replace(cfg.clip, **({"num_frames": num_frames} if num_frames else {}),
                               **({"height": size, "width": size} if size else {}))
    if clip.num_cond > clip.num_frames:
        clip = dataclasses.replace(clip, num_cond=clip.num_frames)
    model = dataclasses.replace(cfg.model, **({"num_layers": layers} if layers else {}))
    return dataclasses.replace(cfg, clip=clip, model=model)


def measure_throughput(cfg: EngineConfig, device: torch.device, batch: int, repeats: int) -> dict:
    """Forward and training-step figures of one batch: ms, tokens/s, FLOPs, TFLOP/s and MFU (None when
    the device's peak is unknown). Also returns the pipeline and the forward time for the task timings."""
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    pipe = JointPipeline(cfg).to(device)
    params = sum(p.numel() for p in pipe.model.parameters())
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    data = _batch(pipe, batch, device)
    streams, cond_pos = pipe.clean_streams(data["video"], data["rays"], data["cond_idx"])
    times = {k: torch.rand(v.shape[:2] if k.startswith("cond") else v.shape[:1], device=device)
             for k, v in streams.items()}
    per_stream = pipe.model.video_io.embed(streams["video"], streams["cond_video"])[0].shape[1]
    tokens = 2 * per_stream * batch                                      # video + ray tokens of the batch
    autocast = dict(device_type=device.type, dtype=dtype, enabled=device.type == "cuda")

    def forward():
        with torch.no_grad(), torch.autocast(**autocast):
            pipe.model(streams, times, cond_pos=cond_pos)

    opt = torch.optim.AdamW(pipe.model.parameters(), lr=1e-4)
    gen = torch.Generator().manual_seed(0)

    def train_step():
        with torch.autocast(**autocast):
            loss, _ = training_loss(pipe, data, generator=gen)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    device_name, peak = device_peak_tflops(device)
    out = {"preset": cfg.preset, "device": device_name, "dtype": str(dtype).removeprefix("torch."),
           "params": params, "batch": batch, "tokens": tokens, "peak_tflops": peak, "pipe": pipe}
    for label, fn in (("forward", forward), ("train_step", train_step)):
        seconds = _timed(fn, repeats, sync)
        flops = _counted_flops(fn)
        achieved = flops / seconds / 1e12
        out[label] = {"ms": seconds * 1e3, "tokens_per_s": tokens / seconds, "gflop": flops / 1e9,
                      "tflops": achieved, "mfu": achieved / peak if peak else None}
    return out


def print_throughput(r: dict) -> None:
    print(f"\n== preset {r['preset']} on {r['device']}, {r['dtype']} ({r['params'] / 1e6:.2f}M params, "
          f"batch {r['batch']}, {r['tokens'] // r['batch']} tokens per clip: video + rays) ==")
    print(f"{'':16}{'ms':>10}{'tokens/s':>14}{'GFLOP':>12}{'TFLOP/s':>10}{'MFU':>10}")
    for label in ("forward", "train_step"):
        m = r[label]
        mfu = f"{100 * m['mfu']:.1f}%" if m["mfu"] is not None else "n/a"
        print(f"{label:16}{m['ms']:>10.1f}{m['tokens_per_s']:>14,.0f}{m['gflop']:>12.2f}{m['tflops']:>10.3f}{mfu:>10}")
    ratio = r["train_step"]["ms"] / r["forward"]["ms"]
    print(f"training step = {ratio:.1f}x the forward (baseline: ~3x for forward + backward)")
    if r["peak_tflops"] is None:
        print(f"MFU: peak unknown for {r['device']} (not in benchmarks.engine.PEAK_BF16_TFLOPS)")
    else:
        print(f"MFU against {r['peak_tflops']:.0f} TFLOP/s, the device's dense bf16 peak")


def print_task_timings(r: dict, device: torch.device) -> None:
    pipe, cfg = r["pipe"], r["pipe"].cfg
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    eng = Engine(pipe, device=device, dtype=dtype, source=f"benchmark:{cfg.preset}", trained=False)
    c = cfg.clip
    frames = (np.random.default_rng(0).random((c.num_frames, c.height, c.width, 3)) * 255).astype(np.uint8)
    cams = g.Cameras.from_fov(torch.eye(4).expand(c.num_frames, 4, 4).clone(), fov_y_deg=60.0,
                              width=c.width, height=c.height)
    passes = num_passes(cfg.sampler.pose_ensemble)
    tasks = {
        f"estimate poses ({cfg.sampler.pose_steps} steps, 1 pass)":
            lambda: eng.estimate_poses_stream(frames, ensemble="none"),
        f"generate ({cfg.sampler.video_steps} steps)": lambda: eng.generate_stream(frames[:1], cams),
        f"generate jointly ({cfg.sampler.joint_video_steps}/{cfg.sampler.joint_ray_steps} steps)":
            lambda: eng.generate_joint_stream(frames[:1]),
    }
    if passes > 1:      # the preset's pose ensemble (sampler.pose_ensemble), against one pass above
        tasks[f"estimate poses ({cfg.sampler.pose_steps} steps x {passes} passes)"] = lambda: eng.estimate_poses_stream(frames)
    fwd_per_clip = r["forward"]["ms"] / 1e3 / r["batch"]
    print(f"\n{'task':36}{'first event s':>15}{'total s':>10}{'steps x fwd s':>15}")
    for label, make in tasks.items():
        t0 = time.perf_counter()
        first, n = None, 0
        for ev in make():
            if ev.stage == "denoise" and first is None:
                first = time.perf_counter() - t0
            n = max(n, ev.total)
        total = time.perf_counter() - t0
        print(f"{label:36}{first or 0:>15.2f}{total:>10.2f}{n * fwd_per_clip:>15.2f}")


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.engine", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", help="cpu, cuda, cuda:1")
    ap.add_argument("--preset", default="small", help="tiny, small (default) or wan-1.3b")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--num-frames", type=int, default=None, help="override the preset's frames (1 + 4k)")
    ap.add_argument("--size", type=int, default=None, help="override the clip to size x size pixels")
    ap.add_argument("--layers", type=int, default=None, help="override the number of transformer blocks")
    ap.add_argument("--no-tasks", action="store_true", help="skip the per-task streaming timings")
    args = ap.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        ap.error(f"--device {args.device}: torch sees no CUDA device here")
    if args.batch < 1 or args.repeats < 1:
        ap.error("--batch and --repeats must be at least 1")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads")
    cfg = sized_config(args.preset, num_frames=args.num_frames, size=args.size, layers=args.layers)
    result = measure_throughput(cfg, device, args.batch, args.repeats)
    print_throughput(result)
    if not args.no_tasks:
        print_task_timings(result, device)
    return result


if __name__ == "__main__":
    main()
