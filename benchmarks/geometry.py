"""Raxel construction and camera recovery: speed, memory-bandwidth efficiency, and agreement with a
plain per-frame NumPy reference.

    python -m benchmarks.geometry            # about 2-3 minutes on 2 CPU cores

For 81 frames at 60x104 (the latent grid) and 480x832 (full resolution), float32, it prints the median
time of a few repeats after a warm-up, frames per second, the achieved bandwidth (bytes of raxels
written, or read for recovery, per second) against a ``torch.clone`` of a tensor of the same size
(the memory-bandwidth bound of this machine; ``copy_`` into an existing tensor for ``raxels(out=...)``),
and the speed-up over a straightforward NumPy loop over frames, whose results are checked against torch.
Other processes on the machine skew every figure: run it a few times and compare medians.

Recovery runs with ``iterations=1``: the clip shares one camera, for which one round is exact, and the
NumPy reference does the same single round.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from typing import Callable

import numpy as np
import torch

import geometry as g

N_FRAMES = 81
SIZES = [(60, 104), (480, 832)]          # (H, W): latent grid and full resolution
FOV_Y_DEG = 50.0
NUMPY_RECOVER_FRAMES = {(60, 104): N_FRAMES, (480, 832): 16}   # full-res NumPy recovery: a subset, extrapolated


# --------------------------------------------------------------------------------------
# Inputs and timing
# --------------------------------------------------------------------------------------

def orbit(n: int, height: int, width: int) -> g.Cameras:
    """A float32 orbit around the origin with a little bob, one shared pinhole camera."""
    a = torch.linspace(0.0, 1.5, n)
    eye = torch.stack([3 * torch.sin(a), -0.5 + 0.2 * torch.sin(3 * a), -3 * torch.cos(a)], -1)
    return g.Cameras.from_fov(g.look_at(eye, torch.zeros(n, 3)), fov_y_deg=FOV_Y_DEG, width=width, height=height)


def median_time(fn: Callable[[], object], *, repeats: int, warmup: int = 1) -> float:
    """Median wall time of ``fn`` in seconds over ``repeats`` calls after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def copy_bounds(shape: tuple[int, ...], *, repeats: int) -> tuple[float, float]:
    """Bytes written per second by ``torch.clone`` of a float32 tensor of ``shape`` (the bandwidth bound:
    like ``raxels`` it allocates its output, paying first-touch page faults) and by ``copy_`` into an
    existing tensor (the bare memory bandwidth)."""
    x = torch.rand(shape)
    y = torch.empty_like(x)
    nbytes = x.numel() * 4
    return nbytes / median_time(x.clone, repeats=repeats), nbytes / median_time(lambda: y.copy_(x), repeats=repeats)


# --------------------------------------------------------------------------------------
# Plain NumPy references: one frame at a time, nothing clever
# --------------------------------------------------------------------------------------

def numpy_raxels(c2w: np.ndarray, K: np.ndarray, height: int, width: int) -> np.ndarray:
    """Raxels (N, 3, H, W): per frame ``R normalize(K^-1 u~) + c``, pixel centres at +0.5."""
    ys, xs = np.meshgrid(np.arange(height, dtype=np.float32) + 0.5, np.arange(width, dtype=np.float32) + 0.5,
                         indexing="ij")
    u = np.stack([xs, ys, np.ones_like(xs)], -1).reshape(-1, 3)              # (P, 3)
    out = np.empty((len(c2w), 3, height, width), np.float32)
    for k in range(len(c2w)):
        d = u @ np.linalg.inv(K[k]).T.astype(np.float32)
        d /= np.linalg.norm(d, axis=-1, keepdims=True)
        out[k] = (d @ c2w[k, :3, :3].T + c2w[k, :3, 3]).T.reshape(3, height, width)
    return out


def _np_median_focal(local: np.ndarray, uv: np.ndarray, pp: np.ndarray) -> tuple[float, float]:
    """Focal lengths by median of ratios ``(u - c) * l_z / l_xy`` over pixels off the centre lines."""
    f = []
    for axis in (0, 1):
        centred = uv[:, axis] - pp[axis]
        keep = np.abs(centred) > 0.25 * np.abs(centred).max()
        f.append(float(np.median(centred[keep] * local[keep, 2] / local[keep, axis])))
    return f[0], f[1]


