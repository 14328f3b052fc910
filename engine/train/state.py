"""The training state beside a checkpoint, for exact resume. Safetensors and JSON only: nothing unpickles.

A checkpoint directory written during training::

    step-000500/
      model.safetensors         EMA weights (raw weights when EMA is off): what inference loads
      config.json               engine config + meta (engine.checkpoint format)
      training_state/
        state.json              counters, data position, scheduler, optimizer hyper-parameters,
                                EMA bookkeeping, timings
        model.safetensors       raw (non-EMA) weights
        optimizer.safetensors   AdamW moments and step counts, keyed "<param name>/<slot>"
        rng-rank<r>.safetensors torch CPU / CUDA / training-generator states of process r
        rng-rank<r>.json        Python and NumPy RNG states of process r

The EMA shadows are read back from the checkpoint's ``model.safetensors`` (they are float32 there).

Optimizer and model states go through ``torch.distributed.checkpoint.state_dict`` with full state
dicts, so the same code serves one process, DDP and FSDP2 (every process calls save / load: under
FSDP2 gathering and scattering are collective).

A *packed* state (``pack_training_state``, ``python -m engine pack-state``) is the same layout made small
enough to commit to git, so a long run outlives the machine it ran on (*(ours)*): the raw weights are
stored as their bfloat16 difference from the (float32) EMA weights, which is small, so they come back to
about 1e-5 of their value, and the AdamW moments in bfloat16 (about 3 significant digits, ample for
running averages). Resuming from it continues the run closely, not bit-exactly; ``state.json`` says so
under ``"packed"``.
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch.distributed.checkpoint.state_dict import (StateDictOptions, get_model_state_dict,
                                                     get_optimizer_state_dict, set_model_state_dict,
                                                     set_optimizer_state_dict)

from ..checkpoint import WEIGHTS
from .ema import EMA

STATE_DIR = "training_state"
STATE_FORMAT = "raxel-studio.training-state"
STATE_VERSION = 1


def has_training_state(path: str | Path) -> bool:
    return (Path(path) / STATE_DIR / "state.json").is_file()


# --------------------------------------------------------------------------------------
# RNG
# --------------------------------------------------------------------------------------

def _rng_tensors(generator: torch.Generator) -> dict[str, torch.Tensor]:
    out = {"torch_cpu": torch.get_rng_state(), "generator": generator.get_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            out[f"torch_cuda_{i}"] = s
    return out


def _rng_json() -> dict[str, Any]:
    version, internal, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    return {"python": [version, list(internal), gauss],
            "numpy": [kind, keys.tolist(), int(pos), int(has_gauss), float(cached)]}


def _restore_rng(tensors: dict[str, torch.Tensor], doc: dict[str, Any], generator: torch.Generator) -> None:
    torch.set_rng_state(tensors["torch_cpu"])
    generator.set_state(tensors["generator"])
    cuda = [tensors[k] for k in sorted(tensors) if k.startswith("torch_cuda_")]
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda[: torch.cuda.device_count()])
    version, internal, gauss = doc["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, pos, has_gauss, cached = doc["numpy"]
    np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))


# --------------------------------------------------------------------------------------
# Optimizer state <-> safetensors + JSON
# --------------------------------------------------------------------------------------

def _flatten_optimizer(sd: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for pname, slots in sd["state"].items():
        for slot, value in slots.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{pname}/{slot}"] = value.detach().to("cpu").contiguous()
            else:
                scalars.setdefault(pname, {})[slot] = value
    groups = []
    for g in sd["param_groups"]:
        groups.append({k: (list(v) if isinstance(v, tuple) else v) for k, v in g.items()})
    return tensors, {"param_groups": groups, "scalars": scalars}


def _unflatten_optimizer(tensors: dict[str, torch.Tensor], doc: dict[str, Any]) -> dict[str, Any]:
    state: dict[str, dict[str, Any]] = {}
    for key, value in tensors.items():
        pname, _, slot = key.rpartition("/")
        state.setdefault(pname, {})[slot] = value
    for pname, slots in doc.get("scalars", {}).items():
        state.setdefault(pname, {}).update(slots)
    groups = []
    for g in doc["param_groups"]:
        g = dict(g)
        if "betas" in g:
            g["betas"] = tuple(g["betas"])
        groups.append(g)
    return {"state": state, "param_groups": groups}


# --------------------------------------------------------------------------------------
# Save / load
# --------------------------------------------------------------------------------------

_FULL = StateDictOptions(full_state_dict=True, cpu_offload=True)


def save_training_state(path: str | Path, *, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                        scheduler: Any, ema: EMA | None, generator: torch.Generator, counters: dict[str, Any],
                        rank: int = 0, is_main: bool = True) -> Path:
    """Write ``path/training_state``. Every process calls this (gathers are collective); the main
    process writes the shared files, each process its own RNG files.

    ``model`` is the unwrapped module (parameters named as in the checkpoint); ``optimizer`` the
    torch optimizer (or accelerate's wrapper of it).
    """
    out = Path(path) / STATE_DIR
    out.mkdir(parents=True, exist_ok=True)
    opt = getattr(optimizer, "optimizer", optimizer)            # accelerate's AcceleratedOptimizer
    model_sd = get_model_state_dict(model, options=_FULL)
    opt_sd = get_optimizer_state_dict(model, opt, options=_FULL)
    if is_main:
        save_file({k: v.contiguous() for k, v in model_sd.items()}, str(out / "model.safetensors"))
        opt_tensors, opt_doc = _flatten_optimizer(opt_sd)
        save_file(opt_tensors, str(out / "optimizer.safetensors"))
        doc = {"format": STATE_FORMAT, "format_version": STATE_VERSION, "counters": counters,
               "scheduler": scheduler.state_dict(), "optimizer": opt_doc,
               "ema": None if ema is None else {"decay": ema.decay, "warmup": ema.warmup,
                                                 "num_updates": ema.num_updates}}
        (out / "state.json").write_text(json.dumps(doc, indent=1) + "\n")
    save_file(_rng_tensors(generator), str(out / f"rng-rank{rank}.safetensors"))
    (out / f"rng-rank{rank}.json").write_text(json.dumps(_rng_json()) + "\n")
    return out


def read_state_doc(path: str | Path) -> dict[str, Any]:
    """The ``state.json`` of a checkpoint directory, checked."""
    f = Path(path) / STATE_DIR / "state.json"
    if not f.is_file():
        raise ValueError(f"{path}: no {STATE_DIR}/state.json (not a resumable training checkpoint)")
    doc = json.loads(f.read_text())
    if doc.get("format") != STATE_FORMAT or doc.get("format_version", 0) > STATE_VERSION:
        raise ValueError(f"{f}: not a supported training state (format {doc.get('format')!r}, "
                         f"version {doc.get('format_version')!r})")
    return doc


def pack_training_state(checkpoint: str | Path, out: str | Path) -> Path:
    """Write a packed copy of the resumable ``checkpoint`` to the new directory ``out`` (see the module
    docstring). Inference reads ``out`` exactly as it reads ``checkpoint``; ``--resume out`` continues the run."""
    src, out = Path(checkpoint), Path(out)
    doc = read_state_doc(src)
    if doc.get("packed"):
        raise ValueError(f"{src}: already packed")
    if out.exists():
        raise ValueError(f"{out}: exists; pack into a new directory")
    ema_weights = load_file(str(src / WEIGHTS))
    raw = load_file(str(src / STATE_DIR / "model.safetensors"))
    delta = {}
    for key, value in raw.items():
        if not value.is_floating_point():
            delta[key] = value
        elif key in ema_weights and ema_weights[key].shape == value.shape:
            delta[key] = (value.double() - ema_weights[key].double()).to(torch.bfloat16)
        else:
            raise ValueError(f"{src}: raw weight {key} has no EMA counterpart of its shape in {WEIGHTS}")
    moments = {k: (v.to(torch.bfloat16) if v.is_floating_point() and v.dim() > 0 else v)
               for k, v in load_file(str(src / STATE_DIR / "optimizer.safetensors")).items()}
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(src, tmp)                    # then the two big files are replaced by their packed forms
    save_file(delta, str(tmp / STATE_DIR / "model.safetensors"))
    save_file(moments, str(tmp / STATE_DIR / "optimizer.safetensors"))
    doc["packed"] = {"from": str(src), "model": "bfloat16 difference from the weights in " + WEIGHTS,
                     "optimizer": "bfloat16 moments", "resume": "close, not bit-exact"}
    (tmp / STATE_DIR / "state.json").write_text(json.dumps(doc, indent=1) + "\n")
    tmp.rename(out)
    return out


def _raw_weights(path: Path, doc: dict[str, Any]) -> dict[str, torch.Tensor]:
    stored = load_file(str(path / STATE_DIR / "model.safetensors"))
    if not doc.get("packed"):
        return stored
    base = load_file(str(path / WEIGHTS))
    return {k: (base[k].double() + v.double()).to(base[k].dtype) if v.is_floating_point() else v
            for k, v in stored.items()}


def load_training_state(path: str | Path, *, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                        scheduler: Any, ema: EMA | None, generator: torch.Generator,
                        rank: int = 0) -> dict[str, Any]:
    """Restore everything ``save_training_state`` wrote; returns the counters. Every process calls it."""
    path = Path(path)
    doc = read_state_doc(path)
    state_dir = path / STATE_DIR
    set_model_state_dict(model, _raw_weights(path, doc), options=StateDictOptions(full_state_dict=True))
    opt = getattr(optimizer, "optimizer", optimizer)
    opt_tensors = load_file(str(state_dir / "optimizer.safetensors"))
    if doc.get("packed"):
        opt_tensors = {k: v.float() if v.dtype == torch.bfloat16 else v for k, v in opt_tensors.items()}
    opt_sd = _unflatten_optimizer(opt_tensors, doc["optimizer"])
    set_optimizer_state_dict(model, opt, optim_state_dict=opt_sd, options=StateDictOptions(full_state_dict=True))
    scheduler.load_state_dict(doc["scheduler"])
    if ema is not None:
        if doc["ema"] is None:
            raise ValueError(f"{path}: the run had no EMA but the config asks for one (train.ema_decay)")
        ema.load_shadows(load_file(str(path / WEIGHTS)), doc["ema"]["num_updates"])
    rng_file = state_dir / f"rng-rank{rank}.safetensors"
    if rng_file.is_file():
        _restore_rng(load_file(str(rng_file)), json.loads((state_dir / f"rng-rank{rank}.json").read_text()),
                     generator)
    else:                    # more processes than the run had: keep this process's fresh seeding
        print(f"warning: {path} has no RNG state for process {rank}; its random stream restarts")
    return dict(doc["counters"])
