"""The three tasks of one set of weights, and the cycle test, as generators of ``ProgressEvent``.

Every task works on the model grid (frames already resized and cropped by the ``Engine``) and yields
events while it denoises; the last event (stage "done") carries the result. The sequence layout and
times follow ``engine.objective`` exactly:

    task               video (target / sources / sparse)    rays (target / slots)
    estimate poses     clean / clean / clean                 denoised (2 steps)
    generate           denoised / clean / denoised           clean (the given cameras)
    generate jointly   denoised / clean / denoised           denoised

Conditioning slot 0 is always the reference frame: the first source image, or in pose estimation the
frame the trajectory is expressed in.
"""

from __future__ import annotations

import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field

import numpy as np
import torch

from geometry import Cameras

from .camera_codec import decode_cameras, encode_cameras
from .config import JOINT_ORDERS
from .events import CancelToken, ProgressEvent
from .media import tensor_to_uint8
from .pipeline import JointPipeline
from .sampler import sample_steps, time_schedule

FALLBACK_FOV_DEG = 60.0
MAX_PREVIEWS = 8            # decoded previews per job by default


@dataclass
class PoseResult:
    """Cameras recovered from predicted raxels (model grid, canonicalised to frame ``ref``)."""

    cameras: Cameras
    residual: np.ndarray              # (T,) RMS misfit of each frame's rays to a pinhole bundle
    ref: int
    notes: list[str] = field(default_factory=list)


@dataclass
class JointResult:
    frames: np.ndarray                # (T, H, W, 3) uint8
    poses: PoseResult


# --------------------------------------------------------------------------------------------------
# Shared machinery
# --------------------------------------------------------------------------------------------------

def conditioning_slots(num_frames: int, num_slots: int, first: list[int]) -> list[int]:
    """Frame index per slot: the given frames first (sources, reference first), then sparse targets
    spread evenly over the frames not used yet."""
    if len(set(first)) != len(first):
        raise ValueError(f"source frames must be distinct, got {first}")
    if any(not 0 <= f < num_frames for f in first):
        raise ValueError(f"source frames {first} out of range for {num_frames} frames")
    if len(first) > num_slots:
        raise ValueError(f"{len(first)} source images but the model has {num_slots} conditioning slots")
    need = num_slots - len(first)
    # Sparse targets at evenly spread frames that are not sources; any shortfall is filled with the free
    # frame farthest from everything chosen, so the slots cover the clip.
    spread = np.round(np.linspace(0, num_frames - 1, num_slots)).astype(int).tolist()
    picks = list(dict.fromkeys(f for f in spread if f not in first))[:need]
    free = [f for f in range(num_frames) if f not in first and f not in picks]
    while len(picks) < need and free:
        best = max(free, key=lambda c: min(abs(c - x) for x in first + picks))
        picks.append(best)
        free.remove(best)
    slots = first + picks
    while len(slots) < num_slots:  # fewer frames than slots: repeat frames as extra sparse targets
        slots.append(slots[len(slots) % max(1, len(first))])
    return slots


