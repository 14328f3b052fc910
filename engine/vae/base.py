"""The shared video autoencoder: one interface for RGB videos and raxel images alike.

Shapes (Wan 2.1 layout, paper "Data and notation")
    video     (B, 3, T, H, W) in [-1, 1], T = 1 + tf * k          (tf = temporal factor, 4 for Wan)
    latents   (B, C, 1 + k, H / f, W / f)                         (f = spatial factor)
    images    (..., 3, H, W)      -> (..., C, H / f, W / f)       each image alone, no temporal compression

The first frame gets a latent frame of its own and every later group of ``tf`` frames shares one, so a
video of ``1 + tf * k`` frames has ``1 + k`` latent frames. A single image is encoded like the first
frame of a video. Source images and sparse targets go through the image path (paper: "encoded one by
one, without temporal compression"); the target video and its raxel video through the video path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

import torch

if TYPE_CHECKING:
    from engine.config import VAEConfig


@runtime_checkable
class VideoAutoencoder(Protocol):
    """What the model, trainer and sampler may rely on, whatever autoencoder sits behind it."""

    latent_channels: int       # C of one latent frame
    spatial_factor: int        # f: pixels per latent cell along H and W
    temporal_factor: int       # tf: frames per latent frame after the first

    def encode_video(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, T, H, W) in [-1, 1], T = 1 + tf * k -> (B, C, 1 + k, H / f, W / f)."""
        ...

    def decode_video(self, z: torch.Tensor) -> torch.Tensor:
        """(B, C, 1 + k, h, w) -> (B, 3, 1 + tf * k, h * f, w * f)."""
        ...

    def encode_images(self, x: torch.Tensor) -> torch.Tensor:
        """(..., 3, H, W) in [-1, 1] -> (..., C, H / f, W / f), each image alone."""
        ...

    def decode_images(self, z: torch.Tensor) -> torch.Tensor:
        """(..., C, h, w) -> (..., 3, h * f, w * f)."""
        ...


# --------------------------------------------------------------------------------------
# Frame counts
# --------------------------------------------------------------------------------------

def num_latent_frames(num_frames: int, temporal_factor: int = 4) -> int:
    """Latent frames of a ``1 + tf * k`` frame video: ``1 + k``. Raises for other counts."""
    _check_frame_count(num_frames, temporal_factor, "video")
    return 1 + (num_frames - 1) // temporal_factor


def num_video_frames(num_latent: int, temporal_factor: int = 4) -> int:
    """Frames decoded from ``1 + k`` latent frames: ``1 + tf * k``."""
    if num_latent < 1:
        raise ValueError(f"need at least one latent frame, got {num_latent}")
    return 1 + temporal_factor * (num_latent - 1)


def nearest_valid_frame_counts(num_frames: int, temporal_factor: int = 4) -> tuple[int, ...]:
    """The valid counts ``1 + tf * k`` just below and above ``num_frames`` (one value if below 1)."""
    if num_frames < 1:
        return (1,)
    below = 1 + temporal_factor * ((num_frames - 1) // temporal_factor)
    return (below,) if below == num_frames else (below, below + temporal_factor)


def _check_frame_count(num_frames: int, temporal_factor: int, name: str) -> None:
    if num_frames < 1 or (num_frames - 1) % temporal_factor:
        near = " or ".join(str(n) for n in nearest_valid_frame_counts(num_frames, temporal_factor))
        raise ValueError(f"{name}: T = {num_frames} frames, but the autoencoder needs 1 + {temporal_factor}k frames "
                         f"(the first frame alone, then groups of {temporal_factor}); nearest valid: {near}")


# --------------------------------------------------------------------------------------
# Input checks (shared by every implementation, so all fail the same way at the edge)
# --------------------------------------------------------------------------------------

def _check_float_finite(x: torch.Tensor, name: str) -> None:
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{name}: expected a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise ValueError(f"{name}: expected a floating tensor, got {x.dtype}")
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name}: contains {int((~torch.isfinite(x)).sum())} NaN or infinite value(s)")


