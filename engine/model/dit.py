"""JointDiT: one diffusion transformer that denoises video latents and ray latents together.

Token layout (identical for both modalities, so token i of each stream shares its RoPE position):

    [ target latent grid (F x h x w tokens, raster order) | conditioning slot 1 (h x w) | ... | slot M ]

Conditioning slot 1 always holds the reference frame that the cameras are canonicalised to (eq. 1);
a learnable reference embedding marks its tokens. (ours: the paper does not say how the model knows
the reference when every frame is clean, as in pose estimation.)

Target tokens sit at integer frame positions 0..F-1; conditioning images (clean sources and noised
sparse targets, encoded one by one) sit at their own frame position, possibly fractional
(pixel frame f -> latent position f / temporal_factor). Every token carries its own flow time, so a
clean source and a noisy target share one sequence.

Streams are passed as a dict (the sampler's state):
    "video": (B, C, F, h, w)       "cond_video": (B, M, C, h, w)
    "rays":  (B, Cr, F, hr, wr)    "cond_rays":  (B, M, Cr, hr, wr)
with times "video"/"rays" (B,) and "cond_video"/"cond_rays" (B, M), paper convention (t = 1 is data).
"""

from __future__ import annotations

import math

import torch
from diffusers.models.embeddings import PixArtAlphaTextProjection, TimestepEmbedding, Timesteps
from diffusers.models.normalization import FP32LayerNorm
from torch import nn

from ..config import ModelConfig
from .block import JointBlock
from .rope import grid_positions, rope_tables
from .xfeat import DESCRIPTOR_DIM as XFEAT_DIM
from .correlation import MOTION_RADIUS, displacements

STREAMS = ("video", "rays", "cond_video", "cond_rays")
POSITION_FREQUENCIES = 8    # sin-cos frequencies per image axis for the absolute position features
MIN_REMAINING_TIME = 0.05   # as JiT ("Back to Basics", Li & He 2025) for data prediction with a velocity loss


class TimeTextEmbedding(nn.Module):
    """Per-token time embedding (+ text projection for Wan). Names match diffusers' Wan embedder."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.timesteps_proj = Timesteps(num_channels=cfg.freq_dim, flip_sin_to_cos=True, downscale_freq_shift=0)
        self.time_embedder = TimestepEmbedding(in_channels=cfg.freq_dim, time_embed_dim=cfg.dim)
        self.act_fn = nn.SiLU()
        self.time_proj = nn.Linear(cfg.dim, cfg.dim * 6)
        if cfg.text_dim is not None:
            self.text_embedder = PixArtAlphaTextProjection(cfg.text_dim, cfg.dim, act_fn="gelu_tanh")

    def forward(self, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Paper times t (...) -> temb (..., D) and AdaLN projections (..., 6, D)."""
        # Wan was trained on diffusers' timesteps: 1000 * sigma with sigma = 1 - t.
        freqs = self.timesteps_proj((1.0 - t.reshape(-1)) * 1000.0)
        dtype = self.time_embedder.linear_1.weight.dtype
        temb = self.time_embedder(freqs.to(dtype)).reshape(*t.shape, -1)
        return temb, self.time_proj(self.act_fn(temb)).unflatten(-1, (6, -1))


