"""Loss curves of a run: a CSV row every ``log_every`` steps and a PNG drawn from the CSV."""

from __future__ import annotations

import csv
import math
from pathlib import Path

COLUMNS = ("step", "examples", "lr", "loss", "mse", "cos", "loss_video", "loss_rays", "grad_norm",
           "data_s", "step_s", "wall_s")


class CurveLog:
    """Appends rows to ``path`` (CSV with ``COLUMNS``). Resuming at step k drops rows after k."""

    def __init__(self, path: str | Path, *, resume_step: int | None = None):
        self.path = Path(path)
        if resume_step is not None and self.path.is_file():
            rows = [r for r in read_curves(self.path) if int(r["step"]) <= resume_step]
            self._write(rows)
        elif not self.path.is_file() or resume_step is None:
            self._write([])

    def _write(self, rows: list[dict[str, float]]) -> None:
        tmp = self.path.with_suffix(".tmp")
        with tmp.open("w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=COLUMNS)
            w.writeheader()
            for r in rows:
                w.writerow({k: _fmt(r.get(k), k) for k in COLUMNS})
        tmp.replace(self.path)

    def append(self, row: dict[str, float]) -> None:
        with self.path.open("a", newline="") as f:
            csv.DictWriter(f, fieldnames=COLUMNS).writerow({k: _fmt(row.get(k), k) for k in COLUMNS})


INT_COLUMNS = ("step", "examples")


def _fmt(v: float | int | None, key: str = "") -> str:
    if v is None or (isinstance(v, float) and math.isnan(v) and key in INT_COLUMNS):
        return ""
    if key in INT_COLUMNS or isinstance(v, int):
        return str(int(v))
    return repr(float(v))              # round-trips exactly


def read_curves(path: str | Path) -> list[dict[str, float]]:
    with Path(path).open(newline="") as f:
        return [{k: (float(v) if v not in ("", None) else math.nan) for k, v in r.items()} for r in csv.DictReader(f)]


def plot_curves(csv_path: str | Path, png_path: str | Path, *, title: str = "") -> Path:
    """Total loss and the per-modality losses (log scale), and the learning rate, against steps."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    rows = read_curves(csv_path)
    steps = [r["step"] for r in rows]
    fig, (ax, ax_lr) = plt.subplots(2, 1, figsize=(8, 6), sharex=True, height_ratios=(3, 1))
    for key, style in (("loss", "k-"), ("loss_video", "C0-"), ("loss_rays", "C3-")):
        ys = [r[key] for r in rows]
        if any(math.isfinite(y) and y > 0 for y in ys):
            ax.plot(steps, ys, style, lw=1.2 if key == "loss" else 0.9, label=key)
    if rows:
        ax.set_yscale("log")
        ax.legend(loc="upper right")
    ax.set_ylabel("flow-matching loss (MSE + lambda (1 - cos))")
    ax.grid(True, which="both", alpha=0.3)
    ax.set_title(title or Path(csv_path).parent.name)
    ax_lr.plot(steps, [r["lr"] for r in rows], "C2-", lw=1)
    ax_lr.set_ylabel("lr")
    ax_lr.set_xlabel("optimizer step")
    ax_lr.grid(True, alpha=0.3)
    fig.tight_layout()
    png_path = Path(png_path)
    fig.savefig(png_path, dpi=110)
    plt.close(fig)
    return png_path
