"""Engine throughput, run by hand: ``python -m benchmarks.engine [--preset tiny] [--repeats 5]``.

Prints, for the ``tiny`` preset on the CPU (and ``small`` on a GPU when one is present):
  - forward and training-step throughput in tokens/s (tokens = video + ray tokens of one batch),
    and on a GPU the model FLOP utilisation against the device's dense bf16 peak;
  - for each task (pose estimation, camera-conditioned generation, joint generation): time to the
    first streamed denoising event and total time, with the step counts used.
Baseline named in the output: the training step is compared with the forward pass (ratio ~3 is the
usual forward + backward cost); tasks are compared with (steps x forward time).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

import geometry as g
from engine import Engine, preset
from engine.objective import training_loss
from engine.pipeline import JointPipeline

GPU_PEAK_BF16_TFLOPS = {"H100": 989.0, "H200": 989.0, "A100": 312.0}


def _timed(fn, repeats: int, sync) -> float:
    fn()
    sync()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _batch(pipe: JointPipeline, B: int, device) -> dict[str, torch.Tensor]:
    c = pipe.cfg.clip
    T, H, W, M = c.num_frames, c.height, c.width, c.num_cond
    eyes = torch.stack([torch.tensor([0.1 * i, 0.0, -1.0], dtype=torch.float64) for i in range(T)])
    c2w = g.look_at(eyes, torch.tensor([0.0, 0.0, 3.0], dtype=torch.float64).expand(T, 3))
    cams = g.Cameras.from_fov(c2w, fov_y_deg=60.0, width=W, height=H)
    from engine.camera_codec import encode_cameras

    rays, _ = encode_cameras(cams, ref=0, grid=pipe.ray_grid, encoding=pipe.encoding)
    return {"video": torch.rand(B, 3, T, H, W, device=device) * 2 - 1,
            "rays": rays.float().to(device)[None].expand(B, -1, -1, -1, -1).contiguous(),
            "cond_idx": torch.tensor([list(range(M))], device=device).expand(B, -1) * (T - 1) // max(1, M - 1),
            "num_sources": torch.ones(B, dtype=torch.long, device=device)}


def bench_preset(name: str, device: torch.device, batch: int, repeats: int) -> None:
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    cfg = preset(name)
    pipe = JointPipeline(cfg).to(device)
    params = sum(p.numel() for p in pipe.model.parameters())
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    data = _batch(pipe, batch, device)
    streams, cond_pos = pipe.clean_streams(data["video"], data["rays"], data["cond_idx"])
    times = {k: torch.rand(v.shape[:2] if k.startswith("cond") else v.shape[:1], device=device)
             for k, v in streams.items()}
    per_stream = pipe.model.video_io.embed(streams["video"], streams["cond_video"])[0].shape[1]
    tokens = 2 * per_stream * batch                                      # video + ray tokens of the batch

    def forward():
        with torch.no_grad(), torch.autocast(device.type, dtype=dtype, enabled=device.type == "cuda"):
            pipe.model(streams, times, cond_pos=cond_pos)

    opt = torch.optim.AdamW(pipe.model.parameters(), lr=1e-4)
    gen = torch.Generator().manual_seed(0)

    def train_step():
        with torch.autocast(device.type, dtype=dtype, enabled=device.type == "cuda"):
            loss, _ = training_loss(pipe, data, generator=gen)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    t_fwd = _timed(forward, repeats, sync)
    t_step = _timed(train_step, repeats, sync)
    print(f"\n== preset {name} on {device} ({params / 1e6:.2f}M params, batch {batch}, "
          f"{tokens // batch} tokens per clip: video + rays) ==")
    print(f"{'':24}{'ms':>10}{'tokens/s':>14}")
    print(f"{'forward':24}{t_fwd * 1e3:>10.1f}{tokens / t_fwd:>14,.0f}")
    print(f"{'training step':24}{t_step * 1e3:>10.1f}{tokens / t_step:>14,.0f}   "
          f"({t_step / t_fwd:.1f}x the forward; baseline: ~3x for forward + backward)")
    if device.type == "cuda":
        flops_fwd = 2 * params * tokens  # dense matmul estimate; attention adds to it
        peak = next((v for k, v in GPU_PEAK_BF16_TFLOPS.items() if k in torch.cuda.get_device_name()), None)
        if peak:
            mfu = 3 * flops_fwd / t_step / (peak * 1e12)
            print(f"model FLOP utilisation (training, 6 x params x tokens): {100 * mfu:.1f}% of {peak:.0f} TFLOP/s")

    eng = Engine(pipe, device=device, dtype=dtype, source=f"benchmark:{name}", trained=False)
    c = cfg.clip
    frames = (np.random.default_rng(0).random((c.num_frames, c.height, c.width, 3)) * 255).astype(np.uint8)
    cams = g.Cameras.from_fov(torch.eye(4).expand(c.num_frames, 4, 4).clone(), fov_y_deg=60.0,
                              width=c.width, height=c.height)
    tasks = {
        f"estimate poses ({cfg.sampler.pose_steps} steps)": lambda: eng.estimate_poses_stream(frames),
        f"generate ({cfg.sampler.video_steps} steps)": lambda: eng.generate_stream(frames[:1], cams),
        f"generate jointly ({cfg.sampler.joint_video_steps}/{cfg.sampler.joint_ray_steps} steps)":
            lambda: eng.generate_joint_stream(frames[:1]),
    }
    print(f"\n{'task':36}{'first event s':>15}{'total s':>10}{'steps x fwd s':>15}")
    for label, make in tasks.items():
        t0 = time.perf_counter()
        first = None
        n = 0
        for ev in make():
            if ev.stage == "denoise" and first is None:
                first = time.perf_counter() - t0
            n = max(n, ev.total)
        total = time.perf_counter() - t0
        print(f"{label:36}{first or 0:>15.2f}{total:>10.2f}{n * t_fwd / batch:>15.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--batch", type=int, default=8)
    args = ap.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    bench_preset("tiny", torch.device("cpu"), args.batch, args.repeats)
    if torch.cuda.is_available():
        bench_preset("small", torch.device("cuda"), args.batch, args.repeats)
    else:
        print("\n(no GPU here: the 'small' preset GPU figures are skipped)")


if __name__ == "__main__":
    main()