class StreamIO(nn.Module):
    """One modality's entry and exit: patch embedding, time/text embedding, modality embedding, head."""

    def __init__(self, cfg: ModelConfig, in_channels: int, patch: tuple[int, int, int], *, mlp_embed: bool = False,
                 difference: bool = False, feature_channels: int = 0, guide_channels: int = 0):
        super().__init__()
        d = cfg.dim
        self.patch = patch
        self.in_channels = in_channels
        if mlp_embed:
            # Plücker ablation: the rays skip the VAE; a small MLP embeds the packed 6-channel patches.
            self.patch_embedding = nn.Sequential(nn.Conv3d(in_channels, d, kernel_size=patch, stride=patch),
                                                 nn.GELU(approximate="tanh"), nn.Conv3d(d, d, kernel_size=1))
        else:
            self.patch_embedding = nn.Conv3d(in_channels, d, kernel_size=patch, stride=patch)
        self.condition_embedder = TimeTextEmbedding(cfg)
        self.modality_embedding = nn.Parameter(torch.zeros(d))
        self.reference_embedding = nn.Parameter(torch.zeros(d))
        if cfg.absolute_position:
            self.position_embedding = nn.Linear(4 * POSITION_FREQUENCIES, d)
        if difference:
            # [z, z - z_ref]: the difference gets its own patch embedding (ModelConfig.frame_difference).
            self.difference_embedding = nn.Conv3d(in_channels, d, kernel_size=patch, stride=patch, bias=False)
        if feature_channels:
            # Frozen image descriptors of clean frames (ModelConfig.xfeat_features).
            self.feature_embedding = nn.Conv3d(feature_channels, d, kernel_size=patch, stride=patch)
        if guide_channels:
            # The reference frame warped into the target cameras, and its mask (ModelConfig.warped_reference).
            self.guide_embedding = nn.Conv3d(guide_channels, d, kernel_size=patch, stride=patch)
        self.norm_out = FP32LayerNorm(d, cfg.eps, elementwise_affine=False)
        self.proj_out = nn.Linear(d, in_channels * math.prod(patch))
        self.scale_shift_table = nn.Parameter(torch.randn(1, 2, d) / d**0.5)

    def embed(self, target: torch.Tensor, cond: torch.Tensor | None, *,
              reference: torch.Tensor | None = None,
              features: dict[str, torch.Tensor] | None = None,
              guide: torch.Tensor | None = None) -> tuple[torch.Tensor, tuple[int, int, int]]:
        """target (B, C, F, h, w), cond (B, M, C, h, w) -> tokens (B, L, D) and the target token grid.
        ``reference`` (B, C, h, w): with a difference embedding, every latent also enters as z - reference.
        ``features``: with a feature embedding, "video" (B, Cf, F, h, w) and "cond_video" (B, M, Cf, h, w)
        are added to the target's and the slots' tokens. ``guide`` (B, Cg, F, h, w): with a guide
        embedding, added to the target's tokens."""
        x = self.patch_embedding(target)                                  # (B, D, F', h', w')
        if reference is not None:
            x = x + self.difference_embedding(target - reference.unsqueeze(2))
        if features is not None:
            x = x + self.feature_embedding(features["video"].to(x.dtype))
        if guide is not None:
            x = x + self.guide_embedding(guide.to(x.dtype))
        grid = tuple(x.shape[2:])
        tokens = [x.flatten(2).transpose(1, 2)]
        if cond is not None and cond.shape[1] > 0:
            B, M = cond.shape[:2]
            if self.patch[0] != 1:
                raise ValueError("conditioning images need a temporal patch size of 1")
            c = self.patch_embedding(cond.flatten(0, 1).unsqueeze(2))      # (B*M, D, 1, h', w')
            if reference is not None:
                c = c + self.difference_embedding((cond - reference.unsqueeze(1)).flatten(0, 1).unsqueeze(2))
            if features is not None:
                c = c + self.feature_embedding(features["cond_video"].flatten(0, 1).unsqueeze(2).to(c.dtype))
            c = c.flatten(2).transpose(1, 2).unflatten(0, (B, M))          # (B, M, h'w', D)
            c = torch.cat([c[:, :1] + self.reference_embedding, c[:, 1:]], 1)
            tokens.append(c.flatten(1, 2))
        return torch.cat(tokens, 1).contiguous() + self.modality_embedding, grid

    def head(self, x: torch.Tensor, temb: torch.Tensor, grid: tuple[int, int, int],
             num_cond: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Tokens (B, L, D) -> target velocity (B, C, F, h, w) and conditioning velocity (B, M, C, h, w)."""
        shift, scale = (self.scale_shift_table.unsqueeze(0) + temb.unsqueeze(2)).chunk(2, dim=2)
        x = (self.norm_out(x.float()) * (1 + scale.squeeze(2)) + shift.squeeze(2)).type_as(x)
        x = self.proj_out(x)
        F_, h, w = grid
        pt, ph, pw = self.patch
        n_target = F_ * h * w
        B = x.shape[0]
        target = x[:, :n_target].reshape(B, F_, h, w, pt, ph, pw, -1).permute(0, 7, 1, 4, 2, 5, 3, 6)
        target = target.flatten(6, 7).flatten(4, 5).flatten(2, 3)
        cond = None
        if num_cond:
            c = x[:, n_target:].reshape(B, num_cond, h, w, ph, pw, -1).permute(0, 1, 6, 2, 4, 3, 5)
            cond = c.flatten(5, 6).flatten(3, 4)
        return target, cond


class JointDiT(nn.Module):
    """The joint video + camera diffusion transformer (paper section 3, DSCA blocks)."""

    def __init__(self, cfg: ModelConfig, *, ray_channels: int | None = None, temporal_factor: int = 4):
        super().__init__()
        if cfg.video_residual and cfg.prediction != "data":
            raise ValueError("model.video_residual needs model.prediction = \"data\" (it adds the reference "
                             "latent to a predicted clean latent)")
        if cfg.guide_depth is not None and not (cfg.warped_reference and cfg.guide_depth > 0):
            raise ValueError(f"model.guide_depth must be a positive depth and needs model.warped_reference, got "
                             f"{cfg.guide_depth} with warped_reference={cfg.warped_reference}")
        if cfg.video_prior_std is not None and (cfg.prediction != "data" or not cfg.video_prior_std > 0):
            raise ValueError(f"model.video_prior_std must be positive with model.prediction = \"data\", got "
                             f"{cfg.video_prior_std} with prediction {cfg.prediction!r}")
        self.cfg = cfg
        pt, ph, pw = cfg.patch_size
        ds = cfg.raxel_downsample
        if ph % ds or pw % ds:
            raise ValueError(f"raxel_downsample {ds} must divide the spatial patch size {cfg.patch_size}")
        self.ray_patch = (pt, ph // ds, pw // ds)
        # XFeat descriptors of every frame a latent frame covers (engine.model.xfeat).
        self.feature_channels = XFEAT_DIM * temporal_factor if cfg.xfeat_features else 0
        # The warped reference frame and its mask, each one latent video (engine.pipeline.reference_warp).
        self.guide_channels = 2 * cfg.latent_channels if cfg.warped_reference else 0
        self.video_io = StreamIO(cfg, cfg.latent_channels, cfg.patch_size, difference=cfg.frame_difference,
                                 feature_channels=self.feature_channels, guide_channels=self.guide_channels)
        self.ray_io = StreamIO(cfg, ray_channels or cfg.latent_channels, self.ray_patch,
                               mlp_embed=cfg.camera_encoding == "plucker")
        # Local-motion histograms of every frame a latent frame covers (engine.model.correlation), into the
        # ray tokens (ModelConfig.motion_features).
        self.motion_channels = displacements(MOTION_RADIUS) * temporal_factor if cfg.motion_features else 0
        if self.motion_channels:
            self.motion_embedding = nn.Conv3d(self.motion_channels, cfg.dim, kernel_size=cfg.patch_size,
                                              stride=cfg.patch_size)
        self.blocks = nn.ModuleList([JointBlock(cfg) for _ in range(cfg.num_layers)])
        if cfg.text_dim is not None:
            # Used when no text features are given: the model is camera-driven, not prompt-driven.
            self.null_context = nn.Parameter(torch.zeros(1, cfg.text_len, cfg.text_dim))
        self.initialize_weights()

    # ---- initialisation ----------------------------------------------------------------------

    def initialize_weights(self) -> None:
        """From-scratch init (DiT style); loading Wan weights overwrites the video stream afterwards."""
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Conv3d)):
                nn.init.xavier_uniform_(m.weight.view(m.weight.shape[0], -1))
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        for io in (self.video_io, self.ray_io):
            nn.init.normal_(io.condition_embedder.time_embedder.linear_1.weight, std=0.02)
            nn.init.normal_(io.condition_embedder.time_embedder.linear_2.weight, std=0.02)
            nn.init.zeros_(io.condition_embedder.time_proj.weight)
            nn.init.zeros_(io.proj_out.weight)
            if hasattr(io, "position_embedding") and self.cfg.position_init == "zero":
                nn.init.zeros_(io.position_embedding.weight)
        nn.init.normal_(self.ray_io.modality_embedding, std=0.02)
        for io in (self.video_io, self.ray_io):
            nn.init.normal_(io.reference_embedding, std=0.02)
        self.init_cross_attention_from_self()

    @torch.no_grad()
    def init_cross_attention_from_self(self) -> None:
        """DSCA's cross-modal attention starts as a copy of each stream's self-attention with a zero
        output projection, so a pretrained video model is unchanged at the start of fine-tuning."""
        for block in self.blocks:
            for stream in (block.video, block.ray):
                if hasattr(stream, "cross"):
                    stream.cross.load_state_dict(stream.attn1.state_dict())
                    nn.init.zeros_(stream.cross.to_out[0].weight)
                    nn.init.zeros_(stream.cross.to_out[0].bias)

    @torch.no_grad()
    def copy_video_to_ray_branch(self) -> None:
        """Paper init: every ray layer starts as a copy of the corresponding video layer. Where the ray
        entry/exit has another shape (Plücker, coarser raxel grid) that layer keeps its own init."""
        for block in self.blocks:
            block.ray.load_state_dict(block.video.state_dict())
        ray_state = self.ray_io.state_dict()
        for name, value in self.video_io.state_dict().items():
            if name in ("modality_embedding", "reference_embedding") or name.startswith("position_embedding"):
                continue
            if name in ray_state and ray_state[name].shape == value.shape:
                ray_state[name].copy_(value)

    # ---- forward -------------------------------------------------------------------------------

    def token_positions(self, grid: tuple[int, int, int], cond_pos: torch.Tensor | None) -> torch.Tensor:
        """(B or 1, L, 3) RoPE positions: the target grid, then each conditioning slot at its frame."""
        F_, h, w = grid
        target = grid_positions(F_, h, w)
        if cond_pos is None or cond_pos.shape[-1] == 0:
            return target[None]
        B, M = cond_pos.shape
        plane = grid_positions(1, h, w)                                   # (h*w, 3) at frame 0
        cond = plane[None, None].repeat(B, M, 1, 1)
        cond[..., 0] = cond_pos.to(torch.float64)[..., None] / self.cfg.patch_size[0]
        return torch.cat([target[None].expand(B, -1, -1), cond.reshape(B, M * h * w, 3)], 1)

    def _clean_features(self, features: dict[str, torch.Tensor] | None, video: torch.Tensor,
                        cond_video: torch.Tensor | None,
                        times: dict[str, torch.Tensor]) -> dict[str, torch.Tensor] | None:
        """The descriptors of clean frames only (noised ones would give a generation task its answer)."""
        if not self.feature_channels:
            return None
        B, _, F_, h, w = video.shape
        M = 0 if cond_video is None else cond_video.shape[1]
        zeros = video.new_zeros
        given = features or {}
        fv = given.get("video", zeros(B, self.feature_channels, F_, h, w))
        fc = given.get("cond_video", zeros(B, M, self.feature_channels, h, w))
        clean_v = (times["video"].reshape(-1) >= 1).to(fv.dtype).reshape(-1, 1, 1, 1, 1)
        out = {"video": fv * clean_v}
        if M:
            t_c = times.get("cond_video", times["video"].reshape(-1, 1).expand(-1, M))
            out["cond_video"] = fc * (t_c.reshape(B, M) >= 1).to(fc.dtype).reshape(B, M, 1, 1, 1)
        return out

    def _clean_motion(self, features: dict[str, torch.Tensor] | None, video: torch.Tensor,
                      times: dict[str, torch.Tensor]) -> torch.Tensor | None:
        """The clip's local-motion histograms (B, Cm, F, H', W') where the clip is clean, zeros elsewhere (a
        noised clip's motion would hand generation its answer); None for models without them."""
        if not self.motion_channels:
            return None
        B, _, F_, h, w = video.shape
        given = (features or {}).get("motion")
        if given is None:
            return video.new_zeros(B, self.motion_channels, F_, h, w)
        clean = (times["video"].reshape(-1) >= 1).to(given.dtype).reshape(-1, 1, 1, 1, 1)
        return given * clean

    def _given_guide(self, guide: torch.Tensor | None, video: torch.Tensor,
                     times: dict[str, torch.Tensor]) -> torch.Tensor | None:
        """The warped-reference guide where the cameras are given (rays clean), zeros elsewhere: with noised
        rays the target cameras are unknown, and a guide would hand the model their answer."""
        if not self.guide_channels:
            return None
        B, _, F_, h, w = video.shape
        if guide is None or "rays" not in times:
            return video.new_zeros(B, self.guide_channels, F_, h, w)
        return guide * self._cameras_given(times).to(guide.dtype)

    @staticmethod
    def _cameras_given(times: dict[str, torch.Tensor]) -> torch.Tensor:
        """(B, 1, 1, 1, 1) bool: the examples whose rays are clean, i.e. whose cameras are given."""
        return (times["rays"].reshape(-1) >= 1).reshape(-1, 1, 1, 1, 1)

    def _residual_base(self, reference: torch.Tensor, guide: torch.Tensor | None,
                       times: dict[str, torch.Tensor]) -> torch.Tensor:
        """What ``video_residual`` adds to the head's output, (B, C, 1 or F, h, w): the reference latent; with a
        warped-reference guide, where the cameras are given, the reference warped into each target camera."""
        base = reference.unsqueeze(2)
        if guide is None or not self.guide_channels or "rays" not in times:
            return base
        return torch.where(self._cameras_given(times), guide[:, :reference.shape[1]].to(base.dtype), base)

    @staticmethod
    def _segment_times(t_target: torch.Tensor, t_cond: torch.Tensor | None) -> torch.Tensor:
        """(B, 1 + M) times: tokens of one segment (the target grid, or one slot) share a time."""
        segs = [t_target.reshape(-1, 1)]
        if t_cond is not None and t_cond.shape[-1] > 0:
            segs.append(t_cond)
        return torch.cat(segs, 1)

    def _embed_times(self, io: StreamIO, seg_t: torch.Tensor, n_target: int, per_slot: int,
                     dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        temb, proj = io.condition_embedder(seg_t.to(torch.float32))      # (B, S, D), (B, S, 6, D)
        sizes = torch.tensor([n_target] + [per_slot] * (seg_t.shape[1] - 1), device=seg_t.device)
        idx = torch.repeat_interleave(torch.arange(seg_t.shape[1], device=seg_t.device), sizes)
        return temb[:, idx].to(dtype), proj[:, idx].to(dtype)

    def forward(self, streams: dict[str, torch.Tensor], times: dict[str, torch.Tensor], *,
                cond_pos: torch.Tensor | None = None, context: torch.Tensor | None = None,
                self_mask: torch.Tensor | None = None,
                features: dict[str, torch.Tensor] | None = None,
                guide: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Velocities for every stream given (see module docstring for shapes).

        Args:
            streams: "video" required; "rays" optional (absent = video stream alone, a plain Wan model);
                "cond_video" / "cond_rays" optional (B, M, ...).
            times: per-stream flow times, paper convention (1 = clean data).
            cond_pos: (B, M) frame position of each conditioning slot, in target latent frames.
            context: (B, Lt, text_dim) text features (Wan presets); default: the learned null context.
            features: frozen descriptors of the frames (``xfeat_features`` models, ``JointPipeline.features``):
                "video" (B, Cf, F, h, w), "cond_video" (B, M, Cf, h, w). They enter only where that
                stream is clean (t = 1); None means no clean frames. ``motion_features`` models: "motion" (B, Cm, F, h, w),
                the clip's local-motion histograms, into the ray tokens where the clip is clean.
        Returns:
            A dict with the same keys as ``streams``: predicted velocities z1 - z0, same shapes.
        """
        # 1. Tokens and positions.
        video, cond_video = streams["video"], streams.get("cond_video")
        M = 0 if cond_video is None else cond_video.shape[1]
        reference = None
        if self.cfg.frame_difference or self.cfg.video_residual:
            if M == 0:
                raise ValueError("frame_difference and video_residual models need conditioning slot 0 "
                                 "(the reference frame)")
            reference = cond_video[:, 0]
        x_v, grid = self.video_io.embed(video, cond_video, reference=reference if self.cfg.frame_difference else None,
                                        features=self._clean_features(features, video, cond_video, times),
                                        guide=self._given_guide(guide, video, times))
        n_target = grid[0] * grid[1] * grid[2]
        per_slot = grid[1] * grid[2]
        rope = rope_tables(self.token_positions(grid, cond_pos if M else None).to(video.device),
                           self.cfg.head_dim, self.cfg.rope_theta)
        rope = (rope[0].to(video.device), rope[1].to(video.device))
        pos_features = image_position_features(grid[1], grid[2], n_target // per_slot + M, video.device) \
            if self.cfg.absolute_position else None
        if pos_features is not None:
            x_v = x_v + self.video_io.position_embedding(pos_features.to(x_v.dtype))

        # 2. Per-token time embeddings, one per modality (each modality has its own t).
        seg_v = self._segment_times(times["video"], times.get("cond_video") if M else None)
        temb_v, proj_v = self._embed_times(self.video_io, seg_v, n_target, per_slot, x_v.dtype)
        has_rays = "rays" in streams
        x_r = temb_r = proj_r = None
        if has_rays:
            x_r, grid_r = self.ray_io.embed(streams["rays"], streams.get("cond_rays") if M else None)
            if grid_r != grid or x_r.shape[1] != x_v.shape[1]:
                raise ValueError(f"ray tokens on grid {grid_r} do not line up with video tokens on grid {grid}; "
                                 "check the raxel grid and raxel_downsample")
            if pos_features is not None:
                x_r = x_r + self.ray_io.position_embedding(pos_features.to(x_r.dtype))
            motion = self._clean_motion(features, video, times)
            if motion is not None:
                m = self.motion_embedding(motion.to(x_r.dtype)).flatten(2).transpose(1, 2)   # (B, n_target, D)
                x_r = torch.cat([x_r[:, :n_target] + m, x_r[:, n_target:]], 1)
            seg_r = self._segment_times(times["rays"], times.get("cond_rays") if M else None)
            temb_r, proj_r = self._embed_times(self.ray_io, seg_r, n_target, per_slot, x_r.dtype)

        # 3. Text context (Wan presets only).
        ctx_v = ctx_r = None
        if self.cfg.text_dim is not None:
            ctx = context if context is not None else self.null_context.expand(video.shape[0], -1, -1)
            ctx_v = self.video_io.condition_embedder.text_embedder(ctx.to(x_v.dtype))
            if has_rays:
                ctx_r = self.ray_io.condition_embedder.text_embedder(ctx.to(x_r.dtype))

        # 4. Blocks.
        for block in self.blocks:
            x_v, x_r = block(x_v, x_r, temb_v=proj_v, temb_r=proj_r, rope=rope, context_v=ctx_v,
                             context_r=ctx_r, self_mask=self_mask)

        # 5. Heads.
        out: dict[str, torch.Tensor] = {}
        out["video"], cv = self.video_io.head(x_v, temb_v, grid, M)
        if cv is not None:
            out["cond_video"] = cv
        if has_rays:
            out["rays"], cr = self.ray_io.head(x_r, temb_r, grid, M)
            if cr is not None:
                out["cond_rays"] = cr
        base = self._residual_base(reference, guide, times) if self.cfg.video_residual else None
        if self.cfg.video_prior_std is not None:
            out["video"] = preconditioned(out["video"], video, times["video"], base, self.cfg.video_prior_std)
        elif base is not None:
            out["video"] = out["video"] + base.to(out["video"].dtype)
        if self.cfg.prediction == "data":
            out = {name: data_to_velocity(x, streams[name], times[name]) for name, x in out.items()}
        return out


def image_position_features(h: int, w: int, planes: int, device: torch.device) -> torch.Tensor:
    """(planes * h * w, 4 * POSITION_FREQUENCIES) sin-cos features of each token's row and column, in
    coordinates normalised to [-1, 1] so they mean the same place in the image at any resolution."""
    ys = (torch.arange(h, device=device) + 0.5) / h * 2 - 1
    xs = (torch.arange(w, device=device) + 0.5) / w * 2 - 1
    yy, xx = torch.meshgrid(ys, xs, indexing="ij")
    freqs = torch.pi * torch.arange(1, POSITION_FREQUENCIES + 1, device=device) / 2
    angles = torch.cat([yy.reshape(-1, 1) * freqs, xx.reshape(-1, 1) * freqs], -1)     # (h*w, 2F)
    feats = torch.cat([angles.sin(), angles.cos()], -1)
    return feats.repeat(planes, 1)


def preconditioned(head: torch.Tensor, z_t: torch.Tensor, t: torch.Tensor, base: torch.Tensor | None,
                   std: float) -> torch.Tensor:
    """``ModelConfig.video_prior_std``: the clean-latent estimate base + k (z_t - t base) + c_out head.

    head, z_t: (B, C, F, h, w); t: (B,) flow time (1 = clean); base: (B, C, 1 or F, h, w) or None (0).
    k = t s^2 / (t^2 s^2 + (1 - t)^2) and c_out = s (1 - t) / sqrt(t^2 s^2 + (1 - t)^2), s = ``std``: the
    posterior mean and std of x given z_t = t x + (1 - t) noise under the prior x ~ N(base, s^2)."""
    tt = t.reshape(-1, *([1] * (z_t.ndim - 1))).to(torch.float32)
    var = float(std) ** 2
    denom = tt * tt * var + (1.0 - tt) ** 2
    k = tt * var / denom
    c_out = float(std) * (1.0 - tt) / denom.sqrt()
    b = 0.0 if base is None else base.to(torch.float32)
    prior = b + k * (z_t.to(torch.float32) - tt * b)
    return (prior + c_out * head.to(torch.float32)).to(head.dtype)


def data_to_velocity(x: torch.Tensor, z_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """v = (x - z_t) / (1 - t), with 1 - t floored at ``MIN_REMAINING_TIME`` so the last steps stay finite."""
    remaining = (1.0 - t).clamp_min(MIN_REMAINING_TIME).to(x.dtype)
    return (x - z_t) / remaining.reshape(*remaining.shape, *([1] * (x.ndim - remaining.ndim)))
