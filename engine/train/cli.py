"""``python -m engine train``: the command line of the trainer (wired into ``engine.cli``).

    python -m engine train --config configs/tiny.toml
    python -m engine train --config configs/tiny.toml --set train.steps=20 --set train.output_dir=runs/try
    python -m engine train --resume runs/tiny                 # the run's own config, exactly where it stopped
    python -m engine train --resume runs/tiny --config configs/tiny.toml --set train.steps=6000   # extend
    accelerate launch -m engine train --config configs/wan-1.3b.toml
    python -m engine pack-state runs/tiny --out assets/checkpoints/raxels-tiny/training/resume   # for git
"""

from __future__ import annotations

import argparse


def add_train_command(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``train`` on the ``python -m engine`` sub-command parser."""
    p = subparsers.add_parser("train", help="train or fine-tune a model from a TOML run config",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default=None, help="TOML run config (configs/*.toml); optional with --resume")
    p.add_argument("--resume", default=None, metavar="DIR",
                   help="continue a run exactly: its run directory or one of its checkpoints")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE", dest="overrides",
                   help="override a config value (TOML syntax), e.g. train.steps=20; repeatable")
    p.add_argument("--stop-at", type=int, default=None, metavar="STEP",
                   help="save a checkpoint and stop after this many steps in total (split a long run)")
    p.set_defaults(func=run_train)
    return p


def load_config_for(args: argparse.Namespace):
    """The RunConfig a ``train`` invocation means: the file, or the resumed run's own config."""
    from .config import load_run_config, parse_run_config
    from .trainer import find_resume_checkpoint, run_config_of_checkpoint

    if args.config:
        return load_run_config(args.config, args.overrides)
    if not args.resume:
        raise ValueError("train: give --config FILE (or --resume DIR to continue a run)")
    run = run_config_of_checkpoint(find_resume_checkpoint(args.resume))
    if args.overrides:                               # re-parse with the overrides applied
        raw = run.to_dict()
        eng = raw["engine"]
        raw["engine"] = {"preset": eng["preset"], **{k: eng[k] for k in ("model", "vae", "flow", "sampler", "clip")}}
        run = parse_run_config(raw, where=f"{args.resume} (stored config)", overrides=args.overrides)
    return run


def run_train(args: argparse.Namespace) -> int:
    from .trainer import train

    run = load_config_for(args)
    result = train(run, resume=args.resume, stop_at=args.stop_at)
    return 0 if result.step >= run.train.steps or args.stop_at is not None else 1


def add_pack_command(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``pack-state`` on the ``python -m engine`` sub-command parser."""
    p = subparsers.add_parser("pack-state", help=PACK_HELP,
                              description=PACK_HELP + ": the raw weights as bfloat16 differences from the EMA "
                              "weights, the optimizer moments in bfloat16 (engine/train/state.py); "
                              "--resume OUT continues the run closely, not bit-exactly")
    p.add_argument("run", help="a run directory (its latest checkpoint) or a checkpoint with a training state")
    p.add_argument("--out", required=True, help="new directory to write")
    p.set_defaults(func=run_pack)
    return p


PACK_HELP = "a small copy of a run's resumable state, to commit so the run outlives the machine"


def run_pack(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .state import pack_training_state
    from .trainer import find_resume_checkpoint

    src = find_resume_checkpoint(args.run)
    out = pack_training_state(src, args.out)
    sizes = sum(f.stat().st_size for f in Path(out).rglob("*") if f.is_file())
    print(f"packed {src} into {out} ({sizes / 2**20:.1f} MiB); continue with: python -m engine train --resume {out}")
    return 0


AVERAGE_HELP = "the mean of a run's checkpoints (stochastic weight averaging)"


def add_average_command(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``average-checkpoints`` on the ``python -m engine`` sub-command parser."""
    p = subparsers.add_parser("average-checkpoints", help=AVERAGE_HELP,
                              description=AVERAGE_HELP + " (engine/train/average.py): one run's checkpoints, "
                              "same model config; the output is an ordinary checkpoint")
    p.add_argument("checkpoints", nargs="+", help="checkpoint directories (at least 2)")
    p.add_argument("--out", required=True, help="new directory to write")
    p.set_defaults(func=run_average)
    return p


def run_average(args: argparse.Namespace) -> int:
    from .average import average_checkpoints

    out = average_checkpoints(args.checkpoints, args.out)
    print(f"averaged {len(args.checkpoints)} checkpoints into {out}")
    return 0
