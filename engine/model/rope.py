"""3D rotary position embedding shared by both modalities.

Positions are (frame, row, column) on the latent token grid. A video token and the ray token at the
same (frame, row, column) get the identical rotation, which is what lets DSCA's cross-attention line
them up. Conditioning images sit at their own, possibly fractional, frame position. The frequency
layout is Wan 2.1's (head dim split t : h : w = d - 4(d//6) : 2(d//6) : 2(d//6), interleaved pairs),
so a Wan checkpoint sees exactly the positions it was trained with.
"""

from __future__ import annotations

import torch
from diffusers.models.embeddings import get_1d_rotary_pos_embed


def rope_axis_dims(head_dim: int) -> tuple[int, int, int]:
    """Per-axis rotary dims (t, h, w) of Wan's split."""
    hw = 2 * (head_dim // 6)
    return head_dim - 2 * hw, hw, hw


def rope_tables(positions: torch.Tensor, head_dim: int, theta: float = 10000.0) -> tuple[torch.Tensor, torch.Tensor]:
    """cos / sin tables for token positions.

    Args:
        positions: (L, 3) or (B, L, 3) float (frame, row, column) per token.
    Returns:
        cos, sin: (1 or B, L, 1, head_dim) float32, broadcastable over (batch, tokens, heads, head_dim).
    """
    pos = positions if positions.ndim == 3 else positions[None]
    flat = pos.reshape(-1, 3)
    cos_parts, sin_parts = [], []
    for axis, dim in enumerate(rope_axis_dims(head_dim)):
        c, s = get_1d_rotary_pos_embed(dim, flat[:, axis].to(torch.float64), theta, use_real=True,
                                       repeat_interleave_real=True, freqs_dtype=torch.float64)
        cos_parts.append(c)
        sin_parts.append(s)
    cos = torch.cat(cos_parts, -1).reshape(*pos.shape[:2], 1, head_dim)
    sin = torch.cat(sin_parts, -1).reshape(*pos.shape[:2], 1, head_dim)
    return cos, sin


def apply_rope(x: torch.Tensor, rope: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """Rotate interleaved pairs of ``x`` (B, L, heads, head_dim) by the tables (1, L, 1, head_dim)."""
    cos, sin = rope
    x1, x2 = x.unflatten(-1, (-1, 2)).unbind(-1)
    cos = cos[..., 0::2]
    sin = sin[..., 1::2]
    out = torch.stack([x1 * cos - x2 * sin, x1 * sin + x2 * cos], -1).flatten(-2)
    return out.type_as(x)


def grid_positions(frames: int, height: int, width: int, *, frame_offset: float | torch.Tensor = 0.0,
                   device: torch.device | str | None = None) -> torch.Tensor:
    """(frames * height * width, 3) positions of a token grid in (frame, row, column) raster order."""
    f = torch.arange(frames, dtype=torch.float64, device=device) + frame_offset
    h = torch.arange(height, dtype=torch.float64, device=device)
    w = torch.arange(width, dtype=torch.float64, device=device)
    ff, hh, ww = torch.meshgrid(f, h, w, indexing="ij")
    return torch.stack([ff, hh, ww], -1).reshape(-1, 3)
