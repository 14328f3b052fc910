"""Training run configuration: a TOML file -> ``RunConfig`` (engine config + training, data, eval).

A run file has four sections; every key is optional and unknown keys or wrong types are errors::

    [engine]                 # the model: a preset, then per-section overrides of EngineConfig
    preset = "tiny"
    [engine.model]           # any ModelConfig field, e.g. dim = 160
    [engine.vae]             # VAEConfig fields (kind, patch_size, path, ...)
    [engine.flow]            # FlowConfig fields
    [engine.sampler]         # SamplerConfig fields
    [engine.clip]            # ClipConfig fields

    [train]                  # TrainConfig: optimisation, checkpoints, logging
    [data]                   # DataConfig: where examples come from, loader workers
    [data.options]           # free-form keyword arguments for the data source
    [eval]                   # EvalConfig: the end-of-run evaluation hook

``load_run_config(path, overrides=["train.steps=20"])`` reads a file; ``RunConfig.to_dict`` /
``from_dict`` round-trip through JSON (a run directory keeps its resolved config as ``run_config.json``).
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..config import ClipConfig, EngineConfig, FlowConfig, ModelConfig, SamplerConfig, VAEConfig, preset

DataSource = Literal["procedural", "re10k", "colmap", "transforms", "custom"]


@dataclass
class TrainConfig:
    """Optimisation and bookkeeping. Step counts are optimizer steps."""

    seed: int = 0                        # model init, noise/time draws, data stream (unless data.seed)
    steps: int = 1000
    batch_size: int = 8                  # examples per micro-batch per process
    grad_accum: int = 1                  # micro-batches per optimizer step
    lr: float = 3e-4                     # peak learning rate (AdamW)
    weight_decay: float = 0.01           # not applied to biases, norms and embeddings (1-D tensors)
    betas: tuple[float, float] = (0.9, 0.99)
    adam_eps: float = 1e-8
    warmup_steps: int = 100              # linear warmup from 0 to lr
    schedule: Literal["cosine", "constant"] = "cosine"
    min_lr_ratio: float = 0.1            # cosine decays to lr * min_lr_ratio at the last step
    grad_clip: float = 1.0               # max global grad norm; 0 disables clipping
    mixed_precision: Literal["no", "bf16", "fp16"] = "no"   # "no" on CPU, "bf16" on GPU
    ema_decay: float = 0.999             # 0 disables EMA (checkpoints then hold the raw weights)
    ema_warmup: bool = True              # decay_k = min(ema_decay, (1 + k) / (10 + k)) at update k
    checkpoint_every: int = 500          # periodic checkpoints (0: only the final one)
    keep_checkpoints: int = 3            # periodic checkpoints kept on disk (0 keeps all)
    log_every: int = 10                  # CSV row / progress bar update every N steps
    output_dir: str = "runs/run"
    init_checkpoint: str | None = None   # start from an engine checkpoint's weights (fine-tuning)
    # Zero the init checkpoint's video output projection: for a run that changes what the video head means
    # (model.video_residual, model.video_prior_std), so it starts from that form's zero output.
    reset_video_head: bool = False
    # Take only the video stream of init_checkpoint and build the ray stream and DSCA from it as from a
    # pretrained video model (the paper's init: ray layers copy the video layers, cross-attention copies
    # self-attention with a zero output). Ours, for the ablation arms: every arm, whatever its ray
    # encoding or attention, starts from the same video backbone.
    init_video_stream: bool = False
    # Train only the ray side (ray_io, the ray blocks): the video stream, its cross-attention to the rays
    # included, stays as initialised. Ours: a fine-tune for poses that cannot move the video weights, so
    # the generation changes only through the ray tokens the video attends to.
    freeze_video_stream: bool = False
    # Weight of an anchor on the video output (ours): the mean squared difference between the model's
    # predicted clean video latents and those of the frozen init checkpoint on the same noisy inputs,
    # over the tokens the video loss counts. A fine-tune that trains the video stream for poses can then
    # not drift from what the init checkpoint generates (distillation from it, beside the data's loss).
    video_anchor_weight: float = 0.0
    wan_transformer: str | None = None   # build the model from a local diffusers Wan 2.1 transformer folder
    torch_threads: int = 0               # intra-op CPU threads of each training process (0: torch's default)
    progress: bool = True                # tqdm progress bar on the main process


@dataclass
class DataConfig:
    """Where training examples come from (``engine.data``) and how they are loaded."""

    source: DataSource = "procedural"    # or a real-data kind reading ``path``, or "custom" (``factory``)
    path: str | None = None              # re10k / colmap / transforms: the local data folder
    heldout_path: str | None = None      # real data: clips for the end-of-run evaluation (else training clips)
    factory: str | None = None           # custom: "package.module:function" returning the source
    seed: int | None = None              # stream seed (default: train.seed)
    num_workers: int = 0                 # DataLoader worker processes (0: load in the training process)
    prefetch_factor: int = 2             # batches prefetched per worker
    options: dict[str, Any] = field(default_factory=dict)   # keyword arguments for the source


@dataclass
class EvalConfig:
    """The end-of-run evaluation: a hook called with the final checkpoint loaded as an ``Engine``."""

    at_end: bool = True
    hook: str = "engine.train.evaluate:evaluate_hook"
    num_clips: int = 8                   # held-out clips for the flow loss
    pose_clips: int = 4                  # of those, clips for pose estimation (mean rotation error)
    pose_steps: int | None = None        # default: the engine's sampler.pose_steps
    batch_size: int = 4
    seed: int = 1234                     # noise and times of the held-out loss, pose sampler seed


@dataclass
class RunConfig:
    engine: EngineConfig = field(default_factory=EngineConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    data: DataConfig = field(default_factory=DataConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    source: str | None = None            # the file it was read from (for messages)

    def to_dict(self) -> dict[str, Any]:
        return {"engine": self.engine.to_dict(), "train": dataclasses.asdict(self.train),
                "data": dataclasses.asdict(self.data), "eval": dataclasses.asdict(self.eval)}

    @classmethod
    def from_dict(cls, d: dict[str, Any], *, where: str = "run config") -> "RunConfig":
        """Inverse of ``to_dict`` (a resolved config: the engine section is a full EngineConfig dict)."""
        _check_keys(d, {"engine", "train", "data", "eval"}, where, "top level")
        eng = dict(d.get("engine", {}))
        for name, typ in _ENGINE_SECTIONS.items():
            if name in eng:
                eng[name] = dataclasses.asdict(_build(typ, eng[name], where, f"engine.{name}"))
        return cls(engine=EngineConfig.from_dict(eng),
                   train=_build(TrainConfig, d.get("train", {}), where, "train"),
                   data=_build(DataConfig, d.get("data", {}), where, "data"),
                   eval=_build(EvalConfig, d.get("eval", {}), where, "eval"), source=where)

    def validate(self) -> "RunConfig":
        """Cross-field checks that types alone cannot express; returns self."""
        t, where = self.train, self.source or "run config"
        positive = {"train.steps": t.steps, "train.batch_size": t.batch_size, "train.grad_accum": t.grad_accum,
                    "train.log_every": t.log_every, "data.prefetch_factor": self.data.prefetch_factor,
                    "eval.batch_size": self.eval.batch_size}
        for name, value in positive.items():
            if value < 1:
                raise ValueError(f"{where}: {name} must be >= 1, got {value}")
        nonneg = {"train.warmup_steps": t.warmup_steps, "train.checkpoint_every": t.checkpoint_every,
                  "train.keep_checkpoints": t.keep_checkpoints, "train.torch_threads": t.torch_threads,
                  "data.num_workers": self.data.num_workers, "eval.num_clips": self.eval.num_clips,
                  "eval.pose_clips": self.eval.pose_clips, "train.grad_clip": t.grad_clip,
                  "train.weight_decay": t.weight_decay}
        for name, value in nonneg.items():
            if value < 0:
                raise ValueError(f"{where}: {name} must be >= 0, got {value}")
        if not t.lr > 0:
            raise ValueError(f"{where}: train.lr must be > 0, got {t.lr}")
        if not 0 <= t.ema_decay < 1:
            raise ValueError(f"{where}: train.ema_decay must be in [0, 1), got {t.ema_decay}")
        if not 0 <= t.min_lr_ratio <= 1:
            raise ValueError(f"{where}: train.min_lr_ratio must be in [0, 1], got {t.min_lr_ratio}")
        if not all(0 <= b < 1 for b in t.betas):
            raise ValueError(f"{where}: train.betas must be in [0, 1), got {list(t.betas)}")
        if t.reset_video_head and not t.init_checkpoint:
            raise ValueError(f"{where}: train.reset_video_head needs train.init_checkpoint (a fresh model's head is "
                             "zero already)")
        if t.freeze_video_stream and not t.init_checkpoint:
            raise ValueError(f"{where}: train.freeze_video_stream needs train.init_checkpoint (a trained video stream)")
        if not (t.video_anchor_weight >= 0 and math.isfinite(t.video_anchor_weight)):
            raise ValueError(f"{where}: train.video_anchor_weight must be >= 0, got {t.video_anchor_weight}")
        if t.video_anchor_weight and not t.init_checkpoint:
            raise ValueError(f"{where}: train.video_anchor_weight needs train.init_checkpoint (the model to anchor to)")
        if t.video_anchor_weight and t.freeze_video_stream:
            raise ValueError(f"{where}: train.video_anchor_weight with train.freeze_video_stream: the frozen video "
                             "cannot drift, the anchor would only cost a forward pass")
        if t.init_video_stream and not t.init_checkpoint:
            raise ValueError(f"{where}: train.init_video_stream needs train.init_checkpoint (whose video stream to take)")
        if t.init_checkpoint and t.wan_transformer:
            raise ValueError(f"{where}: give train.init_checkpoint or train.wan_transformer, not both")
        d = self.data
        if d.source in ("re10k", "colmap", "transforms") and not d.path:
            raise ValueError(f"{where}: data.source = {d.source!r} needs data.path (a local folder)")
        if d.source == "custom" and not d.factory:
            raise ValueError(f"{where}: data.source = 'custom' needs data.factory ('package.module:function')")
        if self.eval.pose_clips > self.eval.num_clips:
            raise ValueError(f"{where}: eval.pose_clips ({self.eval.pose_clips}) > eval.num_clips "
                             f"({self.eval.num_clips})")
        return self


_ENGINE_SECTIONS = {"model": ModelConfig, "vae": VAEConfig, "flow": FlowConfig, "sampler": SamplerConfig,
                    "clip": ClipConfig}


# --------------------------------------------------------------------------------------
# Reading files
# --------------------------------------------------------------------------------------

def load_run_config(path: str | Path, overrides: list[str] | None = None) -> RunConfig:
    """Read a TOML run file, apply ``section.key=value`` overrides (values in TOML syntax), validate."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such config file")
    try:
        raw = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: not valid TOML ({exc})") from exc
    return parse_run_config(raw, where=str(path), overrides=overrides)


