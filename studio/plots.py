"""Matplotlib figures for the page (object-oriented API, no pyplot state, so figures are freed)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure

from geometry import WORLD_UP

UP = np.asarray(WORLD_UP, dtype=float)


@dataclass
class Track:
    """A trajectory to plot: camera centres (N, 3), view directions (N, 3) or None, style."""

    label: str
    centers: np.ndarray
    forwards: np.ndarray | None = None
    color: str = "tab:blue"
    marker: str = ""


def _empty(fig: Figure, text: str) -> Figure:
    fig.text(0.5, 0.5, text, ha="center", va="center", color="0.4")
    return fig


def trajectory_figure(tracks: list[Track], *, keyframes: np.ndarray | None = None,
                      look_at: np.ndarray | None = None) -> Figure:
    """Top view (x right, z forward: looking down along WORLD_UP) and height over frames."""
    fig = Figure(figsize=(7.2, 2.8), dpi=90, layout="constrained")
    if not tracks:
        return _empty(fig, "Add 2 keyframes or apply a preset to see the trajectory")
    top, side = fig.subplots(1, 2, width_ratios=[1.2, 1])
    for t in tracks:
        c = t.centers
        top.plot(c[:, 0], c[:, 2], color=t.color, marker=t.marker or None, ms=3, lw=1.5, label=t.label)
        top.plot(c[:1, 0], c[:1, 2], "o", color=t.color, ms=5)
        if t.forwards is not None and len(c):
            span = float(np.ptp(c[:, [0, 2]], axis=0).max()) or 1.0
            f = t.forwards[:, [0, 2]]
            top.quiver(c[:, 0], c[:, 2], f[:, 0], f[:, 1], color=t.color, alpha=0.45, angles="xy",
                       scale_units="xy", scale=8.0 / span, width=0.004)
        side.plot(np.arange(len(c)), c @ UP, color=t.color, marker=t.marker or None, ms=3, lw=1.5, label=t.label)
    if keyframes is not None and len(keyframes):
        top.plot(keyframes[:, 0], keyframes[:, 2], "s", color="tab:orange", ms=6, label="keyframes")
        for i, k in enumerate(keyframes):
            top.annotate(str(i + 1), (k[0], k[2]), textcoords="offset points", xytext=(4, 4), fontsize=8)
    if look_at is not None:
        top.plot([look_at[0]], [look_at[2]], "*", color="goldenrod", ms=10, label="look-at")
    top.set_title("top view", fontsize=9)
    top.set_xlabel("x", fontsize=8)
    top.set_ylabel("z (forward)", fontsize=8)
    top.set_aspect("equal", adjustable="datalim")
    top.grid(alpha=0.3)
    top.legend(fontsize=7, loc="best")
    side.set_title("height (along world up)", fontsize=9)
    side.set_xlabel("frame", fontsize=8)
    side.grid(alpha=0.3)
    for ax in (top, side):
        ax.tick_params(labelsize=7)
    return fig


def per_frame_error_figure(rot_err_deg: np.ndarray, trans_err: np.ndarray, frame_ids: np.ndarray | None = None,
                           *, title: str = "per-frame error after alignment") -> Figure:
    """Rotation error (N,) degrees and position error (N,) per frame, both after one Sim(3) alignment."""
    fig = Figure(figsize=(7.2, 2.6), dpi=90, layout="constrained")
    ax = fig.subplots()
    x = np.arange(len(rot_err_deg)) if frame_ids is None else frame_ids
    ax.plot(x, rot_err_deg, "o-", color="tab:red", ms=3, label="rotation error (°)")
    ax.set_xlabel("frame", fontsize=8)
    ax.set_ylabel("rotation error (°)", fontsize=8, color="tab:red")
    ax2 = ax.twinx()
    ax2.plot(x, trans_err, "s--", color="tab:blue", ms=3, label="position error")
    ax2.set_ylabel("position error (gt units)", fontsize=8, color="tab:blue")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    for a in (ax, ax2):
        a.tick_params(labelsize=7)
    return fig


def image_metrics_figure(psnr: np.ndarray, ssim: np.ndarray, *, title: str = "generated vs ground truth",
                         beside: dict[str, np.ndarray] | None = None) -> Figure:
    """Per-frame PSNR (T,) dB and SSIM (T,); NaN marks a frame that is not scored (the input photo). ``beside``:
    other answers' per-frame PSNR (label -> (T,)), drawn as thin grey lines with their means in the legend."""
    fig = Figure(figsize=(7.2, 2.6), dpi=90, layout="constrained")
    ax = fig.subplots()
    x = np.arange(len(psnr))
    ax.plot(x, psnr, "o-", color="tab:green", ms=3, label="generated")
    for (label, other), style in zip((beside or {}).items(), ("x:", "^-.", "v--")):
        ax.plot(x, other, style, color="0.45", ms=3, lw=1,
                label=f"{label} ({np.nanmean(other):.2f} dB)")
    if beside:
        ax.legend(fontsize=7, loc="lower left")
    ax.set_ylabel("PSNR (dB)", fontsize=8, color="tab:green")
    ax.set_xlabel("frame", fontsize=8)
    ax2 = ax.twinx()
    ax2.plot(x, ssim, "s--", color="tab:purple", ms=3)
    ax2.set_ylabel("SSIM", fontsize=8, color="tab:purple")
    ax2.set_ylim(min(0.0, float(np.nanmin(ssim)) - 0.05), 1.0)
    scored = np.isfinite(psnr)          # NaN: the input frame itself, not scored
    note = "" if scored.all() else f" ({int((~scored).sum())} input frame(s) left out)"
    ax.set_title(f"{title}: mean PSNR {np.mean(psnr[scored]):.2f} dB, mean SSIM {np.nanmean(ssim):.3f}{note}",
                 fontsize=9)
    ax.grid(alpha=0.3)
    for a in (ax, ax2):
        a.tick_params(labelsize=7)
    return fig
