"""``PatchVAE``: an exact, parameter-free stand-in for the Wan VAE with the same frame grouping.

It lets the whole pipeline (model, training, sampling, pose recovery) run and be tested on a CPU
without pretrained weights, and makes ray images pass through the "autoencoder" losslessly, so any
camera error downstream is the model's, not the codec's.

Layout of one latent frame, C = tf * 3 * p * p channels ordered (slot, colour, row-in-patch, col-in-patch):
    latent frame 0      <- video frame 0, copied into all tf slots
    latent frame j >= 1 <- video frames 1 + tf (j - 1) ... tf j, one per slot
so it has Wan's grouping (``1 + tf * k`` frames -> ``1 + k`` latent frames) and every latent frame
has the same channel count. A single image is encoded like frame 0.
"""

from __future__ import annotations

import torch
from einops import rearrange, repeat
from torch import nn

from .base import check_images, check_latents, check_video


class PatchVAE(nn.Module):
    """Space-to-depth over ``patch_size`` x ``patch_size`` pixels and stacking of ``temporal_factor`` frames.

    ``decode(encode(x)) == x`` to float precision. Decoding a repeated group (latent frame 0, images)
    takes the mean of its copies: exact when they are identical, and the natural estimate when a
    model predicts them with independent errors.
    """

    def __init__(self, patch_size: int = 4, temporal_factor: int = 4) -> None:
        super().__init__()
        if int(patch_size) != patch_size or patch_size < 1:
            raise ValueError(f"PatchVAE: patch_size must be a positive integer, got {patch_size}")
        if int(temporal_factor) != temporal_factor or temporal_factor < 1:
            raise ValueError(f"PatchVAE: temporal_factor must be a positive integer, got {temporal_factor}")
        self.patch_size = int(patch_size)
        self.spatial_factor = int(patch_size)
        self.temporal_factor = int(temporal_factor)
        self.latent_channels = 3 * self.patch_size * self.patch_size * self.temporal_factor

    def extra_repr(self) -> str:
        return f"patch_size={self.patch_size}, temporal_factor={self.temporal_factor}, " \
               f"latent_channels={self.latent_channels}"

    # ---- video ---------------------------------------------------------------------------

    def encode_video(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, T, H, W), T = 1 + tf * k -> (B, C, 1 + k, H / p, W / p)."""
        check_video(x, spatial_factor=self.spatial_factor, temporal_factor=self.temporal_factor)
        tf, p = self.temporal_factor, self.patch_size
        # Frame 0 fills a whole group of tf slots, so every latent frame has the same channel count.
        first = x[:, :, :1].expand(-1, -1, tf, -1, -1)
        grouped = torch.cat([first, x[:, :, 1:]], dim=2)                      # (B, 3, tf (1 + k), H, W)
        return rearrange(grouped, "b c (n s) (h p1) (w p2) -> b (s c p1 p2) n h w", s=tf, p1=p, p2=p)

    def decode_video(self, z: torch.Tensor) -> torch.Tensor:
        """(B, C, 1 + k, h, w) -> (B, 3, 1 + tf * k, h * p, w * p)."""
        check_latents(z, channels=self.latent_channels, video=True)
        tf, p = self.temporal_factor, self.patch_size
        slots = rearrange(z, "b (s c p1 p2) n h w -> b c n s (h p1) (w p2)", s=tf, p1=p, p2=p)
        first = slots[:, :, 0].mean(dim=2, keepdim=True)                     # (B, 3, 1, H, W): mean of copies
        rest = rearrange(slots[:, :, 1:], "b c n s hh ww -> b c (n s) hh ww")  # (B, 3, tf k, H, W)
        return torch.cat([first, rest], dim=2)

    # ---- images --------------------------------------------------------------------------

    def encode_images(self, x: torch.Tensor) -> torch.Tensor:
        """(..., 3, H, W) -> (..., C, H / p, W / p); equal to ``encode_video`` of a one-frame video."""
        check_images(x, spatial_factor=self.spatial_factor)
        p = self.patch_size
        return repeat(x, "... c (h p1) (w p2) -> ... (s c p1 p2) h w", s=self.temporal_factor, p1=p, p2=p)

    def decode_images(self, z: torch.Tensor) -> torch.Tensor:
        """(..., C, h, w) -> (..., 3, h * p, w * p): mean over the copies in the tf slots."""
        check_latents(z, channels=self.latent_channels, video=False)
        p = self.patch_size
        slots = rearrange(z, "... (s c p1 p2) h w -> ... s c (h p1) (w p2)", s=self.temporal_factor, p1=p, p2=p)
        return slots.mean(dim=-4)
