"""Training: TOML run configs, an accelerate training loop with EMA and exact resume, curves, evaluation.

    python -m engine train --config configs/tiny.toml
    accelerate launch -m engine train --config configs/wan-1.3b.toml

    from engine.train import load_run_config, train
    result = train(load_run_config("configs/tiny.toml", ["train.steps=20"]))
"""

from .config import DataConfig, EvalConfig, RunConfig, TrainConfig, load_run_config, parse_run_config
from .data import StreamBatchSampler, collate_examples, make_loader
from .ema import EMA
from .evaluate import evaluate_hook
from .schedule import lr_factor
from .trainer import TrainResult, build_pipeline, find_resume_checkpoint, run_evaluation, train

__all__ = ["RunConfig", "TrainConfig", "DataConfig", "EvalConfig", "load_run_config", "parse_run_config",
           "train", "TrainResult", "build_pipeline", "find_resume_checkpoint", "run_evaluation", "evaluate_hook",
           "EMA", "lr_factor", "make_loader", "StreamBatchSampler", "collate_examples"]
