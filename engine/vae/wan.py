"""``WanVAE``: the Wan 2.1 video autoencoder (diffusers' ``AutoencoderKLWan``) behind ``VideoAutoencoder``.

Loaded from a local directory only (nothing is downloaded). Three things it adds to the bare model:
    * T is validated first: diffusers silently drops frames beyond the last full group of 4.
    * latents are normalised with the checkpoint's own statistics, ``(z - latents_mean) / latents_std``,
      so the diffusion model sees roughly unit-variance latents (the inverse is applied on decode);
    * the posterior mode (not a sample) is used, so encoding is deterministic.
Its decoder clamps to [-1, 1]; that is why ray images are range-mapped before they get here
(``engine.camera_codec``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn

from .base import check_images, check_latents, check_video

if TYPE_CHECKING:
    from diffusers import AutoencoderKLWan


def _at_least_float32(z: torch.Tensor) -> torch.Tensor:
    # Statistics in bf16/fp16 would round them; float64 latents keep their precision.
    return z.to(torch.promote_types(z.dtype, torch.float32))


class WanVAE(nn.Module):
    """Wraps a loaded ``AutoencoderKLWan``; frozen (the paper fine-tunes the transformer, not the VAE).

    Attributes:
        model: the diffusers autoencoder.
        latents_mean, latents_std: (1, C, 1, 1, 1) float32 buffers from the model's config.
    """

    latents_mean: torch.Tensor
    latents_std: torch.Tensor

    def __init__(self, model: "AutoencoderKLWan") -> None:
        super().__init__()
        cfg = model.config
        self.model = model.eval().requires_grad_(False)
        self.latent_channels = int(cfg.z_dim)
        # Each encoder stage but the last halves H and W; Wan 2.2-style checkpoints also patchify first.
        self.spatial_factor = 2 ** (len(cfg.dim_mult) - 1) * int(cfg.patch_size or 1)
        self.temporal_factor = 2 ** sum(bool(b) for b in cfg.temperal_downsample)  # (sic) diffusers' spelling
        if self.temporal_factor != 4:
            # diffusers encodes frame 0 and then chunks of exactly 4 frames; any other factor breaks that.
            raise ValueError(f"WanVAE: expected 4x temporal compression, the config gives {self.temporal_factor}x "
                             f"(temperal_downsample={list(cfg.temperal_downsample)})")
        stats = {}
        for name in ("latents_mean", "latents_std"):
            values = getattr(cfg, name, None)
            if values is None or len(values) != self.latent_channels:
                raise ValueError(f"WanVAE: config.{name} must list {self.latent_channels} values (z_dim), "
                                 f"got {None if values is None else len(values)}")
            stats[name] = torch.tensor(values, dtype=torch.float32).view(1, -1, 1, 1, 1)
        if bool((stats["latents_std"] <= 0).any()):
            raise ValueError("WanVAE: config.latents_std must be positive")
        self.register_buffer("latents_mean", stats["latents_mean"], persistent=False)
        self.register_buffer("latents_std", stats["latents_std"], persistent=False)

    @classmethod
    def from_pretrained(cls, path: str | Path, *, subfolder: str | None = None,
                        dtype: torch.dtype | None = None) -> "WanVAE":
        """Load from a local diffusers directory: the VAE folder itself, or a pipeline folder with ``vae/``.

        Raises:
            FileNotFoundError: the directory or its ``config.json`` does not exist.
        """
        root = Path(path).expanduser()
        if not root.is_dir():
            raise FileNotFoundError(f"WanVAE: no directory at {str(root)!r}; give the local folder of a diffusers "
                                    "AutoencoderKLWan (weights are never downloaded)")
        if subfolder is None and not (root / "config.json").is_file() and (root / "vae" / "config.json").is_file():
            subfolder = "vae"                                       # a whole Wan pipeline folder was given
        folder = root / subfolder if subfolder else root
        if not (folder / "config.json").is_file():
            raise FileNotFoundError(f"WanVAE: {str(folder)!r} has no config.json; expected a folder written by "
                                    "AutoencoderKLWan.save_pretrained (or a pipeline folder with vae/config.json)")
        from diffusers import AutoencoderKLWan  # deferred: importing diffusers costs seconds

        kwargs = {"local_files_only": True}
        if subfolder:
            kwargs["subfolder"] = subfolder
        if dtype is not None:
            kwargs["torch_dtype"] = dtype
        model = AutoencoderKLWan.from_pretrained(str(root), **kwargs)
        if model.__class__.__name__ != "AutoencoderKLWan":
            raise ValueError(f"WanVAE: {str(folder)!r} holds a {model.__class__.__name__}, not an AutoencoderKLWan")
        return cls(model)

    # ---- normalisation -------------------------------------------------------------------

    def normalize(self, z: torch.Tensor) -> torch.Tensor:
        """Raw posterior latents -> model latents: ``(z - mean) / std`` per channel (B, C, n, h, w)."""
        return (_at_least_float32(z) - self.latents_mean) / self.latents_std

    def denormalize(self, z: torch.Tensor) -> torch.Tensor:
        """Model latents -> raw latents for the decoder: ``z * std + mean``."""
        return _at_least_float32(z) * self.latents_std + self.latents_mean

    @property
    def _model_dtype(self) -> torch.dtype:
        return next(self.model.parameters()).dtype

    # ---- video ---------------------------------------------------------------------------

    def encode_video(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, T, H, W) in [-1, 1], T = 1 + 4k -> normalised latents (B, C, 1 + k, H / f, W / f)."""
        check_video(x, spatial_factor=self.spatial_factor, temporal_factor=self.temporal_factor)
        raw = self.model.encode(x.to(self._model_dtype)).latent_dist.mode()   # mode: deterministic
        return self.normalize(raw).to(x.dtype)

    def decode_video(self, z: torch.Tensor) -> torch.Tensor:
        """Normalised latents (B, C, 1 + k, h, w) -> (B, 3, 1 + 4k, h * f, w * f), clamped to [-1, 1]."""
        check_latents(z, channels=self.latent_channels, video=True)
        raw = self.denormalize(z).to(self._model_dtype)
        return self.model.decode(raw).sample.to(z.dtype)

    # ---- images: one-frame videos, so no temporal mixing between them ----------------------

    def encode_images(self, x: torch.Tensor) -> torch.Tensor:
        """(..., 3, H, W) -> (..., C, H / f, W / f)."""
        check_images(x, spatial_factor=self.spatial_factor)
        lead = x.shape[:-3]
        z = self.encode_video(x.reshape(-1, *x.shape[-3:]).unsqueeze(2))       # (M, C, 1, h, w)
        return z[:, :, 0].reshape(*lead, *z.shape[1:2], *z.shape[3:])

    def decode_images(self, z: torch.Tensor) -> torch.Tensor:
        """(..., C, h, w) -> (..., 3, h * f, w * f)."""
        check_latents(z, channels=self.latent_channels, video=False)
        lead = z.shape[:-3]
        x = self.decode_video(z.reshape(-1, *z.shape[-3:]).unsqueeze(2))      # (M, 3, 1, H, W)
        return x[:, :, 0].reshape(*lead, *x.shape[1:2], *x.shape[3:])
