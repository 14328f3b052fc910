"""The joint transformer block: Decoupled Self-Cross Attention (DSCA) over a video and a ray stream.

Each stream has the layers of one Wan 2.1 block (AdaLN-modulated self-attention, optional text
cross-attention, AdaLN-modulated feed-forward) under the same parameter names, so the video stream
of a block loads a Wan block unchanged. DSCA adds, between self-attention and the text stage, a
symmetric cross-modal attention (video queries -> ray keys/values and the reverse) whose output
projection starts at zero: at initialisation the block is two independent copies of the video block.
"""

from __future__ import annotations

import torch
from diffusers.models.attention import FeedForward
from diffusers.models.normalization import FP32LayerNorm
from torch import nn

from ..config import ModelConfig
from .attention import Attention, Rope, joint_self_attention


class StreamLayers(nn.Module):
    """One modality's layers in one block (names as in diffusers' ``WanTransformerBlock``)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        d = cfg.dim
        self.norm1 = FP32LayerNorm(d, cfg.eps, elementwise_affine=False)
        self.attn1 = Attention(d, cfg.num_heads, eps=cfg.eps)
        if cfg.text_dim is not None:
            self.attn2 = Attention(d, cfg.num_heads, eps=cfg.eps)
            self.norm2 = FP32LayerNorm(d, cfg.eps, elementwise_affine=True) if cfg.cross_attn_norm else nn.Identity()
        self.ffn = FeedForward(d, inner_dim=cfg.ffn_dim, activation_fn="gelu-approximate")
        self.norm3 = FP32LayerNorm(d, cfg.eps, elementwise_affine=False)
        self.scale_shift_table = nn.Parameter(torch.randn(1, 6, d) / d**0.5)
        if cfg.attention == "dsca":
            self.norm_cross = FP32LayerNorm(d, cfg.eps, elementwise_affine=True)
            self.cross = Attention(d, cfg.num_heads, eps=cfg.eps)

    def modulation(self, temb: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Per-token AdaLN parameters from (B, L, 6, D) time projections: six (B, L, D) tensors."""
        return tuple(m.squeeze(2) for m in (self.scale_shift_table.unsqueeze(0) + temb.float()).chunk(6, dim=2))

    def pre_attention(self, x: torch.Tensor, mod: tuple[torch.Tensor, ...]) -> torch.Tensor:
        shift, scale = mod[0], mod[1]
        return (self.norm1(x.float()) * (1 + scale) + shift).type_as(x)

    def post_attention(self, x: torch.Tensor, attn_out: torch.Tensor, mod: tuple[torch.Tensor, ...]) -> torch.Tensor:
        return (x.float() + attn_out * mod[2]).type_as(x)

    def text_and_ffn(self, x: torch.Tensor, context: torch.Tensor | None, mod: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """Stages 3 (text cross-attention, Wan only) and 4 (feed-forward) of the block."""
        if context is not None:
            x = x + self.attn2(self.norm2(x.float()).type_as(x), context)
        c_shift, c_scale, c_gate = mod[3], mod[4], mod[5]
        h = (self.norm3(x.float()) * (1 + c_scale) + c_shift).type_as(x)
        return (x.float() + self.ffn(h).float() * c_gate).type_as(x)


class JointBlock(nn.Module):
    """DSCA (or, for the ablation, global attention) over aligned video and ray token streams."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.attention = cfg.attention
        self.video = StreamLayers(cfg)
        self.ray = StreamLayers(cfg)

    def forward(self, x_v: torch.Tensor, x_r: torch.Tensor | None, *, temb_v: torch.Tensor,
                temb_r: torch.Tensor | None, rope: Rope, context_v: torch.Tensor | None = None,
                context_r: torch.Tensor | None = None,
                self_mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """
        Args:
            x_v, x_r: (B, L, D) video and ray tokens; token i of both sits at the same position.
                ``x_r=None`` runs the video stream alone (a plain Wan block).
            temb_v, temb_r: (B, L, 6, D) per-token time projections of each modality.
            rope: shared cos/sin tables (1 or B, L, 1, head_dim).
            context_v, context_r: (B, Lt, D) embedded text context per stream (Wan only).
            self_mask: optional mask for the global-attention ablation (2L x 2L).
        """
        mod_v = self.video.modulation(temb_v)
        h_v = self.video.pre_attention(x_v, mod_v)
        if x_r is None:
            x_v = self.video.post_attention(x_v, self.video.attn1(h_v, rope_q=rope, rope_k=rope), mod_v)
            return self.video.text_and_ffn(x_v, context_v, mod_v), None

        mod_r = self.ray.modulation(temb_r)
        h_r = self.ray.pre_attention(x_r, mod_r)
        # 1. Self-attention: intra-modal (DSCA) or one softmax over both (global ablation).
        if self.attention == "dsca":
            a_v = self.video.attn1(h_v, rope_q=rope, rope_k=rope)
            a_r = self.ray.attn1(h_r, rope_q=rope, rope_k=rope)
        else:
            a_v, a_r = joint_self_attention(self.video.attn1, self.ray.attn1, h_v, h_r, rope=rope, mask=self_mask)
        x_v = self.video.post_attention(x_v, a_v, mod_v)
        x_r = self.ray.post_attention(x_r, a_r, mod_r)

        # 2. Symmetric cross-modal attention, both read from the same (pre-update) states.
        if self.attention == "dsca":
            n_v = self.video.norm_cross(x_v.float()).type_as(x_v)
            n_r = self.ray.norm_cross(x_r.float()).type_as(x_r)
            c_v = self.video.cross(n_v, n_r, rope_q=rope, rope_k=rope)
            c_r = self.ray.cross(n_r, n_v, rope_q=rope, rope_k=rope)
            x_v, x_r = x_v + c_v, x_r + c_r

        # 3-4. Text cross-attention and feed-forward, per stream.
        return self.video.text_and_ffn(x_v, context_v, mod_v), self.ray.text_and_ffn(x_r, context_r, mod_r)
