"""The training loop: flow matching on joint video + raxel clips with accelerate (CPU, one GPU, DDP, FSDP2).

    python -m engine train --config configs/tiny.toml                      # CPU or one GPU
    accelerate launch -m engine train --config configs/wan-1.3b.toml       # several GPUs / machines
    python -m engine train --resume runs/tiny                              # continue exactly

One optimizer step = ``grad_accum`` micro-batches of ``batch_size`` examples on every process
(``accelerator.accumulate``), gradient clipping, AdamW, a warmup + cosine (or constant) LR schedule
stepped once per optimizer step, then the EMA update. Every ``checkpoint_every`` steps (and at the
end) a checkpoint in the engine's format is written with the EMA weights plus a training state for
exact resume (``engine.train.state``). The data position is the number of examples consumed: the
stream is indexed (``engine.train.data``), so resuming continues it exactly whatever the workers.

Run directory (``train.output_dir``)::

    run_config.json   the resolved configuration
    curves.csv        step, lr, loss, mse, cos, loss_video, loss_rays, grad norm, timings
    curves.png        the loss curves (total and per modality) and the LR
    summary.json      final numbers: timings, data/step ratio, evaluation
    checkpoints/step-0000500/   periodic checkpoints (the last ``keep_checkpoints``)
    final/            the final checkpoint (EMA weights; load with Engine.from_checkpoint)
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import os
import shutil
import signal
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch
from accelerate import Accelerator
from accelerate.utils import set_seed
from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict
from torch.optim.lr_scheduler import LambdaLR
from tqdm.auto import tqdm

from ..checkpoint import load_checkpoint, save_checkpoint
from ..config import EngineConfig
from ..model import joint_dit_from_wan
from ..objective import VideoAnchor, training_loss
from ..pipeline import JointPipeline
from ..vae import PatchVAE, build_vae
from .config import RunConfig
from .curves import CurveLog, plot_curves, read_curves
from .data import build_source, fetch_example, make_loader
from .ema import EMA
from .schedule import lr_factor
from .state import has_training_state, load_training_state, read_state_doc, save_training_state

# Model switches that change what the network computes but no tensor: an init checkpoint may differ in them.
TENSOR_FREE_SWITCHES = {"video_residual", "video_prior_std", "guide_depth"}
# Switches that add an input layer (tensor-name prefix): one may be switched on for an init checkpoint
# without it; the layer is then zeroed, so the loaded model's output is unchanged at step 0.
ADDED_INPUT_SWITCHES = {"xfeat_features": "video_io.feature_embedding.",
                        "warped_reference": "video_io.guide_embedding.",
                        "motion_features": "motion_embedding."}

RUN_CONFIG = "run_config.json"
CURVES_CSV = "curves.csv"
CURVES_PNG = "curves.png"
SUMMARY = "summary.json"


@dataclass
class TrainResult:
    run_dir: Path
    checkpoint: Path                      # the last checkpoint written (final/ when the run completed)
    step: int                             # optimizer steps done in total
    losses: list[float] = field(default_factory=list)   # per step of this session (this process)
    summary: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------------------

def build_pipeline(run: RunConfig) -> JointPipeline:
    """The pipeline to train: from scratch (seeded), from an engine checkpoint, or from Wan 2.1 weights."""
    cfg, tc = run.engine, run.train
    if tc.wan_transformer:
        vae = build_vae(cfg.vae)
        ray_channels = None
        if cfg.model.camera_encoding == "plucker":
            ray_channels = 2 * PatchVAE(vae.spatial_factor, vae.temporal_factor).latent_channels
        model = joint_dit_from_wan(tc.wan_transformer, base=cfg.model, ray_channels=ray_channels)
        cfg = dataclasses.replace(cfg, model=model.cfg)
        run.engine = cfg
        return JointPipeline(cfg, model=model, vae=vae)
    pipe = JointPipeline(cfg)
    if tc.init_checkpoint and tc.init_video_stream:
        _load_video_stream(pipe, tc.init_checkpoint)
    elif tc.init_checkpoint:
        ck_cfg, state, _ = load_checkpoint(tc.init_checkpoint)
        differ = _model_differences(ck_cfg, cfg)
        stored, wanted = dataclasses.asdict(ck_cfg.model), dataclasses.asdict(cfg.model)
        added = {k for k in differ if k in ADDED_INPUT_SWITCHES and wanted[k] and not stored.get(k)}
        if set(differ) - TENSOR_FREE_SWITCHES - added:
            raise ValueError(f"train.init_checkpoint {tc.init_checkpoint}: its model config differs from the "
                             f"run's [engine] model in {differ}; use the same preset/overrides (only "
                             f"{sorted(TENSOR_FREE_SWITCHES)} may change, and {sorted(ADDED_INPUT_SWITCHES)} may "
                             "be switched on: they leave the model's output unchanged)")
        missing, unexpected = pipe.model.load_state_dict(state, strict=not added)
        fresh = tuple(ADDED_INPUT_SWITCHES[k] for k in added)
        if unexpected or any(not k.startswith(fresh) for k in missing):
            raise ValueError(f"train.init_checkpoint {tc.init_checkpoint}: tensors do not match the model: "
                             f"missing {missing[:3]}, unexpected {unexpected[:3]}")
        with torch.no_grad():       # the added input starts at zero: the trained model is unchanged at step 0
            params = pipe.model.state_dict()
            for k in missing:
                params[k].zero_()
            if tc.reset_video_head:
                pipe.model.video_io.proj_out.weight.zero_()
                pipe.model.video_io.proj_out.bias.zero_()
    return pipe


def _model_differences(stored: EngineConfig, wanted: EngineConfig) -> list[str]:
    """Names of the model config fields in which an init checkpoint differs from the run."""
    a, b = dataclasses.asdict(stored.model), dataclasses.asdict(wanted.model)
    return sorted(k for k in b if a.get(k) != b[k])


# Model switches that only change the ray stream or DSCA: a video-stream init may differ in them.
RAY_SIDE_SWITCHES = {"camera_encoding", "attention"}


def is_video_side(name: str) -> bool:
    """A video-side parameter: the video stream and its cross-attention to the rays (what
    ``train.freeze_video_stream`` freezes)."""
    return name.startswith("video_io.") or ".video." in name


def _is_video_stream(name: str) -> bool:
    """A parameter of the video stream proper (not DSCA's cross-modal attention, which joins the streams)."""
    return is_video_side(name) and ".cross." not in name and ".norm_cross." not in name


def freeze_video_side(model: torch.nn.Module) -> list[str]:
    """``train.freeze_video_stream``: every video-side parameter (the stream and its cross-attention to the
    rays) stops taking gradients; returns their names."""
    names = []
    for n, p in model.named_parameters():
        if is_video_side(n):
            p.requires_grad_(False)
            names.append(n)
    return names


def _load_video_stream(pipe: JointPipeline, path: str) -> None:
    """``train.init_video_stream``: the video stream of checkpoint ``path``; the ray stream and DSCA are
    then initialised from it as from a pretrained video model (``JointDiT.copy_video_to_ray_branch``,
    ``init_cross_attention_from_self``)."""
    ck_cfg, state, _ = load_checkpoint(path)
    differ = _model_differences(ck_cfg, pipe.cfg)
    if set(differ) - TENSOR_FREE_SWITCHES - RAY_SIDE_SWITCHES:
        raise ValueError(f"train.init_checkpoint {path}: its model config differs from the run's [engine] model "
                         f"in {differ}; with train.init_video_stream only {sorted(RAY_SIDE_SWITCHES)} (and "
                         f"{sorted(TENSOR_FREE_SWITCHES)}) may differ")
    own = pipe.model.state_dict()
    video = [k for k in own if _is_video_stream(k)]
    lacking = [k for k in video if k not in state or state[k].shape != own[k].shape]
    if lacking:
        raise ValueError(f"train.init_checkpoint {path}: its video stream does not fit the model: {lacking[:3]}")
    with torch.no_grad():
        for k in video:
            own[k].copy_(state[k])
    pipe.model.copy_video_to_ray_branch()
    pipe.model.init_cross_attention_from_self()


class _TrainView:
    """What ``training_loss`` uses of a pipeline, with the accelerate-wrapped model for the forward
    pass (DDP/FSDP hooks run) and the autoencoder outside autograd."""

    def __init__(self, pipe: JointPipeline, model: torch.nn.Module):
        self.cfg, self.model, self._pipe = pipe.cfg, model, pipe

    @property
    def encoding(self) -> str:
        return self._pipe.encoding

    def clean_streams(self, video: torch.Tensor, rays: torch.Tensor, cond_idx: torch.Tensor):
        with torch.no_grad():
            return self._pipe.clean_streams(video, rays, cond_idx)

    def decode_rays(self, z: torch.Tensor) -> torch.Tensor:
        return self._pipe.decode_rays(z)

    def features(self, **frames: torch.Tensor) -> dict[str, torch.Tensor] | None:
        with torch.no_grad():
            return self._pipe.features(**frames)

    def reference_warp(self, *args: torch.Tensor) -> torch.Tensor | None:
        with torch.no_grad():
            return self._pipe.reference_warp(*args)


class _Weights:
    """A state dict posing as a module for ``save_checkpoint``."""

    def __init__(self, state: dict[str, torch.Tensor]):
        self._state = state

    def state_dict(self) -> dict[str, torch.Tensor]:
        return self._state


def param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """AdamW groups: decay on matrices / conv kernels; none on biases, norms and embeddings (ndim < 2)."""
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (decay if p.ndim >= 2 else no_decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def _rank_seed(seed: int, rank: int) -> int:
    return int(np.random.SeedSequence([seed, rank, 0x7A11]).generate_state(1, dtype=np.uint64)[0] >> 1)


# --------------------------------------------------------------------------------------
# Resume lookup
# --------------------------------------------------------------------------------------

def find_resume_checkpoint(path: str | Path) -> Path:
    """A checkpoint with a training state: ``path`` itself, or the latest one in the run directory ``path``."""
    path = Path(path)
    if has_training_state(path):
        return path
    candidates = [p for p in [path / "final", *sorted((path / "checkpoints").glob("step-*"))]
                  if not p.name.endswith(".tmp") and has_training_state(p)]
    if not candidates:
        raise ValueError(f"{path}: no resumable checkpoint (a run directory with checkpoints/step-*/ or "
                         "final/, or a checkpoint directory with training_state/)")
    return max(candidates, key=lambda p: read_state_doc(p)["counters"]["step"])


def run_config_of_checkpoint(path: str | Path) -> RunConfig:
    """The run configuration stored in a training checkpoint."""
    doc = read_state_doc(path)
    return RunConfig.from_dict(doc["run"], where=f"{path}/training_state/state.json")


# --------------------------------------------------------------------------------------
# Stopping on a signal between steps
# --------------------------------------------------------------------------------------

@contextmanager
def _stop_requests():
    """SIGINT / SIGTERM set a flag (a second SIGINT raises as usual); the loop saves and stops."""
    flag = {"stop": False}
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return
    old = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}

    def handler(signum, frame):
        if flag["stop"] and signum == signal.SIGINT:
            raise KeyboardInterrupt
        flag["stop"] = True
        print(f"\nsignal {signum}: finishing this step, saving a checkpoint, stopping "
              "(Ctrl-C again to abort without saving)", flush=True)

    for s in old:
        signal.signal(s, handler)
    try:
        yield flag
    finally:
        for s, h in old.items():
            signal.signal(s, h)


# --------------------------------------------------------------------------------------
# The loop
# --------------------------------------------------------------------------------------

def train(run: RunConfig, *, resume: str | Path | None = None, train_source: Any = None,
          heldout_source: Any = None, stop_at: int | None = None,
          accelerator: Accelerator | None = None) -> TrainResult:
    """Train as ``run`` says; returns where the results are.

    Args:
        resume: a run directory or a checkpoint with a training state: continue from it exactly.
        train_source / heldout_source: example sources overriding ``run.data`` (tests, notebooks).
        stop_at: stop after this many steps in total (checkpoint written, no evaluation), as if the run
            had been interrupted there; ``--resume`` continues it.
        accelerator: an existing Accelerator (default: one built from ``run.train``).
    """
    threads = torch.get_num_threads()
    if run.train.torch_threads:
        torch.set_num_threads(run.train.torch_threads)
    try:
        return _train(run, resume=resume, train_source=train_source, heldout_source=heldout_source,
                      stop_at=stop_at, accelerator=accelerator)
    finally:
        torch.set_num_threads(threads)


def _train(run: RunConfig, *, resume, train_source, heldout_source, stop_at, accelerator) -> TrainResult:
    tc, dc = run.train, run.data
    run.validate()
    # Several processes without CUDA (torchrun on CPUs): accelerate's multi-CPU mode (gloo) needs cpu=True.
    cpu_ddp = not torch.cuda.is_available() and int(os.environ.get("WORLD_SIZE", "1")) > 1
    acc = accelerator or Accelerator(mixed_precision=tc.mixed_precision, gradient_accumulation_steps=tc.grad_accum,
                                     cpu=cpu_ddp)
    is_main, rank, world = acc.is_main_process, acc.process_index, acc.num_processes
    device = acc.device
    if tc.mixed_precision != "no" and device.type == "cpu" and is_main:
        print(f"warning: mixed_precision = {tc.mixed_precision!r} on a CPU is slow; use 'no'")
    run_dir = Path(tc.output_dir)
    resume_from = find_resume_checkpoint(resume) if resume is not None else None
    if resume_from is None and (run_dir / "checkpoints").exists() and any((run_dir / "checkpoints").iterdir()):
        raise ValueError(f"{run_dir} already holds checkpoints of a run: continue it with --resume {run_dir}, "
                         "or choose another train.output_dir")

    # 1. Model, optimizer, schedule, EMA (same seed on every process: identical initial weights).
    set_seed(tc.seed)
    pipe = build_pipeline(run)
    if tc.freeze_video_stream:
        freeze_video_side(pipe.model)
    anchor = None
    if tc.video_anchor_weight:       # the init weights, before a resume replaces them
        teacher = copy.deepcopy(pipe.model).requires_grad_(False).eval().to(acc.device)
        anchor = VideoAnchor(teacher, tc.video_anchor_weight)
    cfg: EngineConfig = run.engine
    num_params = sum(p.numel() for p in pipe.model.parameters())
    pipe.vae.to(device)
    if tc.mixed_precision == "bf16" and any(True for _ in pipe.vae.parameters()):
        pipe.vae.to(torch.bfloat16)
    optimizer = torch.optim.AdamW(param_groups(pipe.model, tc.weight_decay), lr=tc.lr, betas=tc.betas,
                                  eps=tc.adam_eps)
    model, optimizer = acc.prepare(pipe.model, optimizer)
    unwrapped = acc.unwrap_model(model)
    scheduler = LambdaLR(optimizer.optimizer if hasattr(optimizer, "optimizer") else optimizer,
                         lambda k: lr_factor(k, total_steps=tc.steps, warmup_steps=tc.warmup_steps,
                                             schedule=tc.schedule, min_lr_ratio=tc.min_lr_ratio))
    ema = EMA(unwrapped, tc.ema_decay, warmup=tc.ema_warmup) if tc.ema_decay > 0 else None
    generator = torch.Generator(device=device).manual_seed(_rank_seed(tc.seed, rank))
    view = _TrainView(pipe, model)

    # 2. Resume.
    counters = {"step": 0, "examples": 0, "wall_s": 0.0, "data_s": 0.0, "step_s": 0.0, "timed_steps": 0}
    if resume_from is not None:
        counters.update(load_training_state(resume_from, model=unwrapped, optimizer=optimizer, scheduler=scheduler,
                                            ema=ema, generator=generator, rank=rank))
        if is_main:
            print(f"resumed from {resume_from} at step {counters['step']} ({counters['examples']} examples seen)")
    start_step = int(counters["step"])
    if is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / RUN_CONFIG).write_text(json.dumps(run.to_dict(), indent=2) + "\n")
    curves = CurveLog(run_dir / CURVES_CSV, resume_step=start_step if resume_from is not None else None) \
        if is_main else None

    # 3. Data.
    data_seed = dc.seed if dc.seed is not None else tc.seed
    if train_source is None:
        train_source = build_source(dc, cfg, seed=data_seed, split="train")
    loader = make_loader(train_source, batch_size=tc.batch_size, start=int(counters["examples"]), rank=rank,
                         world_size=world, num_workers=dc.num_workers, prefetch_factor=dc.prefetch_factor,
                         seed=_rank_seed(data_seed, rank))
    examples_per_step = tc.batch_size * tc.grad_accum * world
    end_step = min(tc.steps, stop_at) if stop_at is not None else tc.steps
    if is_main:
        print(f"training {num_params / 1e6:.2f}M parameters ({cfg.preset}) on {device} x {world}: "
              f"{examples_per_step} examples/step (batch {tc.batch_size} x accum {tc.grad_accum} x {world}), "
              f"steps {start_step} -> {end_step} of {tc.steps}, data {dc.source} with {dc.num_workers} workers, "
              f"run dir {run_dir}")

    def checkpoint_meta(step: int, final: bool) -> dict[str, Any]:
        domain = "procedural scenes" if dc.source == "procedural" else (
            f"{dc.source} ({dc.path})" if dc.path else dc.source)
        return {"training_domain": domain, "steps": step, "examples_seen": int(counters["examples"]),
                "weights": "ema" if ema is not None else "raw", "ema_decay": tc.ema_decay,
                "wall_time_s": round(float(counters["wall_s"]), 1), "final": final,
                "data": {"source": dc.source, "path": dc.path, "seed": data_seed, "options": dc.options},
                "train": {"seed": tc.seed, "batch_size": tc.batch_size, "grad_accum": tc.grad_accum,
                          "world_size": world, "lr": tc.lr, "schedule": tc.schedule, "steps": tc.steps},
                "run": str(run_dir), "trainer": "engine.train",
                "created": datetime.now(timezone.utc).isoformat(timespec="seconds")}

    def save(step: int, final: bool) -> Path:
        path = run_dir / "final" if final else run_dir / "checkpoints" / f"step-{step:07d}"
        tmp = path.with_name(path.name + ".tmp")
        if is_main and tmp.exists():
            shutil.rmtree(tmp)
        acc.wait_for_everyone()
        weights = ema.state_dict(unwrapped) if ema is not None else get_model_state_dict(
            unwrapped, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
        if is_main:
            save_checkpoint(tmp, _Weights(weights), cfg, checkpoint_meta(step, final))
        acc.wait_for_everyone()
        state_counters = {**counters, "step": step}
        save_training_state(tmp, model=unwrapped, optimizer=optimizer, scheduler=scheduler, ema=ema,
                            generator=generator, counters=state_counters, rank=rank, is_main=is_main)
        if is_main:                                          # the run config travels with the state
            f = tmp / "training_state" / "state.json"
            doc = json.loads(f.read_text())
            doc["run"] = run.to_dict()
            f.write_text(json.dumps(doc, indent=1) + "\n")
        acc.wait_for_everyone()
        if is_main:
            if path.exists():
                shutil.rmtree(path)
            tmp.rename(path)
            if not final and tc.keep_checkpoints:
                kept = sorted(p for p in (run_dir / "checkpoints").glob("step-*") if not p.name.endswith(".tmp"))
                for old in kept[:-tc.keep_checkpoints]:
                    shutil.rmtree(old)
            plot_curves(run_dir / CURVES_CSV, run_dir / CURVES_PNG, title=f"{run_dir.name} ({cfg.preset})")
        acc.wait_for_everyone()
        return path

    # 4. The loop.
    losses: list[float] = []
    interval = _Interval()
    session_start = time.perf_counter()
    wall_before = float(counters["wall_s"])
    last_ckpt: Path | None = resume_from
    pbar = tqdm(total=tc.steps, initial=start_step, desc="train", unit="step", dynamic_ncols=True,
                disable=not (tc.progress and is_main), mininterval=1.0)
    step = start_step
    stopped_early = False
    it = iter(loader)
    model.train()
    with _stop_requests() as stop:
        while step < end_step:
            t0 = time.perf_counter()
            data_s = 0.0
            grad_norm = math.nan
            step_loss = 0.0
            for _ in range(tc.grad_accum):
                t_wait = time.perf_counter()
                batch = next(it)
                data_s += time.perf_counter() - t_wait
                batch = {k: v.to(device, non_blocking=True) for k, v in batch.items() if isinstance(v, torch.Tensor)}
                with acc.accumulate(model), acc.autocast():
                    loss, logged = training_loss(view, batch, generator=generator, step=step, anchor=anchor)
                    acc.backward(loss)
                    if acc.sync_gradients:
                        grad_norm = float(acc.clip_grad_norm_(model.parameters(),
                                                              tc.grad_clip if tc.grad_clip > 0 else math.inf))
                        if not math.isfinite(grad_norm):
                            # One non-finite gradient would poison the weights and their EMA for good:
                            # drop this step's update and say so (counted in the summary).
                            optimizer.zero_grad(set_to_none=True)
                            counters["skipped_steps"] = counters.get("skipped_steps", 0) + 1
                            if is_main:
                                print(f"step {step}: non-finite gradient norm; update skipped", flush=True)
                    optimizer.step()
                    optimizer.zero_grad(set_to_none=True)
                step_loss += logged["loss"] / tc.grad_accum
                interval.add_micro(logged, 1.0 / tc.grad_accum)
            lr = scheduler.get_last_lr()[0]
            scheduler.step()
            if ema is not None:
                ema.update(unwrapped)
            step += 1
            counters["step"] = step
            counters["examples"] += examples_per_step
            step_s = time.perf_counter() - t0
            if step > start_step + 1 or end_step - start_step == 1:    # the first step of a session warms up
                counters["data_s"] += data_s
                counters["step_s"] += step_s
                counters["timed_steps"] += 1
            counters["wall_s"] = wall_before + time.perf_counter() - session_start
            losses.append(step_loss)
            interval.add_step(grad_norm, data_s, step_s)
            pbar.update(1)
            if step % tc.log_every == 0 or step == end_step:
                row = interval.row(acc, step=step, examples=int(counters["examples"]), lr=lr,
                                   wall_s=float(counters["wall_s"]))
                if is_main:
                    curves.append(row)
                    ratio = counters["data_s"] / counters["step_s"] if counters["step_s"] else 0.0
                    pbar.set_postfix(loss=f"{row['loss']:.4f}", lr=f"{lr:.2e}", data=f"{100 * ratio:.0f}%",
                                     refresh=False)
            stop_now = stop["stop"]
            if world > 1:                           # every process must stop at the same step
                flag = torch.tensor([1.0 if stop_now else 0.0], device=device)
                stop_now = bool(acc.reduce(flag, reduction="sum").item() > 0)
            stop_now = stop_now and step < end_step
            if stop_now or (tc.checkpoint_every and step % tc.checkpoint_every == 0 and step < tc.steps) or (
                    step == end_step < tc.steps):
                last_ckpt = save(step, final=False)
            if stop_now:
                stopped_early = True
                break
    pbar.close()
    del it

    # 5. Final checkpoint, evaluation, summary.
    completed = step >= tc.steps
    if completed and (resume_from is None or start_step < tc.steps or not (run_dir / "final").exists()):
        last_ckpt = save(step, final=True)
    timed = max(1, int(counters["timed_steps"]))
    summary: dict[str, Any] = {
        "step": step, "steps": tc.steps, "completed": completed, "examples_seen": int(counters["examples"]),
        "parameters": num_params, "preset": cfg.preset, "device": str(device), "world_size": world,
        "batch_size": tc.batch_size, "grad_accum": tc.grad_accum, "examples_per_step": examples_per_step,
        "num_workers": dc.num_workers, "wall_time_s": round(float(counters["wall_s"]), 2),
        "mean_step_s": counters["step_s"] / timed, "mean_data_s": counters["data_s"] / timed,
        "data_to_step_ratio": counters["data_s"] / counters["step_s"] if counters["step_s"] else 0.0,
        "timed_steps": int(counters["timed_steps"]), "checkpoint": str(last_ckpt) if last_ckpt else None,
        "skipped_steps": int(counters.get("skipped_steps", 0)),
    }
    if is_main and (run_dir / CURVES_CSV).is_file():
        rows = read_curves(run_dir / CURVES_CSV)
        if rows:
            summary["last_logged"] = {k: rows[-1][k] for k in ("step", "loss", "loss_video", "loss_rays")}
    if completed and run.eval.at_end and not stopped_early:
        acc.wait_for_everyone()
        if is_main:
            summary["eval"] = run_evaluation(run, last_ckpt, heldout_source=heldout_source, device=device,
                                             data_seed=data_seed)
            summary["eval_data"] = ("the given held-out source" if heldout_source is not None else
                                    "procedural held-out scene seeds" if dc.source == "procedural" else
                                    dc.heldout_path if dc.heldout_path else
                                    f"{dc.source} training clips with another seed (no data.heldout_path)")
        acc.wait_for_everyone()
    if is_main:
        (run_dir / SUMMARY).write_text(json.dumps(summary, indent=2, default=float) + "\n")
        if (run_dir / CURVES_CSV).is_file():
            plot_curves(run_dir / CURVES_CSV, run_dir / CURVES_PNG, title=f"{run_dir.name} ({cfg.preset})")
        print(f"step {step}/{tc.steps}: mean step {summary['mean_step_s']:.3f} s, data wait "
              f"{summary['mean_data_s']:.4f} s per step -> data/step ratio {summary['data_to_step_ratio']:.3f} "
              f"({dc.num_workers} workers); checkpoint {last_ckpt}")
        if "eval" in summary:
            print("evaluation: " + ", ".join(f"{k} {v:.4g}" for k, v in summary["eval"].items()))
    acc.wait_for_everyone()
    return TrainResult(run_dir=run_dir, checkpoint=last_ckpt, step=step, losses=losses, summary=summary)


def run_evaluation(run: RunConfig, checkpoint: Path, *, heldout_source: Any = None,
                   device: torch.device | str = "cpu", data_seed: int | None = None) -> dict[str, float]:
    """Load ``checkpoint`` as users do (``Engine.from_checkpoint``) and call the configured hook on
    ``run.eval.num_clips`` held-out examples. The results also go into the checkpoint's meta."""
    from ..engine import Engine
    from .data import resolve_callable

    ec = run.eval
    if heldout_source is None and ec.num_clips:
        seed = data_seed if data_seed is not None else (run.data.seed if run.data.seed is not None else run.train.seed)
        heldout_source = build_source(run.data, run.engine, seed=seed, split="heldout")
    examples = []
    if ec.num_clips:
        examples = [fetch_example(heldout_source, i) for i in range(ec.num_clips)]
    hook = resolve_callable(ec.hook, "eval.hook")
    engine = Engine.from_checkpoint(checkpoint, device=device)
    t0 = time.perf_counter()
    metrics = {k: float(v) for k, v in hook(engine, examples, ec).items()}
    metrics["eval_s"] = round(time.perf_counter() - t0, 2)
    cfg_file = Path(checkpoint) / "config.json"
    doc = json.loads(cfg_file.read_text())
    doc.setdefault("meta", {})["eval"] = metrics
    cfg_file.write_text(json.dumps(doc, indent=2) + "\n")
    return metrics


class _Interval:
    """Sums over a logging interval, reduced over processes when a row is written."""

    KEYS = ("loss", "mse", "cos", "lv_sum", "lv_tok", "lr_sum", "lr_tok", "grad_norm", "data_s", "step_s", "n")

    def __init__(self):
        self.reset()

    def reset(self) -> None:
        self.s = dict.fromkeys(self.KEYS, 0.0)

    def add_micro(self, logged: dict[str, float], w: float) -> None:
        self.s["loss"] += w * logged["loss"]
        self.s["mse"] += w * logged["mse"]
        self.s["cos"] += w * logged["cos"]
        self.s["lv_sum"] += logged["loss_video"] * logged["tokens_video"]
        self.s["lv_tok"] += logged["tokens_video"]
        self.s["lr_sum"] += logged["loss_rays"] * logged["tokens_rays"]
        self.s["lr_tok"] += logged["tokens_rays"]

    def add_step(self, grad_norm: float, data_s: float, step_s: float) -> None:
        self.s["grad_norm"] += grad_norm if math.isfinite(grad_norm) else 0.0
        self.s["data_s"] += data_s
        self.s["step_s"] += step_s
        self.s["n"] += 1

    def row(self, acc: Accelerator, **extra: Any) -> dict[str, float]:
        dtype = torch.float32 if acc.device.type == "mps" else torch.float64
        vals = torch.tensor([self.s[k] for k in self.KEYS], dtype=dtype, device=acc.device)
        if acc.num_processes > 1:
            vals = acc.reduce(vals, reduction="sum")
        s = dict(zip(self.KEYS, vals.tolist()))
        per_proc_steps = max(1.0, s["n"])                  # n is summed over processes too
        self.reset()
        return {**extra, "loss": s["loss"] / per_proc_steps, "mse": s["mse"] / per_proc_steps,
                "cos": s["cos"] / per_proc_steps,
                "loss_video": s["lv_sum"] / s["lv_tok"] if s["lv_tok"] else math.nan,
                "loss_rays": s["lr_sum"] / s["lr_tok"] if s["lr_tok"] else math.nan,
                "grad_norm": s["grad_norm"] / per_proc_steps,
                "data_s": s["data_s"] / per_proc_steps, "step_s": s["step_s"] / per_proc_steps}
