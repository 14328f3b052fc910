"""``python -m engine compare``: one table from several ``evaluate`` reports (ablations, checkpoints).

    python -m engine compare base=results/ablation-data-base plucker=results/ablation-data-plucker \\
        --runs-dir runs/ablation-data- --out results/ablations

Reads each folder's ``poses.csv``, ``poses_per_clip.csv``, ``generation.csv`` and ``cycle.csv`` (as
written by ``run_evaluation`` on the same clips) and writes ``<out>/compare.md``, ``compare.csv`` and
``compare.png``. The first run is the reference of the paired columns: on how many clips each run's
2-step rotation error is lower than the reference's, and the mean per-clip difference, so a small
difference can be told from clip-to-clip noise.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from .report import markdown_table, write_csv

COLUMNS = ("run", "rot_err_1", "rot_err_2", "rot_err_5", "rot_err_20", "identity_rot_err", "mRRA@30_2",
           "RTA@30_2", "AUC@30_2", "ATE_2", "input_dependence_2", "clips_better_than_ref_2", "mean_diff_vs_ref_2", "gen_psnr",
           "gen_ssim", "cycle_rot_err", "cycle_trans_err", "cycle_psnr", "train_steps", "train_s")


def _read(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing (run `python -m engine evaluate --out {path.parent}` first)")
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def _mean_row(path: Path) -> dict[str, str]:
    rows = [r for r in _read(path) if r[next(iter(r))] == "mean"]
    if not rows:
        raise ValueError(f"{path}: no 'mean' row")
    return rows[0]


def _per_clip_rot(report: Path, steps: int) -> dict[str, float]:
    return {r["clip"]: float(r["mean_rot_err_deg"]) for r in _read(report / "poses_per_clip.csv")
            if r["method"] == "raxels" and r["steps"] == str(steps)}


def summarize_run(name: str, report: Path, *, run_dir: Path | None = None) -> dict[str, Any]:
    """One row: pose error per step count, identity, generation and cycle means, training budget."""
    poses = _read(report / "poses.csv")
    row: dict[str, Any] = {"run": name}
    for r in poses:
        if r["method"] == "raxels":
            row[f"rot_err_{r['steps']}"] = float(r["mean_rot_err_deg"])
            if r["steps"] == "2":
                for key in ("ATE_rel", "mRRA@30", "RTA@30", "AUC@30", "ATE", "input_dependence"):
                    if key in r:
                        row[f"{key}_2"] = float(r[key])
        elif r["method"] == "identity":
            row["identity_rot_err"] = float(r["mean_rot_err_deg"])
    if (report / "generation.csv").is_file():
        g = _mean_row(report / "generation.csv")
        row["gen_psnr"], row["gen_ssim"] = float(g["psnr"]), float(g["ssim"])
    if (report / "cycle.csv").is_file():
        c = _mean_row(report / "cycle.csv")
        row["cycle_rot_err"], row["cycle_trans_err"] = float(c["rot_err_deg"]), float(c["trans_err_deg"])
        row["cycle_psnr"] = float(c["psnr"])
    summary = run_dir / "summary.json" if run_dir is not None else None
    if summary is not None and summary.is_file():
        s = json.loads(summary.read_text())
        row["train_steps"], row["train_s"] = s.get("step"), s.get("wall_time_s")
    return row


def compare(runs: dict[str, Path], out: str | Path, *, run_dirs: dict[str, Path] | None = None,
            title: str = "Comparison") -> Path:
    """Write ``compare.md`` / ``.csv`` / ``.png`` for ``runs`` (name -> evaluate output folder)."""
    if not runs:
        raise ValueError("no runs to compare")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    run_dirs = run_dirs or {}
    rows = [summarize_run(n, Path(p), run_dir=run_dirs.get(n)) for n, p in runs.items()]
    ref_name = next(iter(runs))
    ref = _per_clip_rot(Path(runs[ref_name]), 2)
    for name, row in zip(runs, rows):
        mine = _per_clip_rot(Path(runs[name]), 2)
        if set(mine) != set(ref):
            raise ValueError(f"{name} was evaluated on different clips than {ref_name}; compare like with like")
        diff = np.array([mine[c] - ref[c] for c in sorted(ref)])
        row["clips_better_than_ref_2"] = f"{int((diff < 0).sum())}/{len(diff)}"
        row["mean_diff_vs_ref_2"] = float(diff.mean())
    write_csv(out / "compare.csv", rows, COLUMNS)
    _plot(out / "compare.png", rows)
    md = [f"# {title}", "", f"Reference of the paired columns: `{ref_name}`. rot_err_k: mean relative rotation "
          "error (deg) at k ray steps; identity_rot_err: the answer 'the camera never turns'; input_dependence_2: "
          "how much the predicted trajectories differ between clips relative to the true ones (0: the "
          "same answer for every clip; docs/metrics.md).", "",
          markdown_table(rows, COLUMNS), "", "![compare](compare.png)", ""]
    path = out / "compare.md"
    path.write_text("\n".join(md))
    return path


def _plot(path: Path, rows: list[dict[str, Any]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    for row in rows:
        steps = sorted(int(k.split("_")[-1]) for k in row if k.startswith("rot_err_"))
        ax.plot(steps, [row[f"rot_err_{s}"] for s in steps], marker="o", label=row["run"])
    identity = [r["identity_rot_err"] for r in rows if "identity_rot_err" in r]
    if identity:
        ax.axhline(identity[0], ls="--", color="grey", lw=1, label="identity")
    ax.set_xscale("log")
    ax.set_xlabel("ray-denoising steps")
    ax.set_ylabel("mean rotation error (deg)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _parse_runs(items: list[str]) -> dict[str, Path]:
    runs = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise SystemExit(f"expected NAME=RESULTS_DIR, got {item!r}")
        runs[name] = Path(path)
    return runs


def cmd_compare(args: argparse.Namespace) -> int:
    runs = _parse_runs(args.runs)
    run_dirs = {n: Path(f"{args.runs_dir}{n}") for n in runs} if args.runs_dir else None
    path = compare(runs, args.out, run_dirs=run_dirs, title=args.title)
    print(f"wrote {path}", file=sys.stderr)
    print(path.read_text())
    return 0


def add_compare_command(sub: Any) -> None:
    p = sub.add_parser("compare", help="one table from several evaluate reports (ablations)")
    p.add_argument("runs", nargs="+", help="NAME=RESULTS_DIR; the first is the reference")
    p.add_argument("--runs-dir", default=None, help="prefix of training run folders (PREFIX + NAME) for budgets")
    p.add_argument("--out", default="results/compare")
    p.add_argument("--title", default="Comparison")
    p.set_defaults(func=cmd_compare)
