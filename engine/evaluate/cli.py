"""``python -m engine evaluate``: poses, generation and cycle consistency of a checkpoint on a benchmark.

    python -m engine evaluate --checkpoint assets/checkpoints/raxels-tiny --benchmark procedural \\
        --num-clips 16 --steps 1,2,5,20 --colmap --out results/tiny-procedural     # + the COLMAP baseline
    python -m engine evaluate --benchmark re10k:../shared/data/re10k-clips --colmap --out results/tiny-re10k

Writes ``<out>/report.md``, ``poses.csv``, ``poses_per_clip.csv``, ``generation.csv``, ``cycle.csv``,
``frechet.csv`` (with ``--fid-weights`` / ``--fvd-weights``) and ``poses_vs_steps.png``, ``generation.png``, ``cycle.png``.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path
from typing import Any, Sequence

from . import cycle as cycle_mod
from . import generation as gen_mod
from . import poses as poses_mod
from .benchmarks import EvalClip, load_benchmark
from .frechet import load_extractor
from .report import markdown_table, mean_row, plot_per_clip, plot_pose_steps, write_csv


def run_evaluation(engine, clips: list[EvalClip], out: str | Path, *, benchmark: str = "", steps: Sequence[int] = (1, 2, 5, 20),
                   colmap: bool = False, generation: bool = True, cycle: bool = True, video_steps: int | None = None,
                   pose_steps: int = 2, fid_weights: str | None = None, fvd_weights: str | None = None,
                   seed: int = 0) -> Path:
    """Run every part on ``clips`` and write the report into ``out``; returns the report path."""
    # Bad extractor weights fail here, before minutes of sampling.
    extractors = {kind: load_extractor(path, kind)
                  for kind, path in (("fid", fid_weights), ("fvd", fvd_weights)) if path and generation}
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    info = engine.info()
    md = [f"# Evaluation: {info['source']} on {benchmark or 'custom clips'}", "",
          f"- model: preset {info['preset']}, {info['parameters'] / 1e6:.2f}M parameters, trained: {info['trained']}, "
          f"training domain: {info['training_domain']}",
          f"- device: {info['device']} ({platform.processor() or platform.machine()}), dtype {info['dtype']}",
          f"- clips: {len(clips)} ({', '.join(f'{c.id} [{c.label}]' for c in clips)}), "
          f"{clips[0].frames.shape[2]}x{clips[0].frames.shape[1]} (model grid); poses on every frame "
          f"({', '.join(str(n) for n in sorted({len(c.pose_frames) for c in clips}))} frames, in windows: "
          "docs/windowing.md), "
          f"generation and cycle on {clips[0].frames.shape[0]} frames picked evenly",
          f"- seed {seed}; metric definitions: docs/metrics.md", ""]
    if not engine.trained:
        md += ["**Untrained weights: the numbers below are of random outputs.**", ""]

    baselines = ("two-view", "colmap") if colmap else ("two-view",)
    rows, per_clip = poses_mod.evaluate_poses(engine, clips, steps, baselines=baselines, seed=seed)
    write_csv(out / "poses.csv", rows, poses_mod.COLUMNS)
    write_csv(out / "poses_per_clip.csv", per_clip, list(per_clip[0]))
    plot_pose_steps(out / "poses_vs_steps.png", rows)
    sizes = sorted({f"{c.baseline_frames.shape[2]}x{c.baseline_frames.shape[1]}" for c in clips})
    md += ["## Pose estimation (Table 3 shape)", "",
           "Columns lead with ATE_rel (ATE over the RMS spread of the true camera centres: an all-zero "
           "translation scores exactly 1, perfect 0, nothing above 1) and AUC@30 / RRA_AUC@30 (an all-zero "
           "translation gets 90 deg per moving pair). mRRA@30 is the plain fraction of frame pairs with relative "
           "rotation error < 30 deg (the paper's number); RRA_AUC@30 the rotation-only AUC over thresholds 1..30. "
           "Pairs are pooled over clips; ATE and ATE_rel are means over clips after a Sim(3) fit. "
           "`kind` says what each row is: the model; the model's prediction for another clip scored against "
           "this one (own/other); input-free answers (`identity` never moves nor turns, `forward line` moves "
           "straight ahead): a model that does not beat them has not shown it reads the video; and classical "
           f"baselines on every frame at the clip's own resolution ({', '.join(sizes)}) with the ground truth's "
           "intrinsics, as a user with a calibrated camera would (`two-view`: OpenCV SIFT + essential matrix, "
           "chained; `colmap` with `--colmap`). `failures`: clips where a baseline left frames without a pose; "
           "those frames count as wrong (rotation 180, translation 90 deg). `sec_per_clip`: wall time per clip.",
           "", markdown_table(rows, poses_mod.COLUMNS), "", "![poses](poses_vs_steps.png)", ""]

    if generation:
        videos: list = []
        g = gen_mod.evaluate_generation(engine, clips, video_steps=video_steps, pose_steps=pose_steps, seed=seed,
                                        videos=videos)
        frechet_md, frechet_values = gen_mod.frechet_lines(videos, clips, extractors)
        if frechet_values:
            write_csv(out / "frechet.csv", [frechet_values], list(frechet_values))
        g_all = g + [mean_row(g, gen_mod.COLUMNS)]
        write_csv(out / "generation.csv", g_all, gen_mod.COLUMNS)
        plot_per_clip(out / "generation.png", g, ["psnr", "ssim", "adherence_rot_err_deg"], "camera-controlled generation")
        md += ["## Camera-controlled generation", "",
               f"From each clip's first frame along its ground-truth trajectory "
               f"({video_steps or engine.config.sampler.video_steps} video steps). PSNR / SSIM against the clip's "
               f"frames (the source frame excluded); adherence: poses re-estimated from the generated video "
               f"({pose_steps} ray steps) vs the requested trajectory.", "",
               markdown_table(g_all, gen_mod.COLUMNS), "",
               *frechet_md, "", "![generation](generation.png)", ""]

    if cycle:
        c = cycle_mod.evaluate_cycle(engine, clips, pose_steps=pose_steps, video_steps=video_steps, seed=seed)
        c_all = c + [mean_row(c, cycle_mod.COLUMNS)]
        write_csv(out / "cycle.csv", c_all, cycle_mod.COLUMNS)
        plot_per_clip(out / "cycle.png", c, ["rot_err_deg", "other_rot_err_deg", "trans_err_deg", "psnr"],
                      "cycle self-consistency")
        md += ["## Cycle self-consistency (Table 2 shape)", "",
               "Predict the trajectory, regenerate the clip from 3 of its frames along it, predict again: errors "
               "between the two predicted trajectories, PSNR / SSIM of the regenerated frames (sources excluded) "
               "against the original. Control: `other_rot_err_deg` is the same error for the clip regenerated "
               "from its first frame along another trajectory (the prediction plus a 30 deg pan), against that "
               "trajectory; `other_ignoring_input_rot_err_deg` is what a model that ignored the clip would score "
               "there. `input_independent` flags clips where the control is not clearly below it (mean row: the "
               "fraction flagged).", "", markdown_table(c_all, cycle_mod.COLUMNS), "", "![cycle](cycle.png)", ""]
        flagged = [r["clip"] for r in c if r["input_independent"]]
        if flagged:
            md += [f"**Flagged ({len(flagged)} of {len(c)} clips: {', '.join(flagged)}): the cycle error along "
                   "another trajectory is about what ignoring the clip would give: the model's poses may not "
                   "depend on its input, so the small cycle errors above do not show consistency.**", ""]

    md += [f"Total time: {time.perf_counter() - t_start:.1f} s.", ""]
    path = out / "report.md"
    path.write_text("\n".join(md))
    return path


def _steps(text: str) -> list[int]:
    try:
        steps = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise SystemExit(f"--steps must be comma-separated integers, got {text!r}")
    if not steps or min(steps) < 1:
        raise SystemExit(f"--steps must be positive, got {text!r}")
    return steps


def cmd_evaluate(args: argparse.Namespace) -> int:
    from engine.engine import Engine

    eng = Engine.from_checkpoint(args.checkpoint, device=args.device)
    clips = load_benchmark(args.benchmark, eng.config.clip, args.num_clips)
    out = args.out or f"results/{Path(eng.source).name.replace(':', '-')}-{args.benchmark.split(':')[0]}"
    path = run_evaluation(eng, clips, out, benchmark=args.benchmark, steps=_steps(args.steps), colmap=args.colmap,
                          generation=not args.no_generation, cycle=not args.no_cycle, video_steps=args.video_steps,
                          pose_steps=args.pose_steps, fid_weights=args.fid_weights, fvd_weights=args.fvd_weights,
                          seed=args.seed)
    print(f"wrote {path}", file=sys.stderr)
    print(path.read_text())
    return 0


def add_evaluate_command(sub: Any) -> None:
    p = sub.add_parser("evaluate", help="evaluate a checkpoint on a benchmark (report.md, CSV, PNG)")
    p.add_argument("--checkpoint", default=None, help="checkpoint directory or preset name (default: shipped model)")
    p.add_argument("--benchmark", default="procedural", help="procedural, or re10k:PATH (RealEstate10K layout)")
    p.add_argument("--num-clips", type=int, default=8)
    p.add_argument("--steps", default="1,2,5,20", help="ray-denoising step counts for pose estimation")
    p.add_argument("--pose-steps", type=int, default=2, help="ray steps for adherence and cycle")
    p.add_argument("--video-steps", type=int, default=None, help="video steps (default: the checkpoint's)")
    p.add_argument("--colmap", action="store_true",
                   help="also run the COLMAP baseline (pycolmap; the two-view baseline always runs)")
    p.add_argument("--no-generation", action="store_true")
    p.add_argument("--no-cycle", action="store_true")
    p.add_argument("--fid-weights", default=None,
                   help="FID Inception-v3 weights (local .safetensors, reference layout; docs/metrics.md)")
    p.add_argument("--fvd-weights", default=None,
                   help="FVD I3D weights (local .safetensors, reference layout; docs/metrics.md)")
    p.add_argument("--out", default=None, help="output folder (default results/<checkpoint>-<benchmark>)")
    p.add_argument("--device", default="auto")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_evaluate)
