"""Training: TOML run configs, an accelerate training loop with EMA and exact resume, curves, evaluation.

    python -m engine train --config configs/tiny.toml
    accelerate launch -m engine train --config configs/wan-1.3b.toml

    from engine.train import load_run_config, train
    result = train(load_run_config("configs/tiny.toml", ["train.steps=20"]))

The names load on first use (PEP 562): loading a checkpoint reads ``engine.train.config``, and that must
not import the trainer (accelerate, the data pipeline) with it (issue 13, cold start).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_getattr

_EXPORTS = {
    "DataConfig": ".config", "EvalConfig": ".config", "RunConfig": ".config", "TrainConfig": ".config",
    "load_run_config": ".config", "parse_run_config": ".config",
    "StreamBatchSampler": ".data", "collate_examples": ".data", "make_loader": ".data",
    "EMA": ".ema", "evaluate_hook": ".evaluate", "lr_factor": ".schedule",
    "TrainResult": ".trainer", "build_pipeline": ".trainer", "find_resume_checkpoint": ".trainer",
    "run_evaluation": ".trainer", "train": ".trainer",
}

__all__ = ["RunConfig", "TrainConfig", "DataConfig", "EvalConfig", "load_run_config", "parse_run_config",
           "train", "TrainResult", "build_pipeline", "find_resume_checkpoint", "run_evaluation", "evaluate_hook",
           "EMA", "lr_factor", "make_loader", "StreamBatchSampler", "collate_examples"]


__getattr__ = lazy_getattr(__name__, _EXPORTS)


if TYPE_CHECKING:
    from .config import DataConfig, EvalConfig, RunConfig, TrainConfig, load_run_config, parse_run_config
    from .data import StreamBatchSampler, collate_examples, make_loader
    from .ema import EMA
    from .evaluate import evaluate_hook
    from .schedule import lr_factor
    from .trainer import TrainResult, build_pipeline, find_resume_checkpoint, run_evaluation, train
