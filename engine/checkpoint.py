"""Checkpoints: a directory with ``model.safetensors`` and ``config.json``. Loading never unpickles.

config.json::

    {"format": "raxel-studio.checkpoint", "format_version": 1,
     "config": <EngineConfig.to_dict()>, "meta": {free-form: training run, steps, data, notes}}
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from .config import FORMAT_VERSION, EngineConfig
from .config_check import check_config_matches_weights, checked_engine_config, weight_shapes

FORMAT_NAME = "raxel-studio.checkpoint"
WEIGHTS = "model.safetensors"
CONFIG = "config.json"


def save_checkpoint(path: str | Path, model: torch.nn.Module, config: EngineConfig,
                    meta: dict[str, Any] | None = None) -> Path:
    """Write weights and config. Tensors are saved contiguous, on CPU, in their own dtype."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    tmp = path / (WEIGHTS + ".tmp")
    tmp.unlink(missing_ok=True)
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    mode = tmp.stat().st_mode & 0o777            # what open() gives a new file here: 0o666 less the umask
    save_file(state, str(tmp), metadata={"format": FORMAT_NAME, "format_version": str(FORMAT_VERSION)})
    os.chmod(tmp, mode)                          # safetensors writes 0600, which hides a checkpoint from the group
    tmp.replace(path / WEIGHTS)  # atomic: a crash mid-save never leaves a half-written checkpoint
    doc = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION, "config": config.to_dict(), "meta": meta or {}}
    (path / CONFIG).write_text(json.dumps(doc, indent=2) + "\n")
    return path


def read_checkpoint_config(path: str | Path) -> tuple[EngineConfig, dict[str, Any]]:
    """The config and meta of a checkpoint directory, with clear errors for anything else."""
    path = Path(path)
    if not path.is_dir():
        raise ValueError(f"{path}: not a checkpoint directory")
    cfg_file = path / CONFIG
    if not cfg_file.is_file():
        raise ValueError(f"{path}: no {CONFIG} (a checkpoint holds {WEIGHTS} and {CONFIG})")
    try:
        doc = json.loads(cfg_file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise ValueError(f"{cfg_file}: not valid JSON ({exc})") from exc
    if not isinstance(doc, dict) or doc.get("format") != FORMAT_NAME:
        raise ValueError(f"{cfg_file}: not a raxel-studio checkpoint config (format {doc.get('format')!r})"
                         if isinstance(doc, dict) else f"{cfg_file}: not a raxel-studio checkpoint config")
    version = doc.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version <= FORMAT_VERSION:
        raise ValueError(f"{cfg_file}: format_version {version!r} is not supported "
                         f"(this engine reads 1 to {FORMAT_VERSION})")
    cfg_dict, meta = doc.get("config", {}), doc.get("meta", {})
    if not isinstance(meta, dict):
        raise ValueError(f"{cfg_file}: meta: expected a JSON object, got {type(meta).__name__}")
    if isinstance(cfg_dict, dict):
        cfg_dict = {"format_version": version, **cfg_dict}
    return checked_engine_config(cfg_dict, where=cfg_file), dict(meta)


def load_checkpoint(path: str | Path) -> tuple[EngineConfig, dict[str, torch.Tensor], dict[str, Any]]:
    """(config, state dict on CPU, meta). The config is checked against the weights' header before any
    tensor is read, so a config that does not describe its weights fails by name, without allocating."""
    cfg, meta = read_checkpoint_config(path)
    weights = Path(path) / WEIGHTS
    if not weights.is_file():
        raise ValueError(f"{path}: no {WEIGHTS}")
    check_config_matches_weights(cfg, weight_shapes(weights), config_file=Path(path) / CONFIG, weights_file=weights)
    try:
        state = load_file(str(weights))
    except Exception as exc:  # safetensors raises its own error types for corrupt headers
        raise ValueError(f"{weights}: cannot be read as safetensors ({exc})") from exc
    return cfg, state, meta
