"""Multi-head attention with Wan 2.1's parameter layout, RoPE on queries and keys, and SDPA.

One module serves three roles: intra-modal self-attention, DSCA's cross-modal attention (queries
from one modality, keys/values from the other, both rotated by the shared positions), and the text
cross-attention of Wan checkpoints (no RoPE). ``joint_self_attention`` is the ``attention="global"``
ablation: one softmax over the concatenated video + ray sequence, each modality keeping its own
projections so the two variants have the same parameters.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .rope import apply_rope

Rope = tuple[torch.Tensor, torch.Tensor]


class Attention(nn.Module):
    """Parameter names match diffusers' ``WanAttention`` (to_q, to_k, to_v, to_out.0, norm_q, norm_k)."""

    def __init__(self, dim: int, num_heads: int, *, eps: float = 1e-6, qk_norm: bool = True):
        super().__init__()
        self.num_heads = num_heads
        self.to_q = nn.Linear(dim, dim)
        self.to_k = nn.Linear(dim, dim)
        self.to_v = nn.Linear(dim, dim)
        self.to_out = nn.ModuleList([nn.Linear(dim, dim), nn.Dropout(0.0)])
        # Wan normalises q and k across all heads at once ("rms_norm_across_heads").
        self.norm_q = nn.RMSNorm(dim, eps=eps) if qk_norm else nn.Identity()
        self.norm_k = nn.RMSNorm(dim, eps=eps) if qk_norm else nn.Identity()

    def qkv(self, x: torch.Tensor, context: torch.Tensor | None = None, *,
            rope_q: Rope | None = None, rope_k: Rope | None = None) -> tuple[torch.Tensor, ...]:
        """Projected, normalised, rotated heads: q (B, heads, Lq, hd), k and v (B, heads, Lk, hd)."""
        context = x if context is None else context
        q = self.norm_q(self.to_q(x)).unflatten(-1, (self.num_heads, -1))          # (B, Lq, heads, hd)
        k = self.norm_k(self.to_k(context)).unflatten(-1, (self.num_heads, -1))
        v = self.to_v(context).unflatten(-1, (self.num_heads, -1))
        if rope_q is not None:
            q = apply_rope(q, rope_q)
        if rope_k is not None:
            k = apply_rope(k, rope_k)
        return q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)

    def project_out(self, heads: torch.Tensor) -> torch.Tensor:
        """(B, heads, L, hd) -> (B, L, dim)."""
        out = heads.transpose(1, 2).flatten(2)
        return self.to_out[1](self.to_out[0](out))

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None, *, rope_q: Rope | None = None,
                rope_k: Rope | None = None, mask: torch.Tensor | None = None) -> torch.Tensor:
        """x (B, Lq, dim), context (B, Lk, dim) or None for self-attention -> (B, Lq, dim)."""
        q, k, v = self.qkv(x, context, rope_q=rope_q, rope_k=rope_k)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return self.project_out(out.type_as(q))


def joint_self_attention(attn_a: Attention, attn_b: Attention, x_a: torch.Tensor, x_b: torch.Tensor, *,
                         rope: Rope, mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """One self-attention over the concatenation [a; b], each stream projected by its own weights.

    Args:
        x_a, x_b: (B, L, dim) aligned token streams (same positions ``rope``).
        mask: optional boolean (2L, 2L) or broadcastable, True = may attend.
    Returns:
        The attention outputs for a and b, (B, L, dim) each.
    """
    qa, ka, va = attn_a.qkv(x_a, rope_q=rope, rope_k=rope)
    qb, kb, vb = attn_b.qkv(x_b, rope_q=rope, rope_k=rope)
    L = x_a.shape[1]
    out = F.scaled_dot_product_attention(torch.cat([qa, qb], 2), torch.cat([ka, kb], 2), torch.cat([va, vb], 2),
                                         attn_mask=mask)
    return attn_a.project_out(out[:, :, :L].type_as(qa)), attn_b.project_out(out[:, :, L:].type_as(qb))


def block_diagonal_mask(length_a: int, length_b: int, device: torch.device | str | None = None) -> torch.Tensor:
    """Boolean mask over [a; b] allowing attention only within each stream."""
    n = length_a + length_b
    seg = torch.arange(n, device=device) >= length_a
    return seg[:, None] == seg[None, :]
