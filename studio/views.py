"""What the page shows, computed from a session (pure functions: no Gradio, testable on their own)."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from engine import UPSCALED_LABEL

from . import plots
from .camera_path import keyframe_look_at, keyframe_roll
from .evaluation import METHODS, WARP_LABEL, comparison_rows
from .media import difference, side_by_side, strip
from .raxel_preview import raxel_strip
from .session import GenerationResult, GroundTruthComparison, StudioSession

KEYFRAME_HEADERS = ["#", "x", "y", "z", "look-at x", "look-at y", "look-at z", "roll °", "FOV °", "to next (s)"]


def path_summary(s: StudioSession) -> str:
    p, st = s.path, s.path.settings
    n = len(p.keyframes)
    if n < 2:
        return f"**Path**: {n} keyframe(s). Add at least 2 (from the viewport) or apply a preset."
    cams = p.try_cameras()
    if cams is None:
        try:
            p.cameras()
        except ValueError as exc:
            return f"**Path**: ⚠ {exc}"
    longer = (f" ⚠ Longer than the model's {s.model_frames} frames: slower, and beyond its training length."
              if st.num_frames > s.model_frames else "")
    return (f"**Path**: {n} keyframes → **{st.num_frames} frames** at {st.fps:g} fps "
            f"({st.num_frames / st.fps:.2f} s){' · loop' if st.loop else ''}"
            f"{' · constant speed' if st.constant_speed else ''} · tension {st.tension:g} · "
            f"frames are {p.width}x{p.height} (the model's size). These exact cameras go to the engine.{longer}")


def frame_count_hint(s: StudioSession) -> str:
    """What the frame count means for the model: its native length, and what a longer path does today."""
    n = s.model_frames
    return (f"The model works at {n} frames (the length it was trained on). Longer paths are generated in one "
            f"pass of the same model: slower (time grows with the frames) and beyond its training length, so "
            f"expect weaker frames and cameras.")


def frame_info(s: StudioSession, j: int) -> str:
    cams = s.path.try_cameras()
    if cams is None:
        return "No path yet: the preview camera appears once the path has 2 keyframes."
    j = int(min(max(j, 0), len(cams) - 1))
    c = cams.centers[j].numpy()
    fov = float(np.degrees(float(cams.fov_y[j])))
    t = float(cams.timestamps[j]) if cams.timestamps is not None else j / s.path.settings.fps
    src = " · ← the photo sits here" if s.photos and j == s.source_frame(len(cams)) else ""
    return (f"Frame **{j + 1}/{len(cams)}** · t = {t:.2f} s · position ({c[0]:.2f}, {c[1]:.2f}, {c[2]:.2f}) · "
            f"vertical FOV {fov:.1f}°{src}")


def keyframe_rows(s: StudioSession) -> list[list]:
    return s.path.rows(s.look_at_point)


def keyframe_editor(s: StudioSession) -> dict[str, float | None]:
    """Values of the numeric editor for the selected keyframe (None when nothing is selected)."""
    p = s.path
    if p.selected is None or p.selected >= len(p.keyframes):
        return {}
    kf = p.keyframes[p.selected]
    pos, look = kf.position.numpy(), keyframe_look_at(kf, s.look_at_point)
    last = p.selected == len(p.keyframes) - 1 and not p.settings.loop
    return {"index": p.selected + 1, "x": pos[0], "y": pos[1], "z": pos[2], "look_x": look[0], "look_y": look[1],
            "look_z": look[2], "roll": keyframe_roll(kf), "fov": kf.fov_y_deg,
            "duration": None if last else (kf.duration if kf.duration is not None else 1.0)}


def trajectory_plot(s: StudioSession) -> Figure:
    tracks = []
    cams = s.path.try_cameras()
    if cams is not None:
        tracks.append(plots.Track("path (frames sent to the engine)", cams.centers.numpy(), cams.R[:, :, 2].numpy(),
                                  "tab:blue", "."))
    gen = s.generation
    if gen is not None and gen.mode == "joint":
        c = gen.cameras
        tracks.append(plots.Track("joint prediction", c.centers.double().numpy(), c.R[:, :, 2].double().numpy(),
                                  "tab:pink", "x"))
    for method, est in s.estimates.items():
        pred = est.comparison.aligned if est.comparison is not None else est.cameras
        tracks.append(plots.Track(f"predicted: {METHODS.get(method, method)}", pred.centers.double().numpy(), None,
                                  METHOD_PLOT_COLORS.get(method, "tab:green"), "o"))
    gt_of = next((e.gt for e in s.estimates.values() if e.gt is not None), None)
    if gt_of is not None:
        tracks.append(plots.Track("ground truth", gt_of.centers.double().numpy(), None, "0.3", "s"))
    kfs = np.stack([kf.position.numpy() for kf in s.path.keyframes]) if s.path.keyframes else None
    return plots.trajectory_figure(tracks, keyframes=kfs, look_at=s.look_at_point)


def raxel_preview(s: StudioSession) -> np.ndarray | None:
    cams = s.path.try_cameras()
    if cams is None:
        return None
    return raxel_strip(cams, s.source_frame(len(cams)))


def generation_size_note(gen: GenerationResult) -> str:
    """What size the generated video really is, and what the enlarged copy is (and is not)."""
    T, h, w = gen.frames.shape[:3]
    text = f"{T} frames at {w}x{h}, the model's resolution (played enlarged with sharp pixels)"
    if gen.upscaled_size is not None:
        uw, uh = gen.upscaled_size
        text += (f"; downloads add a {uw}x{uh} {UPSCALED_LABEL} (the photo region the model's frames cover, "
                 "at the photo's scale)")
    return text


def result_video_label(s: StudioSession) -> str:
    gen = s.generation
    if gen is None:
        return "result"
    h, w = gen.frames.shape[1:3]
    return f"result: {w}x{h}, the model's resolution (enlarged with sharp pixels)"


def frames_strip(frames: np.ndarray | None, *, size: int = 96) -> np.ndarray | None:
    return None if frames is None else strip(frames, size=size)


# The same colours as the 3D view's frustums (``viewport.METHOD_COLORS``).
METHOD_PLOT_COLORS = {"raxels": "#00a0aa", "two-view": "#e6780a", "colmap": "#9146c8"}


def estimate_table(s: StudioSession) -> list[list]:
    """Details of the latest prediction (the comparison of all methods is ``estimate_comparison``)."""
    est = s.estimate
    if est is None:
        return []
    label = METHODS.get(est.method, est.method) if est.method != "raxels" else \
        f"the model (raxels), {est.steps} denoising steps"
    rows = [["method", label],
            ["frames used", f"all {len(est.frame_ids)} frames of the clip, one camera each"],
            ["time", f"{est.elapsed:.2f} s"]]
    if est.comparison is not None:
        rows += est.comparison.summary_rows()
    else:
        rows.append(["ground truth", "none loaded: upload a camera file to score the prediction"])
    rows += [["note", n] for n in est.notes if not n.startswith("frames used")]
    return rows


def estimate_comparison(s: StudioSession) -> list[list]:
    """The Clip tab's comparison table: the model, the input-free answers and the baselines side by side
    (``evaluation.COMPARISON_HEADERS``); empty before any prediction."""
    if not s.estimates:
        return []
    name = s.clip.name if s.clip is not None else None
    results = {m: (e.comparison, e.elapsed) for m, e in s.estimates.items() if e.clip_name == name}
    return comparison_rows(results, s.clip_gt)


def estimate_comparison_note(s: StudioSession) -> str:
    """Under the table: what its rows are, and what is missing."""
    if not s.estimates:
        return ""
    text = ("**Rows**: the model reads the clip; *two-view* and *COLMAP* are classical baselines (on the clip's "
            "full-resolution frames, with the pose file's intrinsics when one is loaded); *identity* and "
            "*forward line* are input-free answers that never read the clip: the model should beat them. "
            "Baselines run on demand: pick one above and press *Predict cameras*, or *Run every method*.")
    if s.clip_gt is None:
        text += " Upload the clip's pose file to score the rows."
    return text


def estimate_error_plot(s: StudioSession) -> Figure | None:
    est = s.estimate
    if est is None or est.comparison is None:
        return None
    m = est.comparison.metrics
    return plots.per_frame_error_figure(m["per_frame_rot_err_deg"], m["per_frame_trans_err"], est.frame_ids,
                                        title="per-frame error after the table's alignment (rotation from the "
                                              "camera orientations)")


def comparison_of(s: StudioSession, which: str) -> GroundTruthComparison | None:
    return s.cycle if which == "cycle" else s.comparison


# The Compare tab's views of one frame (``comparison_frame``).
WARP_VIEW = "beside the classical warp"
COMPARISON_VIEWS = ("side by side", "difference", WARP_VIEW)


def comparison_frame(cmp: GroundTruthComparison | None, j: int, *, view: str = "side by side") -> np.ndarray | None:
    """Ground truth | generated (| amplified difference, or | the classical warp) at frame ``j``."""
    if cmp is None:
        return None
    j = int(min(max(j, 0), len(cmp.generated) - 1))
    ref, gen = cmp.reference[j], cmp.generated[j]
    if view == "difference":
        return side_by_side(ref, gen, difference(ref, gen), size=160)
    if view == WARP_VIEW and WARP_LABEL in cmp.baselines:
        return side_by_side(ref, gen, cmp.baselines[WARP_LABEL]["frames"][j], size=160)
    return side_by_side(ref, gen, size=200)


def comparison_caption(cmp: GroundTruthComparison | None, j: int) -> str:
    if cmp is None:
        return "No comparison yet."
    j = int(min(max(j, 0), len(cmp.generated) - 1))
    head = f"{cmp.label}. Frame {j + 1}/{len(cmp.generated)} (clip frame {int(cmp.frame_ids[j])}): "
    if j == cmp.source_index:
        return head + ("the input photo, as given to the model (not generated, so not scored). Left: ground "
                       "truth · middle: the input photo · right (difference view): |difference| x3")
    if not np.isfinite(cmp.psnr[j]):
        return head + ("a source frame, given to the model and regenerated with the others, so not scored (as in "
                       "the means). Left: ground truth · middle: regenerated · right (difference view): "
                       "|difference| x3")
    beside = "".join(f"; {label}: {b['psnr'][j]:.2f} dB, SSIM {b['ssim'][j]:.3f}" for label, b in cmp.baselines.items())
    right = "|difference| x3 in the difference view" + (
        f", the {WARP_LABEL}'s frame in the \"{WARP_VIEW}\" view" if WARP_LABEL in cmp.baselines else "")
    return head + (f"PSNR {cmp.psnr[j]:.2f} dB, SSIM {cmp.ssim[j]:.3f}{beside}. Left: ground truth · middle: "
                   f"generated · right: {right}")


def comparison_plot(cmp: GroundTruthComparison | None) -> Figure | None:
    if cmp is None:
        return None
    return plots.image_metrics_figure(cmp.psnr, cmp.ssim, title="per-frame quality",
                                      beside={label: b["psnr"] for label, b in cmp.baselines.items()})


def cycle_table(s: StudioSession) -> list[list]:
    if s.cycle is None:
        return []
    out = []
    for k, v in s.cycle.extra.items():
        text = v if isinstance(v, str) else ", ".join(map(str, v)) if isinstance(v, list) else f"{v:.4g}"
        out.append([k, text])
    return out
