"""Shared test builders: hypothesis strategies for random cameras, and a small random engine."""

from __future__ import annotations

import torch
from hypothesis import strategies as st

import geometry as g

BATCH_SHAPES = [(), (2,), (1, 2)]


def random_cameras(seed: int, batch: tuple[int, ...], n_frames: int, *, dtype=torch.float64,
                   fov_deg: tuple[float, float] = (20.0, 110.0), width: int = 96, height: int = 64,
                   shared_k: bool = False, off_centre: bool = True) -> g.Cameras:
    """Cameras of batch shape ``batch + (n_frames,)``: random rotations, translations in [-2, 2],
    vertical FOV in ``fov_deg``, per-axis focal ratio in [0.9, 1.1], principal point up to 10% off centre."""
    gen = torch.Generator().manual_seed(seed)
    shape = (*batch, n_frames)
    R = g.axis_angle_to_matrix(torch.randn(*shape, 3, generator=gen, dtype=dtype) * 1.2)
    t = (torch.rand(*shape, 3, generator=gen, dtype=dtype) * 4 - 2)
    k_shape = (*batch, 1) if shared_k else shape
    fov = torch.deg2rad(fov_deg[0] + torch.rand(k_shape, generator=gen, dtype=dtype) * (fov_deg[1] - fov_deg[0]))
    fy = g.fov_to_focal(fov, height)
    fx = fy * (0.9 + 0.2 * torch.rand(k_shape, generator=gen, dtype=dtype))
    jitter = (torch.rand(*k_shape, 2, generator=gen, dtype=dtype) - 0.5) * 0.2 if off_centre else torch.zeros(*k_shape, 2, dtype=dtype)
    cx = width / 2 + jitter[..., 0] * width
    cy = height / 2 + jitter[..., 1] * height
    K = g.intrinsics_matrix(fx, fy, cx, cy).expand(*shape, 3, 3)
    return g.Cameras(g.make_pose(R, t), K, width, height)


seeds = st.integers(min_value=0, max_value=2**31 - 1)
batch_shapes = st.sampled_from(BATCH_SHAPES)
fov_ranges = st.sampled_from([(60.0, 110.0), (15.0, 30.0), (30.0, 70.0)])
image_sizes = st.sampled_from([(96, 64), (64, 96), (80, 80), (104, 60)])


def max_rotation_error_deg(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(g.relative_rotation_angle_deg(a[..., :3, :3], b[..., :3, :3]).max())


def small_random_engine(num_frames: int, size: int):
    """A one-layer engine on ``size`` x ``size`` clips with random (non-zero) output layers: fast, and its
    outputs depend on inputs and noise, which an untrained zero-initialised head would hide."""
    import dataclasses

    from engine import ClipConfig, Engine, ModelConfig, preset
    from engine.pipeline import JointPipeline

    torch.manual_seed(0)
    cfg = dataclasses.replace(preset("tiny"), model=ModelConfig(dim=32, num_heads=2, num_layers=1, ffn_dim=64),
                              clip=ClipConfig(num_frames=num_frames, height=size, width=size, num_cond=3))
    pipe = JointPipeline(cfg)
    with torch.no_grad():
        for p in pipe.model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return Engine(pipe, device=torch.device("cpu"), dtype=torch.float32, source="test", trained=False)
