"""``Engine``: the public entry point. Loads a checkpoint (or a preset), prepares inputs, runs tasks.

Every task has a streaming form (``*_stream``, a generator of ``ProgressEvent`` ending with a "done"
event that carries the result) and a blocking form returning the result. Inputs of any size are
resized to cover the model's frame and centre-cropped; cameras come back for the caller's pixels.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from geometry import Cameras
from geometry.metrics import pose_metrics

from .checkpoint import load_checkpoint, save_checkpoint
from .config import GENERATION_METHODS, EngineConfig, preset
from .config_check import MAX_FRAMES, MAX_STEPS
from .events import CancelToken, ProgressEvent
from .image_metrics import frame_metrics
from .media import CropInfo, FramesLike, load_frames, tensor_to_uint8
from .pipeline import JointPipeline
from .pose_ensemble import ensemble_pose_events, pass_labels
from .tasks import (JointResult, PoseResult, generate_events, generate_joint_events,
                    source_frame_indices)
from .vae import nearest_valid_frame_counts

DEFAULT_CHECKPOINT = Path(__file__).resolve().parent.parent / "assets" / "checkpoints" / "raxels-tiny"


def pick_device(device: str | torch.device = "auto") -> torch.device:
    """"auto": cuda, then mps, then cpu. A named device must exist here: ``ValueError`` says why not."""
    if str(device) != "auto":
        return _available_device(device)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def _available_device(device: str | torch.device) -> torch.device:
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise ValueError(f"device {str(device)!r} is not a device name; use auto, cpu, cuda, cuda:N or mps") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {str(device)!r}: CUDA is not available on this machine (torch "
                             f"{torch.__version__}); use auto or cpu")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"device {str(device)!r}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    elif dev.type == "mps":
        if getattr(torch.backends, "mps", None) is None or not torch.backends.mps.is_available():
            raise ValueError(f"device {str(device)!r}: MPS is not available on this machine; use auto or cpu")
    elif dev.type != "cpu":
        raise ValueError(f"device {str(device)!r} is not supported; use auto, cpu, cuda, cuda:N or mps")
    return dev


# ---- argument checks at the API boundary (the CLI and the studio inherit their messages) ----------

def _whole(value: Any, name: str, *, low: int, high: int) -> int:
    """An integer argument in [low, high]; bools and fractions are refused, never rounded."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    if not low <= value <= high:
        raise ValueError(f"{name} must be between {low} and {high}, got {value}")
    return int(value)


def _steps(value: Any, name: str, default: int) -> int:
    """Denoising steps: ``None`` means the checkpoint's default; 0 is an error, not the default."""
    return default if value is None else _whole(value, name, low=1, high=MAX_STEPS)


def _seed(value: Any) -> int:
    return _whole(value, "seed", low=0, high=2**63 - 1)


def _frame_count(value: Any, temporal_factor: int) -> int:
    n = _whole(value, "num_frames", low=1, high=MAX_FRAMES)
    if (n - 1) % temporal_factor:
        raise ValueError(f"num_frames must be 1 + {temporal_factor}k, got {n} "
                         f"(nearest: {nearest_valid_frame_counts(n, temporal_factor)})")
    return n


def _run(events: Iterator[ProgressEvent]) -> Any:
    result = None
    for ev in events:
        if ev.stage == "done":
            result = ev.result
    return result


def _as_stage(events: Iterator[ProgressEvent], label: str) -> Generator[ProgressEvent, None, Any]:
    """Re-emit a sub-task's events as one stage of the cycle task; returns the sub-task's result."""
    result = None
    for ev in events:
        ev.task, ev.message = "cycle", f"{label}: {ev.message}".rstrip(": ")
        if ev.stage == "done":
            result, ev.stage, ev.result = ev.result, "decode", None
        yield ev
    return result


