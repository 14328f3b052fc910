"""JointPipeline: the autoencoder, the ray packing and JointDiT behind one object.

It turns pixel-space clips (video frames, ray images, conditioning frame indices) into the model's
latent streams and back. Training (``engine.objective``) and inference (``engine.tasks``) both go
through it, so both see exactly the same tensors.

Ray images reach the model in one of two ways (``ModelConfig.camera_encoding``):
    raxel    3-channel raxel images through the same video autoencoder as RGB (the paper);
    plucker  6-channel Plücker images packed parameter-free onto the latent grid (space-to-depth, as
             ``PatchVAE``) and embedded by an MLP in the model, skipping the autoencoder (the ablation).
"""

from __future__ import annotations

import math

import torch
from einops import rearrange
from torch import nn

from geometry import Cameras, canonicalize, plane_warp

from .camera_codec import ray_images_to_videos, videos_to_ray_images
from .config import EngineConfig
from .model import JointDiT
from .vae import PatchVAE, VideoAutoencoder, build_vae


class JointPipeline(nn.Module):
    """Model + autoencoder for one ``EngineConfig``."""

    def __init__(self, cfg: EngineConfig, *, model: JointDiT | None = None, vae: VideoAutoencoder | None = None):
        super().__init__()
        self.cfg = cfg
        self.vae = vae if vae is not None else build_vae(cfg.vae)
        self.encoding = cfg.model.camera_encoding
        if self.encoding == "plucker":
            self.ray_packer: VideoAutoencoder = PatchVAE(self.vae.spatial_factor, self.vae.temporal_factor)
            ray_channels = 2 * self.ray_packer.latent_channels             # directions + moments
        else:
            self.ray_packer = self.vae
            ray_channels = self.vae.latent_channels
        if cfg.model.latent_channels != self.vae.latent_channels:
            raise ValueError(f"model expects {cfg.model.latent_channels} latent channels, the "
                             f"{cfg.vae.kind} autoencoder gives {self.vae.latent_channels}")
        self.model = model if model is not None else JointDiT(cfg.model, ray_channels=ray_channels,
                                                              temporal_factor=self.vae.temporal_factor)

    # ---- geometry of a clip --------------------------------------------------------------------

    @property
    def image_size(self) -> tuple[int, int]:
        """(height, width) of the model's frames."""
        return self.cfg.clip.height, self.cfg.clip.width

    @property
    def ray_grid(self) -> tuple[int, int]:
        """(height, width) of the ray images: the frame size divided by ``raxel_downsample``."""
        ds = self.cfg.model.raxel_downsample
        return self.cfg.clip.height // ds, self.cfg.clip.width // ds

    @property
    def temporal_factor(self) -> int:
        return self.vae.temporal_factor

    def cond_positions(self, cond_idx: torch.Tensor) -> torch.Tensor:
        """Frame indices (B, M) -> latent frame positions: pixel frame f sits at f / temporal_factor
        (a latent frame ends on frame 4j, where Wan's causal encoder has seen its whole group)."""
        return cond_idx.to(torch.float32) / self.temporal_factor

    # ---- pixels <-> latents -------------------------------------------------------------------

    def encode_video(self, video: torch.Tensor) -> torch.Tensor:
        """(B, 3, T, H, W) in [-1, 1] -> (B, C, F, h, w)."""
        return self.vae.encode_video(video)

    def decode_video(self, z: torch.Tensor) -> torch.Tensor:
        return self.vae.decode_video(z)

    def encode_frames(self, frames: torch.Tensor) -> torch.Tensor:
        """(B, M, 3, H, W) images encoded one by one -> (B, M, C, h, w)."""
        return self.vae.encode_images(frames)

    def encode_rays(self, rays: torch.Tensor) -> torch.Tensor:
        """Ray images of a clip (B, T, Cray, Hr, Wr) -> ray latents (B, Cr, F, hr, wr)."""
        z = self.ray_packer.encode_video(ray_images_to_videos(rays))       # (B * groups, c, F, hr, wr)
        return rearrange(z, "(b g) c f h w -> b (g c) f h w", b=rays.shape[0])

    def decode_rays(self, z: torch.Tensor) -> torch.Tensor:
        """Ray latents (B, Cr, F, hr, wr) -> ray images (B, T, Cray, Hr, Wr)."""
        groups = 2 if self.encoding == "plucker" else 1
        videos = self.ray_packer.decode_video(rearrange(z, "b (g c) f h w -> (b g) c f h w", g=groups))
        return videos_to_ray_images(videos, encoding=self.encoding)

    def encode_ray_frames(self, rays: torch.Tensor) -> torch.Tensor:
        """Ray images of single frames (B, M, Cray, Hr, Wr) -> (B, M, Cr, hr, wr)."""
        z = self.ray_packer.encode_images(rearrange(rays, "b m (g c) h w -> b m g c h w", c=3))
        return rearrange(z, "b m g c h w -> b m (g c) h w")

    # ---- frozen image descriptors (ModelConfig.xfeat_features) ---------------------------------------

    def features(self, *, video: torch.Tensor | None = None, cond_frames: torch.Tensor | None = None,
                 num_slots: int | None = None) -> dict[str, torch.Tensor] | None:
        """Frozen features of the clean frames on the latent grid, for the model's ``features``; None when
        the model takes none: XFeat descriptors (``xfeat_features``) and the clip's local-motion histograms
        (``motion_features``: "motion"). video: (B, 3, T, H, W) in [-1, 1] (the whole clip, when it is
        given); cond_frames: (B, S, 3, H, W) images of the first S conditioning slots (the others,
        ``num_slots`` in all, get zeros: they are noised). Absent parts are left to the model (zeros)."""
        m = self.cfg.model
        if not (m.xfeat_features or m.motion_features):
            return None
        out: dict[str, torch.Tensor] = {}
        tf = self.vae.temporal_factor
        if m.motion_features and video is not None:
            from .model.correlation import MOTION_RADIUS, displacements, video_correlation

            # Relative to a uniform histogram (1 = as likely as any displacement): O(1) per channel, like the
            # latents beside it. As raw probabilities (about 0.02) a zero-initialised embedding trained with
            # Adam barely moved in 400 steps (session 21, F1).
            out["motion"] = video_correlation(video, patch=self.vae.spatial_factor,
                                              temporal_factor=tf) * displacements(MOTION_RADIUS)
        if not m.xfeat_features:
            return out
        from .model.xfeat import image_features, video_features

        h, w = self.image_size[0] // self.vae.spatial_factor, self.image_size[1] // self.vae.spatial_factor
        if video is not None:
            out["video"] = video_features(video, (h, w), tf)
        if cond_frames is not None:
            f = image_features(cond_frames, (h, w), tf)
            missing = (num_slots or f.shape[1]) - f.shape[1]
            if missing > 0:
                f = torch.cat([f, f.new_zeros(f.shape[0], missing, *f.shape[2:])], 1)
            out["cond_video"] = f
        return out

    # ---- the warped reference frame (ModelConfig.warped_reference) -----------------------------------

    def reference_warp(self, reference: torch.Tensor, K_ref: torch.Tensor, c2w_ref: torch.Tensor,
                       K: torch.Tensor, c2w: torch.Tensor) -> torch.Tensor | None:
        """The reference frame warped into every camera of a clip with the scene at infinity, or on the plane
        at ``ModelConfig.guide_depth`` (``geometry.warp``), and its validity mask, encoded like a clip: the
        model's ``guide``; None when the model takes none.

        reference: (B, 3, H, W) in [-1, 1]; K_ref (B, 3, 3), c2w_ref (B, 4, 4) its camera; K (B, T, 3, 3),
        c2w (B, T, 4, 4) the clip's cameras (model-grid pixels). Returns (B, 2 C, F, h, w): the latents of the
        warped frames, with the reference's own pixels where it does not see (the classical answer,
        ``engine.baselines.warp``), then the mask's (1 warped, -1 copied).
        """
        if not self.cfg.model.warped_reference:
            return None
        depth = self.cfg.model.guide_depth or math.inf
        filled, valid = plane_warp(reference.float(), K_ref.float(), c2w_ref.float(), K.float(), c2w.float(),
                                   depth=depth, unseen="source")         # (B, T, 3, H, W), (B, T, 1, H, W)
        mask = (2 * valid - 1).expand_as(filled)
        z = self.encode_video(torch.cat([filled, mask]).transpose(1, 2).to(reference.dtype))
        return torch.cat(z.chunk(2), 1)

    def reference_warp_along(self, reference: torch.Tensor, cameras: Cameras, ref: int) -> torch.Tensor | None:
        """``reference_warp`` of one image (3, H, W), the view of ``cameras[ref]``, into the cameras (T,) of a
        path on the model grid: (1, 2 C, F, h, w), or None when the model takes no guide."""
        if not self.cfg.model.warped_reference:
            return None
        c2w = canonicalize(cameras.c2w.to(torch.float64), ref).to(reference)[None]
        K = cameras.K.to(reference)[None]
        return self.reference_warp(reference[None], K[:, ref], c2w[:, ref], K, c2w)

    @staticmethod
    def slot_frames(video: torch.Tensor, cond_idx: torch.Tensor) -> torch.Tensor:
        """The frames of the conditioning slots: (B, 3, T, H, W), (B, M) -> (B, M, 3, H, W)."""
        b = torch.arange(video.shape[0], device=video.device)[:, None]
        return video.permute(0, 2, 1, 3, 4)[b, cond_idx]

    def clean_streams(self, video: torch.Tensor, rays: torch.Tensor,
                      cond_idx: torch.Tensor) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """Clean latents of every stream for a batch of clips.

        Args:
            video: (B, 3, T, H, W) frames in [-1, 1].
            rays: (B, T, Cray, Hr, Wr) ray images in [-1, 1], canonicalised to frame ``cond_idx[:, 0]``.
            cond_idx: (B, M) frame index of each conditioning slot; slot 0 is the reference frame.
        Returns:
            streams {"video", "rays", "cond_video", "cond_rays"} and cond_pos (B, M).
        """
        b = torch.arange(video.shape[0], device=video.device)[:, None]
        cond_frames = self.slot_frames(video, cond_idx)                     # (B, M, 3, H, W)
        cond_rays = rays[b, cond_idx]                                       # (B, M, Cray, Hr, Wr)
        streams = {"video": self.encode_video(video), "rays": self.encode_rays(rays),
                   "cond_video": self.encode_frames(cond_frames), "cond_rays": self.encode_ray_frames(cond_rays)}
        return streams, self.cond_positions(cond_idx)
