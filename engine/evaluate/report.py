"""Write the evaluation: CSV tables, PNG plots (matplotlib Agg) and report.md."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np


def write_csv(path: Path, rows: list[dict[str, Any]], columns: Sequence[str]) -> Path:
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(columns), extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    return path


def _fmt(v: Any) -> str:
    if isinstance(v, (float, np.floating)):
        return "inf" if math.isinf(v) else f"{v:.3f}"
    return str(v)


def markdown_table(rows: list[dict[str, Any]], columns: Sequence[str]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_fmt(r.get(c, "")) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def plot_pose_steps(path: Path, rows: list[dict[str, Any]]) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    model = [r for r in rows if r["method"] == "raxels"]
    steps = [int(r["steps"]) for r in model]
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for key in ("mRRA@30", "RTA@30", "AUC@30"):
        ax.plot(steps, [r[key] for r in model], marker="o", label=f"raxels {key}")
    # One dashed line per reference row (own/other: its largest step count, as the model's last point).
    refs = {r["method"]: r for r in rows if r["method"] != "raxels"}
    for (method, r), color in zip(refs.items(), ("tab:purple", "grey", "tab:olive", "tab:red", "tab:brown")):
        ax.axhline(r["mRRA@30"], ls="--", lw=1, color=color, label=f"{method} mRRA@30")
    ax.set_xscale("log")
    ax.set_xticks(steps, [str(s) for s in steps])
    ax.set_xlabel("ray-denoising steps")
    ax.set_ylim(-0.02, 1.02)
    ax.legend(fontsize=7)
    ax.set_title("pose estimation")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_per_clip(path: Path, rows: list[dict[str, Any]], keys: Sequence[str], title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(keys), figsize=(3.2 * len(keys), 3))
    for ax, key in zip(np.atleast_1d(axes), keys):
        vals = [r[key] if np.isfinite(r[key]) else np.nan for r in rows]
        ax.bar(range(len(rows)), vals)
        ax.set_xticks(range(len(rows)), [r["clip"] for r in rows], rotation=60, fontsize=6)
        ax.set_title(key, fontsize=9)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def mean_row(rows: list[dict[str, Any]], columns: Sequence[str], label: str = "mean") -> dict[str, Any]:
    out: dict[str, Any] = {columns[0]: label}
    for c in columns[1:]:
        vals = [r[c] for r in rows if isinstance(r.get(c), (int, float, np.floating))]
        finite = [v for v in vals if np.isfinite(v)]
        out[c] = float(np.mean(finite)) if finite else ("inf" if vals else "")
    return out