def parse_run_config(raw: dict[str, Any], *, where: str = "run config",
                     overrides: list[str] | None = None) -> RunConfig:
    """A RunConfig from the parsed TOML tables of a run file (see the module docstring)."""
    raw = _apply_overrides(_deep_copy(raw), overrides or [])
    _check_keys(raw, {"engine", "train", "data", "eval"}, where, "top level")
    eng = raw.get("engine", {})
    _check_table(eng, where, "engine")
    _check_keys(eng, {"preset", *_ENGINE_SECTIONS}, where, "engine")
    name = eng.get("preset", "tiny")
    if not isinstance(name, str):
        raise ValueError(f"{where}: [engine] preset: expected a string, got {_describe(name)}")
    try:
        cfg = preset(name)
    except ValueError as exc:
        raise ValueError(f"{where}: [engine] {exc}") from exc
    parts = {}
    for section, typ in _ENGINE_SECTIONS.items():
        base = getattr(cfg, section)
        parts[section] = _build(typ, eng.get(section, {}), where, f"engine.{section}", base=base)
    engine_cfg = dataclasses.replace(cfg, **parts)
    run = RunConfig(engine=engine_cfg,
                    train=_build(TrainConfig, raw.get("train", {}), where, "train"),
                    data=_build(DataConfig, raw.get("data", {}), where, "data"),
                    eval=_build(EvalConfig, raw.get("eval", {}), where, "eval"), source=where)
    return run.validate()