def source_frame_indices(num_frames: int, num_sources: int, position: str | list[int]) -> list[int]:
    """Where the source images sit: "first", "middle", "last" (for one image; several are spread from
    there), or explicit frame indices."""
    if not isinstance(position, str):
        return [int(p) for p in position]
    if num_sources < 1:
        raise ValueError("at least one source image is needed")
    anchor = {"first": 0, "middle": num_frames // 2, "last": num_frames - 1}.get(position)
    if anchor is None:
        raise ValueError(f"source position must be 'first', 'middle', 'last' or a list of frames, got {position!r}")
    if num_sources == 1:
        return [anchor]
    spread = [int(i) for i in np.round(np.linspace(0, num_frames - 1, num_sources))]
    # Keep the anchored frame as the reference (slot 0), the rest spread over the clip.
    rest = [f for f in spread if f != anchor][: num_sources - 1]
    return [anchor] + rest


class _Job:
    """Bookkeeping shared by the tasks: timing, cancellation, event construction."""

    def __init__(self, task: str, cancel: CancelToken | None):
        self.task = task
        self.cancel = cancel
        self.start = time.perf_counter()

    def event(self, stage: str, **kw) -> ProgressEvent:
        if self.cancel is not None:
            self.cancel.raise_if_cancelled()
        return ProgressEvent(self.task, stage, elapsed=time.perf_counter() - self.start, **kw)


def _ray_latent_like(pipe: JointPipeline, video_latent: torch.Tensor, slots: int | None = None) -> torch.Tensor:
    """A zero tensor with the ray latent shape matching video latents (B, C, F, h, w) or slots (B, M, C, h, w)."""
    ds = pipe.cfg.model.raxel_downsample
    ch = pipe.model.ray_io.in_channels
    if slots is None:
        B, _, F_, h, w = video_latent.shape
        return video_latent.new_zeros(B, ch, F_, h // ds, w // ds)
    B, M, _, h, w = video_latent.shape
    return video_latent.new_zeros(B, M, ch, h // ds, w // ds)


def _decode_poses(pipe: JointPipeline, ray_latent: torch.Tensor, ref: int, scale: float = 1.0) -> PoseResult:
    """Ray latents (1, Cr, F, hr, wr) -> cameras on the model grid. If the predicted rays do not give a
    usable focal length (an untrained or confused model), fit the poses against an assumed FOV and
    say so in the notes rather than fail or pretend."""
    images = pipe.decode_rays(ray_latent.float())[0].double()              # (T, Cray, Hr, Wr)
    H, W = pipe.image_size
    enc = pipe.encoding
    notes: list[str] = []
    try:
        cams, resid = decode_cameras(images, width=W, height=H, scale=scale, encoding=enc, ref=ref,
                                     return_residual=True)
    except ValueError as exc:
        f = 0.5 * H / np.tan(np.radians(FALLBACK_FOV_DEG) / 2)
        K = torch.tensor([[f, 0, W / 2], [0, f, H / 2], [0, 0, 1]], dtype=torch.float64)
        cams, resid = decode_cameras(images, width=W, height=H, scale=scale, encoding=enc, intrinsics=K,
                                     return_residual=True)
        notes.append(f"focal length could not be recovered from the predicted rays ({exc}); poses were fitted "
                     f"with an assumed {FALLBACK_FOV_DEG:.0f} degree vertical FOV")
    return PoseResult(cams.to(torch.float32), resid.float().cpu().numpy(), ref, notes)


def _denoise(pipe: JointPipeline, job: _Job, state: dict[str, torch.Tensor], *, schedules, fixed, cond_pos,
             method: str, preview, preview_every: int | None, features: dict[str, torch.Tensor] | None = None,
             guide: torch.Tensor | None = None) -> Generator[ProgressEvent, None, dict[str, torch.Tensor]]:
    """Run the sampler, yielding progress events; returns the final state (``final = yield from ...``).

    Previews (decoding frames, recovering cameras) cost far more than a step at large resolutions, so by
    default at most about ``MAX_PREVIEWS`` are made per job, always including the last step."""
    def velocity(s, t):
        return pipe.model(s, t, cond_pos=cond_pos, features=features, guide=guide)

    final = dict(state)
    with torch.inference_mode():
        for step in sample_steps(velocity, state, schedules=schedules, fixed=fixed, method=method,
                                 time_dims={"cond_video": 2, "cond_rays": 2}):
            final = step.state
            extra = {}
            every = preview_every or max(1, step.total // MAX_PREVIEWS)
            if preview is not None and (step.index % every == 0 or step.index == step.total):
                extra = preview(step.denoised)
            yield job.event("denoise", step=step.index, total=step.total, **extra)
    return final


# --------------------------------------------------------------------------------------------------
# Tasks
# --------------------------------------------------------------------------------------------------

def estimate_poses_events(pipe: JointPipeline, video: torch.Tensor, *, steps: int, seed: int = 0, ref: int = 0,
                          method: str = "euler", cancel: CancelToken | None = None,
                          preview_every: int | None = None) -> Iterator[ProgressEvent]:
    """Cameras of a clip: video clean, rays denoised in ``steps`` steps (paper: 2 is best).

    Args:
        video: (T, 3, H, W) frames on the model grid in [-1, 1], on the model's device.
        ref: frame the trajectory is expressed in (slot 0).
    """
    job = _Job("estimate_poses", cancel)
    yield job.event("encode", message="encoding the clip")
    T = video.shape[0]
    clip = pipe.cfg.clip
    slots = conditioning_slots(T, clip.pose_num_cond if clip.pose_num_cond is not None else clip.num_cond, [ref])
    cond_idx = torch.tensor([slots], device=video.device)
    with torch.inference_mode():
        z_video = pipe.encode_video(video.permute(1, 0, 2, 3)[None])
        z_cond = pipe.encode_frames(video[cond_idx])
        features = pipe.features(video=video.permute(1, 0, 2, 3)[None], cond_frames=video[cond_idx])
    gen = torch.Generator().manual_seed(seed)
    state = {"video": z_video, "cond_video": z_cond,
             "rays": _ray_latent_like(pipe, z_video), "cond_rays": _ray_latent_like(pipe, z_cond, slots=len(slots))}
    state["rays"] = torch.randn(state["rays"].shape, generator=gen).to(state["rays"])
    state["cond_rays"] = torch.randn(state["cond_rays"].shape, generator=gen).to(state["cond_rays"])
    sched = time_schedule(steps, shift=pipe.cfg.sampler.shift)

    def preview(denoised):
        return {"cameras": _decode_poses(pipe, denoised["rays"], ref).cameras}

    final = yield from _denoise(pipe, job, state, schedules={"rays": sched, "cond_rays": sched}, fixed=None,
                         cond_pos=pipe.cond_positions(cond_idx), method=method, preview=preview,
                         preview_every=preview_every, features=features)
    yield job.event("decode", message="recovering cameras from the predicted raxels")
    result = _decode_poses(pipe, final["rays"], ref)
    yield job.event("done", cameras=result.cameras, result=result)


def generate_events(pipe: JointPipeline, images: torch.Tensor, cameras: Cameras, source_frames: list[int], *,
                    steps: int, seed: int = 0, method: str = "euler", cancel: CancelToken | None = None,
                    preview_every: int | None = None) -> Iterator[ProgressEvent]:
    """Video along given cameras from source images: rays clean, video denoised.

    Args:
        images: (S, 3, H, W) source images on the model grid, in [-1, 1].
        cameras: (T,) cameras for the model grid (width, height = the model's frame size).
        source_frames: frame index of each source image; the first is the reference.
    """
    job = _Job("generate", cancel)
    yield job.event("encode", message="encoding sources and cameras")
    frames = yield from _generate_along(pipe, job, images, cameras, source_frames, steps=steps, seed=seed,
                                        method=method, preview_every=preview_every)
    yield job.event("done", frames=frames, result=frames)


def _generate_along(pipe: JointPipeline, job: _Job, images: torch.Tensor, cameras: Cameras,
                    source_frames: list[int], *, steps: int, seed: int, method: str,
                    preview_every: int | None) -> Generator[ProgressEvent, None, np.ndarray]:
    """The denoising and decoding of ``generate_events``; returns the frames (T, H, W, 3) uint8."""
    T = cameras.batch_shape[0]
    S = images.shape[0]
    slots = conditioning_slots(T, pipe.cfg.clip.num_cond, list(source_frames))
    device = images.device
    cond_idx = torch.tensor([slots], device=device)
    rays, scale = encode_cameras(cameras.to(torch.float64), ref=slots[0], grid=pipe.ray_grid,
                                 encoding=pipe.encoding)
    rays = rays.to(images.dtype).to(device)[None]                            # (1, T, Cray, Hr, Wr)
    with torch.inference_mode():
        z_rays = pipe.encode_rays(rays)
        z_cond_rays = pipe.encode_ray_frames(rays[:, slots])
        z_src = pipe.encode_frames(images[None])                            # (1, S, C, h, w)
        features = pipe.features(cond_frames=images[None], num_slots=len(slots))
        guide = pipe.reference_warp_along(images[0], cameras, slots[0])
    gen = torch.Generator().manual_seed(seed)
    C, h, w = z_src.shape[2:]
    F_ = z_rays.shape[2]
    z_video = torch.randn(1, C, F_, h, w, generator=gen).to(z_src)
    z_cond = torch.randn(1, len(slots), C, h, w, generator=gen).to(z_src)
    z_cond[:, :S] = z_src
    is_source = torch.arange(len(slots), device=device)[None] < S
    state = {"video": z_video, "cond_video": z_cond, "rays": z_rays, "cond_rays": z_cond_rays}
    sched = time_schedule(steps, shift=pipe.cfg.sampler.shift)

    def preview(denoised):
        return {"frames": tensor_to_uint8(pipe.decode_video(denoised["video"].float())[0].transpose(0, 1))}

    final = yield from _denoise(pipe, job, state, schedules={"video": sched, "cond_video": sched},
                         fixed={"cond_video": is_source}, cond_pos=pipe.cond_positions(cond_idx), method=method,
                         preview=preview, preview_every=preview_every, features=features, guide=guide)
    yield job.event("decode", message="decoding frames")
    return tensor_to_uint8(pipe.decode_video(final["video"].float())[0].transpose(0, 1))


def generate_joint_events(pipe: JointPipeline, images: torch.Tensor, num_frames: int, source_frames: list[int], *,
                          video_steps: int, ray_steps: int, seed: int = 0, method: str = "euler",
                          order: str = "together", cancel: CancelToken | None = None,
                          preview_every: int | None = None) -> Iterator[ProgressEvent]:
    """Video and trajectory together from source images: both modalities denoised.

    ``order`` (``SamplerConfig.joint_order``): "together" denoises both streams at once, as the paper
    does; "cameras_first" *(ours)* first denoises the rays with the video held at pure noise (the
    model's path for the photos alone), recovers the cameras, then generates the video along them as
    camera-controlled generation does (with the warped reference where the model has one), so the
    video is made for the cameras that are returned.
    """
    if order not in JOINT_ORDERS:
        raise ValueError(f"order must be one of {JOINT_ORDERS}, got {order!r}")
    job = _Job("generate_joint", cancel)
    yield job.event("encode", message="encoding sources")
    S = images.shape[0]
    slots = conditioning_slots(num_frames, pipe.cfg.clip.num_cond, list(source_frames))
    device = images.device
    cond_idx = torch.tensor([slots], device=device)
    with torch.inference_mode():
        z_src = pipe.encode_frames(images[None])
        features = pipe.features(cond_frames=images[None], num_slots=len(slots))
    tf = pipe.temporal_factor
    if (num_frames - 1) % tf:
        raise ValueError(f"num_frames must be 1 + {tf}k, got {num_frames}")
    gen = torch.Generator().manual_seed(seed)
    C, h, w = z_src.shape[2:]
    F_ = 1 + (num_frames - 1) // tf
    z_video = torch.randn(1, C, F_, h, w, generator=gen).to(z_src)
    z_cond = torch.randn(1, len(slots), C, h, w, generator=gen).to(z_src)
    z_cond[:, :S] = z_src
    z_rays = torch.randn(_ray_latent_like(pipe, z_video).shape, generator=gen).to(z_src)
    z_cond_rays = torch.randn(_ray_latent_like(pipe, z_cond, slots=len(slots)).shape, generator=gen).to(z_src)
    is_source = torch.arange(len(slots), device=device)[None] < S
    state = {"video": z_video, "cond_video": z_cond, "rays": z_rays, "cond_rays": z_cond_rays}
    v_sched = time_schedule(video_steps, shift=pipe.cfg.sampler.shift)
    r_sched = time_schedule(ray_steps, shift=pipe.cfg.sampler.shift)
    if order == "cameras_first":
        v_sched = torch.zeros(ray_steps + 1)       # steps of size 0: the video stays pure noise at t = 0
    ref = slots[0]

    def preview(denoised):
        out = {}
        if order == "together":      # cameras first, the video here is noise held still: nothing to show
            out["frames"] = tensor_to_uint8(pipe.decode_video(denoised["video"].float())[0].transpose(0, 1))
        if "rays" in denoised:
            out["cameras"] = _decode_poses(pipe, denoised["rays"], ref).cameras
        return out

    final = yield from _denoise(pipe, job, state, schedules={"video": v_sched, "cond_video": v_sched, "rays": r_sched,
                                                      "cond_rays": r_sched},
                         fixed={"cond_video": is_source}, cond_pos=pipe.cond_positions(cond_idx), method=method,
                         preview=preview, preview_every=preview_every, features=features)
    if order == "cameras_first":
        yield job.event("decode", message="recovering cameras from the predicted raxels")
        poses = _decode_poses(pipe, final["rays"], ref)
        frames = yield from _generate_along(pipe, job, images, poses.cameras.to(images.device), source_frames,
                                            steps=video_steps, seed=seed, method=method,
                                            preview_every=preview_every)
    else:
        yield job.event("decode", message="decoding frames and cameras")
        frames = tensor_to_uint8(pipe.decode_video(final["video"].float())[0].transpose(0, 1))
        poses = _decode_poses(pipe, final["rays"], ref)
    yield job.event("done", frames=frames, cameras=poses.cameras, result=JointResult(frames, poses))
