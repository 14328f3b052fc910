"""Numbers that compare a result with ground truth: pose metrics after alignment, per-frame PSNR/SSIM."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from engine import frame_metrics
from geometry import Cameras
from geometry.metrics import align_cameras, forward_line_baseline, identity_baseline, pose_metrics

# One Sim(3) behind everything the Clip tab shows after alignment (the table's ATE, the per-frame error plot,
# the aligned frustums): its rotation comes from the camera orientations, not from the centres. A clip's
# centres are often nearly collinear (a walk forward), which leaves Umeyama's rotation about that line to
# noise, and per-frame rotation errors of 30-170 degrees beside relative errors of 5-12 (see docs/metrics.md).
ALIGNMENT = "orientations"
ALIGNMENT_NOTE = ("Sim(3): rotation = chordal mean of the camera orientations, then scale and offset of "
                  "the centres by least squares")


@dataclass
class PoseComparison:
    """A predicted trajectory against ground truth (both for the same frames).

    ``aligned`` and the after-alignment entries of ``metrics`` (``ATE``, ``per_frame_rot_err_deg``,
    ``per_frame_trans_err``) come from the same Sim(3) (``ALIGNMENT``); RRA / RTA / AUC and the mean
    relative errors need no alignment.
    """

    aligned: Cameras            # prediction moved onto the ground truth by the Sim(3) of ``ALIGNMENT``
    metrics: dict
    baseline: dict | None = None  # the same metrics for the trivial prediction (every camera the same)

    def summary_rows(self) -> list[list]:
        m = self.metrics
        return [["RRA@30 (relative rotation accuracy)", f"{100 * m['RRA@30']:.1f} %"],
                ["RTA@30 (relative translation accuracy)", f"{100 * m['RTA@30']:.1f} %"],
                ["AUC@30", f"{100 * m['AUC@30']:.1f} %"],
                ["rotation-only AUC@30", f"{100 * m['RRA_AUC@30']:.1f} %"],
                ["ATE (ground-truth units, after the alignment below)", f"{m['ATE']:.4f}"],
                ["mean relative rotation error", f"{m['mean_rot_err_deg']:.2f}°"],
                ["mean relative translation error", f"{m['mean_trans_err_deg']:.2f}°"],
                ["mean per-frame rotation error after the alignment below (the plot)",
                 f"{float(m['per_frame_rot_err_deg'].mean()):.2f}°"],
                ["alignment (ATE, per-frame plot, aligned frustums)", ALIGNMENT_NOTE]] + self._baseline_rows()

    def _baseline_rows(self) -> list[list]:
        b = self.baseline
        if b is None:
            return []
        return [["identity baseline (all cameras equal): RRA@30 / AUC@30 / rotation AUC@30",
                 f"{100 * b['RRA@30']:.1f} % / {100 * b['AUC@30']:.1f} % / {100 * b['RRA_AUC@30']:.1f} %"]]


def compare_poses(pred: Cameras, gt: Cameras) -> PoseComparison:
    if len(pred) != len(gt):
        raise ValueError(f"mismatched frame counts: {len(pred)} predicted cameras, {len(gt)} ground-truth cameras")
    pred = pred.to(gt.dtype)
    aligned = align_cameras(pred, gt, rotation_from=ALIGNMENT)
    return PoseComparison(aligned, pose_metrics(pred, gt, rotation_from=ALIGNMENT),
                          pose_metrics(identity_baseline(gt), gt, rotation_from=ALIGNMENT))


# ---- the Clip tab's comparison table ----------------------------------------------------------------------

# The methods a user can run on a clip, in the table's order, with their labels: the baselines say so.
METHODS = {"raxels": "the model (raxels)", "two-view": "two-view (baseline)", "colmap": "COLMAP (baseline)"}
BASELINES = ("two-view", "colmap")
COMPARISON_HEADERS = ["answer", "kind", "rotation AUC@30", "mean rotation error", "ATE_rel", "AUC@30", "seconds"]
NOT_RUN = "not run"


def _metric_cells(m: dict) -> list[str]:
    ate_rel = float(m["ATE_rel"])
    return [f"{100 * m['RRA_AUC@30']:.1f} %", f"{m['mean_rot_err_deg']:.2f}°",
            "n/a (the camera does not move)" if np.isnan(ate_rel) else f"{ate_rel:.3f}", f"{100 * m['AUC@30']:.1f} %"]


def comparison_rows(results: dict[str, tuple[PoseComparison | None, float]], gt: Cameras | None) -> list[list]:
    """The Clip tab's table: one row per method (``METHODS`` order; "not run" where it has no result) and the
    two input-free answers, scored against ``gt`` (None: no metrics, only the methods' seconds).

    Args:
        results: method -> (its comparison with ``gt`` or None, seconds it took).
        gt: the clip's ground truth (N,), or None when no pose file is loaded.
    Returns:
        rows of ``COMPARISON_HEADERS``: the model, identity ("never turns"), forward line, two-view, COLMAP.
    """
    blank = ["—"] * 4

    def method_row(method: str) -> list:
        kind = "baseline" if method in BASELINES else "model"
        if method not in results:
            return [METHODS[method], kind, NOT_RUN, "", "", "", ""]
        cmp, seconds = results[method]
        return [METHODS[method], kind, *(blank if cmp is None else _metric_cells(cmp.metrics)), f"{seconds:.2f}"]

    def input_free(label: str, cams_of) -> list:
        cells = blank if gt is None else _metric_cells(pose_metrics(cams_of(gt), gt, rotation_from=ALIGNMENT))
        return [label, "input-free", *cells, "0"]

    return [method_row("raxels"),
            input_free("identity (never turns)", identity_baseline),
            input_free("forward line", forward_line_baseline),
            method_row("two-view"), method_row("colmap")]


# Answers shown beside a generated clip in the Compare tab, in order: one that cannot follow the cameras, and the
# classical one the model starts from (``engine.GENERATION_METHODS``' "warp").
COPY_LABEL = "copying the photo"
WARP_LABEL = "classical warp"
GENERATION_BASELINE_NOTE = (f"*{COPY_LABEL}* repeats the input photo in every frame (it cannot follow the cameras); "
                            f"*{WARP_LABEL}* is the photo warped into each camera with the scene at infinity (exact "
                            "for turns), or, for a model that starts from a plane at a typical depth, through that "
                            "plane; what it does not see keeps the photo's pixels. It is the classical answer the "
                            "model starts from.")


def shown_scores(psnr: np.ndarray, ssim: np.ndarray, sources: Sequence[int] = ()) -> dict[str, np.ndarray]:
    """Per-frame PSNR (dB) and SSIM (T,) as the Compare tab shows them: identical frames (infinite PSNR) at 100,
    and the ``sources`` (frames given to the model, not results) NaN in both, as they are left out of the means."""
    psnr, ssim = np.minimum(np.asarray(psnr, dtype=np.float64), 100.0), np.array(ssim, dtype=np.float64)
    psnr[list(sources)] = ssim[list(sources)] = np.nan
    return {"psnr": psnr, "ssim": ssim}


def scored_frames(generated: np.ndarray, reference: np.ndarray, source: int | None = None) -> dict[str, np.ndarray]:
    """``shown_scores`` of two (T, H, W, 3) uint8 clips, frame ``source`` (the input photo) left out."""
    m = frame_metrics(generated, reference)
    return shown_scores(m["psnr"], m["ssim"], () if source is None else (source,))