def _deep_copy(d: Any) -> Any:
    if isinstance(d, dict):
        return {k: _deep_copy(v) for k, v in d.items()}
    if isinstance(d, list):
        return [_deep_copy(v) for v in d]
    return d


def _apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """``train.steps=20``, ``engine.model.dim=64``, ``data.path="/data"`` (bare words are strings)."""
    for item in overrides:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key or any(not part for part in key.split(".")):
            raise ValueError(f"override {item!r}: expected section.key=value, e.g. train.steps=20")
        try:
            value = tomllib.loads(f"v = {text.strip()}")["v"]
        except tomllib.TOMLDecodeError:
            value = text.strip()                       # a bare word: a string
        *tables, leaf = key.split(".")
        node = raw
        for t in tables:
            node = node.setdefault(t, {})
            if not isinstance(node, dict):
                raise ValueError(f"override {item!r}: {t!r} is not a table")
        node[leaf] = value
    return raw


# --------------------------------------------------------------------------------------
# Typed construction with clear errors
# --------------------------------------------------------------------------------------

def _describe(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) < 60 else text[:57] + '...'}"


def _check_table(value: Any, where: str, section: str) -> None:
    if not isinstance(value, dict):
        raise ValueError(f"{where}: [{section}] must be a table, got {_describe(value)}")