def _np_bundle(fx: float, fy: float, pp: np.ndarray, uv: np.ndarray) -> np.ndarray:
    d = np.stack([(uv[:, 0] - pp[0]) / fx, (uv[:, 1] - pp[1]) / fy, np.ones(len(uv), np.float32)], -1)
    return (d / np.linalg.norm(d, axis=-1, keepdims=True)).astype(np.float32)


def _np_kabsch(src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ms, md = src.mean(0), dst.mean(0)
    U, _, Vt = np.linalg.svd((src - ms).T @ (dst - md))
    D = np.diag([1.0, 1.0, np.sign(np.linalg.det(Vt.T @ U.T))])
    R = Vt.T @ D @ U.T
    return R, md - R @ ms


def numpy_recover(raxels: np.ndarray, frames: int) -> tuple[np.ndarray, np.ndarray]:
    """Poses (frames, 4, 4) and focal lengths (frames, 2) of the first ``frames`` frames; frame 0 is
    the reference and the principal point the image centre. One round, as ``recover_cameras(iterations=1)``:
    bundle from the reference focal -> Kabsch -> own focal -> Kabsch with the own bundle."""
    _, _, H, W = raxels.shape
    ys, xs = np.meshgrid(np.arange(H, dtype=np.float32) + 0.5, np.arange(W, dtype=np.float32) + 0.5, indexing="ij")
    uv = np.stack([xs.ravel(), ys.ravel()], -1)
    pp = np.array([W / 2, H / 2], np.float32)
    ref_bundle = _np_bundle(*_np_median_focal(raxels[0].reshape(3, -1).T, uv, pp), pp, uv)
    c2w, focal = np.tile(np.eye(4), (frames, 1, 1)), np.zeros((frames, 2))
    for k in range(frames):
        x = raxels[k].reshape(3, -1).T                                       # (P, 3)
        R, t = _np_kabsch(ref_bundle, x)
        focal[k] = _np_median_focal((x - t) @ R, uv, pp)
        c2w[k, :3, :3], c2w[k, :3, 3] = _np_kabsch(_np_bundle(*focal[k], pp, uv), x)
    return c2w, focal


# --------------------------------------------------------------------------------------
# One size
# --------------------------------------------------------------------------------------

def bench_size(height: int, width: int) -> list[dict]:
    big = height * width > 100_000
    repeats = 3 if big else 7
    cams = orbit(N_FRAMES, height, width)
    canonical = cams.with_poses(g.canonicalize(cams.c2w, 0))
    out_bytes = N_FRAMES * 3 * height * width * 4
    bound, copy_bw = copy_bounds((N_FRAMES, 3, height, width), repeats=repeats)

    # Raxels: allocating (against clone, which also allocates) and into a preallocated output (against copy_).
    make = lambda: g.raxels(canonical, height, width)                        # noqa: E731
    t_rax = median_time(make, repeats=repeats)
    rax = make()
    buffer = torch.empty_like(rax)
    t_rax_out = median_time(lambda: g.raxels(canonical, height, width, out=buffer), repeats=repeats)
    c2w_np, K_np = canonical.c2w.numpy(), canonical.K.numpy()
    t_rax_np = median_time(lambda: numpy_raxels(c2w_np, K_np, height, width), repeats=1 if big else 3)
    rax_diff = float(np.abs(numpy_raxels(c2w_np, K_np, height, width) - rax.numpy()).max())

    # Recovery (one round: exact for a shared camera, and what the NumPy reference does).
    recover = lambda: g.recover_cameras(rax, width=width, height=height, ref=0, iterations=1)  # noqa: E731
    t_rec = median_time(recover, repeats=2 if big else repeats)
    rec = recover()
    m = NUMPY_RECOVER_FRAMES[(height, width)]
    rax_np = rax.numpy()
    t0 = time.perf_counter()
    c2w_rec_np, f_np = numpy_recover(rax_np, m)
    t_rec_np = (time.perf_counter() - t0) * N_FRAMES / m
    pose_diff = float(np.abs(c2w_rec_np - rec.c2w[:m].double().numpy()).max())
    f_torch = rec.K[:m, [0, 1], [0, 1]].double().numpy()
    focal_diff = float((np.abs(f_np - f_torch) / f_torch).max())
    rot_err_gt = float(g.relative_rotation_angle_deg(rec.R, canonical.R).max())
    f_true = canonical.K[:m, [0, 1], [0, 1]].double().numpy()
    focal_err_gt = (float((np.abs(f_torch - f_true) / f_true).max()), float((np.abs(f_np - f_true) / f_true).max()))

    size = f"{width}x{height}"
    return [
        dict(size=size, step="raxels", t=t_rax, nbytes=out_bytes, bound=bound, clone=bound, copy=copy_bw,
             t_np=t_rax_np, np_note="", diff=f"{rax_diff:.1e} (raxels)"),
        dict(size=size, step="out=", t=t_rax_out, nbytes=out_bytes, bound=copy_bw, clone=bound, copy=copy_bw,
             t_np=t_rax_np, np_note="", diff="identical" if torch.equal(buffer, rax) else "DIFFERS"),
        dict(size=size, step="recover", t=t_rec, nbytes=out_bytes, bound=bound, clone=bound, copy=copy_bw,
             t_np=t_rec_np,
             np_note="" if m == N_FRAMES else f"*{m}fr",
             diff=f"{pose_diff:.1e} (c2w), {focal_diff:.1e} (f rel)", rot_err_gt=rot_err_gt,
             focal_err_gt=focal_err_gt),
    ]


def print_table(rows: list[dict]) -> None:
    head = (f"{'size':>8} {'step':>8} {'torch ms':>9} {'frames/s':>9} {'GB/s':>6} {'clone GB/s':>10} "
            f"{'% bound':>7} {'copy_ GB/s':>10} {'numpy ms':>12} {'speed-up':>8}  max |numpy - torch|")
    print(head)
    print("-" * len(head))
    for r in rows:
        gbs, bound = r["nbytes"] / r["t"] / 1e9, r["bound"] / 1e9           # bound: clone, or copy_ for out=
        numpy_ms = f"{r['np_note']} {r['t_np'] * 1e3:.0f}".strip()
        print(f"{r['size']:>8} {r['step']:>8} {r['t'] * 1e3:9.1f} {N_FRAMES / r['t']:9.1f} {gbs:6.2f} "
              f"{r['clone'] / 1e9:10.2f} {100 * gbs / bound:6.1f}% {r['copy'] / 1e9:10.2f} {numpy_ms:>12} "
              f"{r['t_np'] / r['t']:7.1f}x  {r['diff']}")


def main() -> None:
    torch.manual_seed(0)
    print(f"Raxel geometry benchmark: {N_FRAMES} frames, float32, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, {platform.processor() or platform.machine()}, "
          f"load average {os.getloadavg()[0]:.1f} (other processes skew the times)")
    t0 = time.perf_counter()
    rows: list[dict] = []
    for h, w in SIZES:
        rows += bench_size(h, w)
    print()
    print_table(rows)
    print()
    print("GB/s: bytes of raxels (N x 3 x H x W float32) written by `raxels`, or read by `recover`, per second;")
    print("      clone GB/s: the same bytes written by torch.clone of a tensor that size (the bandwidth bound;")
    print("      a clone also reads them, so the copy moves twice that). clone allocates its output like raxels")
    print("      does; copy_ GB/s writes into an existing tensor: the gap between the two is first-touch page faults.")
    print("% bound: against clone, except the `out=` row (raxels into a preallocated buffer), against copy_;")
    print("      its numpy ms and speed-up are the allocating NumPy loop's.")
    print("recover: recover_cameras(ref=0, iterations=1, principal_point='center'); numpy ms is the per-frame")
    print("      Kabsch (np.linalg.svd) + median-of-ratios focal loop; '*Nfr' = timed on the first N frames and")
    print(f"      scaled to {N_FRAMES}, agreement checked on those frames.")
    worst = max(r["rot_err_gt"] for r in rows if "rot_err_gt" in r)
    f_torch, f_np = (max(r["focal_err_gt"][i] for r in rows if "focal_err_gt" in r) for i in (0, 1))
    print(f"Recovered vs true focal lengths (relative): torch {f_torch:.1e}, NumPy {f_np:.1e} (the float32 NumPy")
    print("      loop's own rounding is most of max |numpy - torch| at full resolution).")
    print(f"Recovered vs true rotations: max error {worst:.1e} deg. Total run {time.perf_counter() - t0:.0f} s, "
          f"load average now {os.getloadavg()[0]:.1f}.")


if __name__ == "__main__":
    main()
