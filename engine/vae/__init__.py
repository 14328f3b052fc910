"""The shared video autoencoder (RGB and ray images use the same one).

``VideoAutoencoder`` is the interface; ``PatchVAE`` is exact and parameter-free (CPU tests, small
models); ``WanVAE`` wraps the pretrained Wan 2.1 VAE from a local folder. ``build_vae`` picks one from
a ``VAEConfig``.
"""

from .base import (VideoAutoencoder, build_vae, check_images, check_latents, check_video,
                   nearest_valid_frame_counts, num_latent_frames, num_video_frames)
from .patch import PatchVAE
from .wan import WanVAE

__all__ = [
    "VideoAutoencoder", "PatchVAE", "WanVAE", "build_vae",
    "check_video", "check_images", "check_latents",
    "num_latent_frames", "num_video_frames", "nearest_valid_frame_counts",
]