def _check_spatial(h: int, w: int, spatial_factor: int, name: str) -> None:
    if h < 1 or w < 1 or h % spatial_factor or w % spatial_factor:
        raise ValueError(f"{name}: H x W = {h} x {w} must be positive multiples of the spatial factor "
                         f"{spatial_factor} (e.g. {max(1, round(h / spatial_factor)) * spatial_factor} x "
                         f"{max(1, round(w / spatial_factor)) * spatial_factor})")


def check_video(x: torch.Tensor, *, spatial_factor: int = 1, temporal_factor: int = 4, name: str = "video") -> None:
    """Reject anything ``encode_video`` cannot take exactly.

    ``x`` must be a finite floating tensor (B, 3, T, H, W) with T = 1 + tf * k and H, W multiples of
    ``spatial_factor``. Other T matter most: diffusers' Wan VAE silently drops trailing frames.
    """
    _check_float_finite(x, name)
    if x.ndim != 5 or x.shape[1] != 3:
        raise ValueError(f"{name}: expected (B, 3, T, H, W), got shape {tuple(x.shape)}")
    _check_frame_count(x.shape[2], temporal_factor, name)
    _check_spatial(x.shape[3], x.shape[4], spatial_factor, name)


def check_images(x: torch.Tensor, *, spatial_factor: int = 1, name: str = "images") -> None:
    """``x`` must be a finite floating tensor (..., 3, H, W), H and W multiples of ``spatial_factor``."""
    _check_float_finite(x, name)
    if x.ndim < 3 or x.shape[-3] != 3:
        raise ValueError(f"{name}: expected (..., 3, H, W), got shape {tuple(x.shape)}")
    _check_spatial(x.shape[-2], x.shape[-1], spatial_factor, name)


def check_latents(z: torch.Tensor, *, channels: int, video: bool, name: str = "latents") -> None:
    """Latents for ``decode_video`` (B, C, n, h, w) or ``decode_images`` (..., C, h, w), finite, C = ``channels``."""
    _check_float_finite(z, name)
    if video:
        ok = z.ndim == 5 and z.shape[1] == channels and z.shape[2] >= 1
        want = f"(B, {channels}, n, h, w)"
    else:
        ok = z.ndim >= 3 and z.shape[-3] == channels
        want = f"(..., {channels}, h, w)"
    if not ok or z.shape[-1] < 1 or z.shape[-2] < 1:
        raise ValueError(f"{name}: expected {want}, got shape {tuple(z.shape)}")


# --------------------------------------------------------------------------------------
# Factory
# --------------------------------------------------------------------------------------

def build_vae(cfg: "VAEConfig", *, device: torch.device | str | None = None,
              dtype: torch.dtype | None = None) -> VideoAutoencoder:
    """The autoencoder a ``VAEConfig`` names: ``"patch"`` (exact, parameter-free) or ``"wan"`` (local weights)."""
    from .patch import PatchVAE
    from .wan import WanVAE

    if cfg.kind == "patch":
        vae: VideoAutoencoder = PatchVAE(patch_size=cfg.patch_size, temporal_factor=cfg.temporal_factor)
    elif cfg.kind == "wan":
        if not cfg.path:
            raise ValueError("VAEConfig.kind is 'wan' but VAEConfig.path is not set: give the local directory "
                             "of a diffusers AutoencoderKLWan (nothing is downloaded)")
        if cfg.temporal_factor != 4:
            raise ValueError(f"the Wan VAE groups frames by 4; VAEConfig.temporal_factor is {cfg.temporal_factor}")
        vae = WanVAE.from_pretrained(cfg.path, dtype=dtype)
    else:
        raise ValueError(f"VAEConfig.kind must be 'patch' or 'wan', got {cfg.kind!r}")
    if device is not None or dtype is not None:
        vae = vae.to(device=device, dtype=dtype)  # type: ignore[attr-defined]  (both are nn.Modules)
    return vae