class Engine:
    """One set of weights, three tasks: poses from a clip, video along cameras, video + cameras jointly."""

    def __init__(self, pipe: JointPipeline, *, device: torch.device, dtype: torch.dtype,
                 source: str, meta: dict[str, Any] | None = None, trained: bool = True):
        self.pipe = pipe.to(device=device, dtype=dtype).eval()
        self.device = device
        self.dtype = dtype
        self.source = source
        self.meta = dict(meta or {})
        self.trained = trained

    # ---- construction --------------------------------------------------------------------------

    @classmethod
    def from_checkpoint(cls, path_or_preset: str | Path | None = None, device: str | torch.device = "auto", *,
                        dtype: torch.dtype | None = None, seed: int = 0) -> "Engine":
        """Load a checkpoint directory, or build a named preset with untrained weights.

        ``None`` loads the shipped default checkpoint (``assets/checkpoints/raxels-tiny``); if it is not
        there, the untrained ``tiny`` preset is used and ``engine.trained`` is False.
        """
        dev = pick_device(device)
        if dtype is None:
            dtype = torch.bfloat16 if dev.type == "cuda" else torch.float32
        target = path_or_preset if path_or_preset is not None else DEFAULT_CHECKPOINT
        if Path(target).is_dir():
            cfg, state, meta = load_checkpoint(target)
            pipe = JointPipeline(cfg)
            missing, unexpected = pipe.model.load_state_dict(state, strict=False)
            if missing or unexpected:
                raise ValueError(f"{target}: weights do not match the config (missing {missing[:3]}, "
                                 f"unexpected {unexpected[:3]})")
            return cls(pipe, device=dev, dtype=dtype, source=str(target), meta=meta, trained=True)
        name = "tiny" if path_or_preset is None else str(path_or_preset)
        cfg = preset(name) if not Path(name).suffix and "/" not in name else None
        if cfg is None:
            raise ValueError(f"{name}: no checkpoint directory there, and not a preset name")
        torch.manual_seed(seed)
        meta = {"note": f"untrained '{name}' preset: random weights, outputs are noise"}
        return cls(JointPipeline(cfg), device=dev, dtype=dtype, source=f"preset:{name}", meta=meta, trained=False)

    def save(self, path: str | Path, meta: dict[str, Any] | None = None) -> Path:
        return save_checkpoint(path, self.pipe.model, self.pipe.cfg, {**self.meta, **(meta or {})})

    @property
    def config(self) -> EngineConfig:
        return self.pipe.cfg

    def info(self) -> dict[str, Any]:
        """What a status line shows: device, weights, and what the model was trained on."""
        c = self.config.clip
        passes = pass_labels(self.config.sampler.pose_ensemble)
        return {"device": str(self.device), "dtype": str(self.dtype).replace("torch.", ""), "source": self.source,
                "preset": self.config.preset, "trained": self.trained,
                "training_domain": self.meta.get("training_domain", "untrained" if not self.trained else "unknown"),
                # What the checkpoint can and cannot do yet, measured (RESULTS.md); shown beside the output.
                "quality_note": self.meta.get("quality_note"),
                "frames": c.num_frames, "height": c.height, "width": c.width, "num_cond": c.num_cond,
                "parameters": sum(p.numel() for p in self.pipe.model.parameters()),
                "camera_encoding": self.config.model.camera_encoding, "attention": self.config.model.attention,
                # model passes per pose estimate (1, or 4 for the mirrored / reversed ensemble) and what each sees
                "pose_passes": len(passes), "pose_pass_labels": list(passes)}

    # ---- input preparation -------------------------------------------------------------------------

    def _frames(self, frames: FramesLike, name: str) -> tuple[torch.Tensor, CropInfo]:
        H, W = self.pipe.image_size
        x, crop, _ = load_frames(frames, H, W, name=name)
        return x.to(self.device, self.dtype), crop

    def prepare_clip(self, video: FramesLike, *, num_frames: int | None = None) -> tuple[torch.Tensor, CropInfo, np.ndarray]:
        """A clip on the model grid.

        ``num_frames`` None keeps every frame, any count >= 2 (pose estimation covers a clip of any length
        with overlapping windows, ``engine.windows``); otherwise exactly that many frames (1 + 4k) are
        picked evenly. Returns frames (T, 3, H, W), the crop, and the indices of the frames used.
        """
        tf = self.pipe.temporal_factor
        if num_frames is not None:
            num_frames = _frame_count(num_frames, tf)
        H, W = self.pipe.image_size
        # Files: only the chosen frames are decoded, each shrunk as it is (engine.media.load_frames).
        x, crop, idx = load_frames(video, H, W, num_frames=num_frames, name="video")
        if num_frames is None and x.shape[0] < 2:
            raise ValueError(f"video: {x.shape[0]} frame; a camera trajectory needs a clip of at least 2 frames")
        return x.to(self.device, self.dtype), crop, idx

    def _to_source(self, cams: Cameras, crop: CropInfo) -> Cameras:
        K = crop.to_source_intrinsics(cams.K.double()).to(cams.dtype)
        return Cameras(cams.c2w, K, crop.src_width, crop.src_height, cams.timestamps)

    def _to_model_grid(self, cameras: Cameras) -> Cameras:
        """Cameras for an image of any size -> the model grid, cropped like the frames are."""
        H, W = self.pipe.image_size
        scale = max(H / cameras.height, W / cameras.width)
        new_h, new_w = max(H, round(cameras.height * scale)), max(W, round(cameras.width * scale))
        crop = CropInfo(cameras.width, cameras.height, new_w / cameras.width, new_h / cameras.height,
                        float((new_w - W) // 2), float((new_h - H) // 2))
        K = crop.to_model_intrinsics(cameras.K.double())
        return Cameras(cameras.c2w.double(), K, W, H, cameras.timestamps)

    # ---- pose estimation -----------------------------------------------------------------------------

    def estimate_poses_stream(self, video: FramesLike, *, steps: int | None = None, seed: int = 0, ref: int = 0,
                              num_frames: int | None = None, method: str = "raxels", intrinsics: Any = None,
                              ensemble: str | None = None, cancel: CancelToken | None = None
                              ) -> Iterator[ProgressEvent]:
        """Predict a clip's cameras, one per input frame. ``method="raxels"`` is the model (2 ray steps by
        default); the classical baselines (``engine.baselines.BASELINE_METHODS``: "colmap", "two-view") run
        on the clip's own frames at their own resolution, every frame at once (no windows), labelled as
        baselines, with ``intrinsics`` ((3, 3) or (T, 3, 3) pixel K for those frames, e.g. from a loaded
        camera file; None: an assumed FOV, noted). The model predicts its own intrinsics and ignores them.

        A clip of any length T >= 2 runs in overlapping windows of the checkpoint's clip length, chained into
        one trajectory (``engine.windows``, docs/windowing.md); events then say which window is running and
        the result's notes give the windows and their overlap. ``num_frames`` (1 + 4k) instead picks that
        many frames evenly and runs them in one window: one camera per picked frame. ``ensemble``
        (``SamplerConfig.pose_ensemble``; None: the checkpoint's) averages each window's rotations over the
        clip mirrored and reversed (``engine.pose_ensemble``); "none" is the paper's single pass."""
        from .baselines import BASELINE_METHODS, baseline_pose_events
        from .media import frames_to_tensor, load_video

        steps = _steps(steps, "steps", self.config.sampler.pose_steps)
        seed = _seed(seed)
        methods = ("raxels",) + BASELINE_METHODS
        if method not in methods:
            raise ValueError(f"method must be {', '.join(map(repr, methods[:-1]))} or {methods[-1]!r}, got {method!r}")
        ref = _whole(ref, "ref", low=0, high=MAX_FRAMES - 1)
        x, crop, idx = self.prepare_clip(video, num_frames=num_frames)
        if not 0 <= ref < x.shape[0]:
            raise ValueError(f"ref {ref} out of range for {x.shape[0]} frames")
        if method != "raxels":
            # The clip's own pixels as uint8, frames ``idx``: files decoded as they are, arrays kept.
            if isinstance(video, (str, Path)):
                frames = load_video(video)[idx]
            elif isinstance(video, np.ndarray) and video.dtype == np.uint8 and video.ndim == 4:
                frames = video[idx]
            else:
                frames = tensor_to_uint8(frames_to_tensor(video, name="video")[torch.as_tensor(idx)])
            yield from baseline_pose_events(method, frames, intrinsics=intrinsics, ref=ref, cancel=cancel)
            return
        from .windows import windowed_pose_events

        ensemble = self.config.sampler.pose_ensemble if ensemble is None else ensemble
        run = ensemble_pose_events if num_frames is not None else windowed_pose_events
        for ev in run(self.pipe, x, steps=steps, seed=seed, ref=ref, method=self.config.sampler.method,
                      cancel=cancel, ensemble=ensemble):
            if ev.cameras is not None:
                ev.cameras = self._to_source(ev.cameras, crop)
            if ev.stage == "done":
                ev.result = dataclasses.replace(ev.result, cameras=ev.cameras)
                ev.result.notes.append(f"frames used: {idx.tolist()}")
            yield ev

    def estimate_poses(self, video: FramesLike, steps: int | None = None, **kw: Any) -> Cameras:
        """Cameras (T,) of the clip, canonicalised to frame ``ref``, intrinsics for the input's pixels."""
        return _run(self.estimate_poses_stream(video, steps=steps, **kw)).cameras

    # ---- camera-conditioned generation ------------------------------------------------------------

    def generate_stream(self, images: FramesLike, cameras: Cameras, *, num_frames: int | None = None,
                        steps: int | None = None, seed: int = 0, source_frames: str | Sequence[int] = "first",
                        cancel: CancelToken | None = None, method: str = "raxels") -> Iterator[ProgressEvent]:
        """Frames along a path of N cameras from one or more images.

        ``method="raxels"`` is the model. ``method="warp"`` is the classical baseline a camera-following model
        has to beat (``engine.baselines.warp``): the first image, fitted to the model grid like the model's
        input, warped into every camera with the scene at infinity (exact for turns; pixels it does not see
        keep the image's own), or, for a model whose guide is a plane (``model.guide_depth``), through that
        plane, the model's own starting point; with the same frame count and resampling as the model's answer.
        It ignores ``steps``, ``seed`` and any further images, and its "done" message says what it is.

        The model makes T = 1 + 4k frames. ``num_frames`` (1 + 4k) asks for T frames; None keeps N when it
        is 1 + 4k and otherwise takes the nearest 1 + 4k count above N (16 -> 17: no camera of the file is
        skipped), or the largest one allowed when that is over the limit. When T != N the path is resampled
        along itself (``geometry.trajectory.resample``: frames evenly spread over the input's frame index,
        positions on a Catmull-Rom spline, rotations slerped) and the "done" event's ``message`` says so.
        The "done" event's ``cameras`` are the T cameras the frames follow (for the input cameras' pixels);
        its ``result`` is the frames (T, H, W, 3) uint8 at the model's resolution.
        """
        steps = _steps(steps, "steps", self.config.sampler.video_steps)
        seed = _seed(seed)
        if method not in GENERATION_METHODS:
            raise ValueError(f"method must be one of {', '.join(map(repr, GENERATION_METHODS))}, got {method!r}")
        if not isinstance(cameras, Cameras) or len(cameras.batch_shape) != 1 or len(cameras) < 1:
            raise ValueError("cameras: expected a Cameras trajectory of batch shape (N,) with N >= 1")
        N = len(cameras)
        tf = self.pipe.temporal_factor
        if num_frames is not None:
            T = _frame_count(num_frames, tf)
        elif (N - 1) % tf == 0 and N <= MAX_FRAMES:
            T = N
        else:
            T = min(nearest_valid_frame_counts(N, tf)[-1], 1 + tf * ((MAX_FRAMES - 1) // tf))
        x, _ = self._frames(images, "images")
        src = source_frame_indices(T, x.shape[0], source_frames if isinstance(source_frames, str)
                                   else list(source_frames))
        if len(src) != x.shape[0]:
            raise ValueError(f"{x.shape[0]} images but {len(src)} source frame indices")
        note = ""
        if T != N:
            from geometry.trajectory import resample

            cameras = resample(cameras, T)
            how = f"num_frames={T}" if num_frames is not None else f"the nearest 1 + {tf}k count"
            note = (f"the {N}-camera path was resampled to {T} cameras ({how}; the model makes 1 + {tf}k frames): "
                    "evenly spaced along the path, positions splined, rotations slerped")
        if method == "warp":
            from .baselines.warp import warp_source_frame

            start = time.perf_counter()
            depth = self.pipe.cfg.model.guide_depth
            frames = warp_source_frame(tensor_to_uint8(x[:1])[0], self._to_model_grid(cameras), source=src[0],
                                       depth=depth or math.inf)
            scene = f"on a plane {depth:g} units in front" if depth else "at infinity"
            what = (f"classical baseline: image 1 warped into each camera from frame {src[0]} with the scene "
                    f"{scene} (unseen pixels copied), not the model")
            yield ProgressEvent("generate", "done", elapsed=time.perf_counter() - start, frames=frames,
                                cameras=cameras, message="; ".join(m for m in (what, note) if m), result=frames)
            return
        for ev in generate_events(self.pipe, x, self._to_model_grid(cameras), src, steps=steps, seed=seed,
                                  method=self.config.sampler.method, cancel=cancel):
            if ev.stage == "done":
                ev.cameras, ev.message = cameras, note
            yield ev

    def generate(self, images: FramesLike, cameras: Cameras, steps: int | None = None, **kw: Any) -> np.ndarray:
        """(T, H, W, 3) uint8 frames on the model grid; T as in ``generate_stream`` (``num_frames=`` in ``kw``)."""
        return _run(self.generate_stream(images, cameras, steps=steps, **kw))

    # ---- joint generation ------------------------------------------------------------------------------

    def generate_joint_stream(self, images: FramesLike, num_frames: int | None = None, *, steps: int | None = None,
                              ray_steps: int | None = None, seed: int = 0,
                              source_frames: str | Sequence[int] = "first", order: str | None = None,
                              cancel: CancelToken | None = None) -> Iterator[ProgressEvent]:
        """Frames and cameras together from one or more images; ``order`` as ``SamplerConfig.joint_order``
        (None: the checkpoint's)."""
        steps = _steps(steps, "steps", self.config.sampler.joint_video_steps)
        ray_steps = _steps(ray_steps, "ray_steps", self.config.sampler.joint_ray_steps)
        seed = _seed(seed)
        T = self.config.clip.num_frames if num_frames is None else _frame_count(num_frames, self.pipe.temporal_factor)
        x, crop = self._frames(images, "images")
        src = source_frame_indices(T, x.shape[0], source_frames if isinstance(source_frames, str)
                                   else list(source_frames))
        for ev in generate_joint_events(self.pipe, x, T, src, video_steps=steps,
                                        ray_steps=ray_steps, seed=seed, method=self.config.sampler.method,
                                        order=order or self.config.sampler.joint_order, cancel=cancel):
            yield ev

    def generate_joint(self, images: FramesLike, num_frames: int | None = None, steps: int | None = None,
                       **kw: Any) -> tuple[np.ndarray, Cameras]:
        """(frames (T, H, W, 3) uint8, cameras (T,) on the model grid canonicalised to the first source)."""
        res: JointResult = _run(self.generate_joint_stream(images, num_frames, steps=steps, **kw))
        return res.frames, res.poses.cameras

    # ---- cycle self-consistency ------------------------------------------------------------------------

    def cycle_stream(self, video: FramesLike, num_sources: int = 3, *, pose_steps: int | None = None,
                     video_steps: int | None = None, seed: int = 0, num_frames: int | None = None,
                     cancel: CancelToken | None = None) -> Iterator[ProgressEvent]:
        """The paper's self-consistency test: predict the clip's trajectory, regenerate the clip from
        ``num_sources`` of its frames along that trajectory, predict the regenerated clip's trajectory,
        and compare trajectories (rotation / translation errors) and frames (PSNR / SSIM, source frames
        excluded). A control regenerates the clip from its first frame along another trajectory (the
        prediction plus a pan) and predicts again: a model whose poses ignore the video fails it, and the
        report flags that. Keys: docs/metrics.md, "Cycle self-consistency".

        A clip of any length T >= 2 is used whole when it is 1 + 4k frames, else through the 1 + 4k frames
        picked evenly (``engine.windows.single_pass_frames``, said in the notes; the report's ``clip_frames``
        are the input frames used); its poses are estimated in windows as in ``estimate_poses_stream``.
        ``num_frames`` picks that many frames instead, each pose step then one pass."""
        from .evaluate.cycle_metrics import (generated_frame_quality, nearest_source_copy, other_trajectory,
                                             other_trajectory_check)

        pose_steps = _steps(pose_steps, "pose_steps", self.config.sampler.pose_steps)
        video_steps = _steps(video_steps, "video_steps", self.config.sampler.video_steps)
        seed = _seed(seed)
        num_sources = _whole(num_sources, "num_sources", low=1, high=MAX_FRAMES)
        x, _, used = self.prepare_clip(video, num_frames=num_frames)
        notes: list[str] = []
        poses_events = ensemble_pose_events
        if num_frames is None:
            from .windows import single_pass_frames, windowed_pose_events

            # Poses run in windows over any length, but the clip is regenerated in one pass of 1 + 4k frames.
            poses_events = windowed_pose_events
            keep = single_pass_frames(x.shape[0], self.pipe.temporal_factor)
            if len(keep) != x.shape[0] or (keep != np.arange(x.shape[0])).any():
                notes.append(f"the cycle runs on {len(keep)} frames picked evenly from the clip's {x.shape[0]} "
                             f"(frames {keep.tolist()}): it regenerates the clip in one pass of 1 + "
                             f"{self.pipe.temporal_factor}k frames")
                x, used = x[torch.as_tensor(keep, device=x.device)], used[keep]
        T = x.shape[0]
        if num_sources > T:
            raise ValueError(f"num_sources must be at most the clip's {T} frames, got {num_sources}")
        method, ensemble = self.config.sampler.method, self.config.sampler.pose_ensemble
        pred: PoseResult = yield from _as_stage(
            poses_events(self.pipe, x, steps=pose_steps, seed=seed, cancel=cancel, ensemble=ensemble), "1/5 poses")
        src = [int(i) for i in np.round(np.linspace(0, T - 1, num_sources))]
        frames = yield from _as_stage(
            generate_events(self.pipe, x[src], pred.cameras, src, seed=seed, cancel=cancel, steps=video_steps,
                            method=method), "2/5 regenerate")
        again: PoseResult = yield from _as_stage(
            poses_events(self.pipe, self._uint8_to_model(frames), steps=pose_steps, seed=seed,
                         cancel=cancel, ensemble=ensemble), "3/5 poses of the regenerated clip")
        other = other_trajectory(pred.cameras)
        other_frames = yield from _as_stage(
            generate_events(self.pipe, x[:1], other, [0], seed=seed, cancel=cancel, steps=video_steps, method=method),
            "4/5 regenerate along another trajectory")
        on_other: PoseResult = yield from _as_stage(
            poses_events(self.pipe, self._uint8_to_model(other_frames), steps=pose_steps, seed=seed,
                         cancel=cancel, ensemble=ensemble), "5/5 poses of that clip")
        original = tensor_to_uint8(x.float())
        img = frame_metrics(frames, original)
        mean_psnr, mean_ssim = generated_frame_quality(img["psnr"], img["ssim"], src)
        copied = frame_metrics(nearest_source_copy(original, src), original)
        copy_psnr, copy_ssim = generated_frame_quality(copied["psnr"], copied["ssim"], src)
        poses = pose_metrics(again.cameras, pred.cameras)
        control = other_trajectory_check(pred.cameras, other, on_other.cameras, poses["mean_rot_err_deg"])
        report = {"source_frames": src, "clip_frames": used.tolist(), "predicted": pred.cameras, "regenerated_poses": again.cameras,
                  "regenerated_frames": frames, "original_frames": original,
                  "rot_err_deg": poses["mean_rot_err_deg"], "trans_err_deg": poses["mean_trans_err_deg"],
                  "ATE": poses["ATE"], "psnr": img["psnr"], "ssim": img["ssim"],
                  "mean_psnr": mean_psnr, "mean_ssim": mean_ssim,
                  "copy_nearest_source_mean_psnr": copy_psnr, "copy_nearest_source_mean_ssim": copy_ssim,
                  "other_trajectory": other, "other_frames": other_frames, "other_poses": on_other.cameras,
                  **control, "notes": notes + pred.notes + again.notes}
        yield ProgressEvent("cycle", "done", result=report)

    def _uint8_to_model(self, frames: np.ndarray) -> torch.Tensor:
        """Generated frames (T, H, W, 3) uint8 -> model input (T, 3, H, W) in [-1, 1]."""
        return torch.from_numpy(frames).to(self.device).permute(0, 3, 1, 2).to(self.dtype) / 127.5 - 1.0

    def cycle(self, video: FramesLike, num_sources: int = 3, **kw: Any) -> dict[str, Any]:
        return _run(self.cycle_stream(video, num_sources, **kw))