def _check_keys(d: dict[str, Any], known: set[str], where: str, section: str) -> None:
    for key in d:
        if key not in known:
            close = difflib.get_close_matches(key, sorted(known), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            label = "unknown section" if section == "top level" else f"[{section}] unknown key"
            raise ValueError(f"{where}: {label} {key!r}{hint}; known: {', '.join(sorted(known))}")


def _build(cls: type, values: Any, where: str, section: str, *, base: Any = None) -> Any:
    """``cls(**values)`` (or ``base`` with ``values`` replaced) with every value type-checked."""
    _check_table(values, where, section)
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls) if f.init]
    _check_keys(values, set(names), where, section)
    checked = {k: _coerce(v, hints[k], f"{where}: [{section}] {k}") for k, v in values.items()}
    return dataclasses.replace(base, **checked) if base is not None else cls(**checked)


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(tp) if a is not type(None))
    if origin is tuple:
        args = typing.get_args(tp)
        return f"a list of {len(args)} {_type_name(args[0])}s" if args else "a list"
    if origin is dict or tp is dict:
        return "a table"
    return {int: "an integer", float: "a number", bool: "true or false", str: "a string"}.get(tp, str(tp))


def _coerce(value: Any, tp: Any, label: str) -> Any:
    """Check ``value`` against a dataclass field type; ints are accepted for floats, lists for tuples."""
    origin = typing.get_origin(tp)
    fail = ValueError(f"{label}: expected {_type_name(tp)}, got {_describe(value)}")
    if origin is Literal:
        if value not in typing.get_args(tp) or isinstance(value, bool):
            raise fail
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in typing.get_args(tp):      # JSON null (stored configs)
            return None
        for arg in typing.get_args(tp):
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, label)
            except ValueError:
                pass
        raise fail
    if origin is tuple:
        args = typing.get_args(tp)
        if not isinstance(value, (list, tuple)) or len(value) != len(args):
            raise fail
        return tuple(_coerce(v, a, f"{label}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            raise fail
        return dict(value)
    if tp is bool:
        if not isinstance(value, bool):
            raise fail
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise fail
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise fail
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise fail
        return value
    raise ValueError(f"{label}: unsupported field type {tp!r}")
