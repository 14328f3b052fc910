"""The studio's engine tasks as generators of ``Progress`` (no UI): generate a video from photos, predict a
clip's cameras, generate along ground truth and compare, and the cycle self-consistency run.

Each flow checks its inputs first (a clear message and nothing queued when they are wrong), runs the
engine through the shared job queue, streams progress and preview frames, and stores its result in the
session only on success: failures and cancellations leave the path and earlier results untouched.
"""

from __future__ import annotations

import importlib.util
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine import UPSCALE_METHOD, upscaled_copy
from geometry import Cameras

from .camera_path import PathError
from .engine_service import EngineService
from .evaluation import BASELINES, COPY_LABEL, METHODS, WARP_LABEL, compare_poses, scored_frames, shown_scores
from .jobs import Job, JobState
from .media import fit_to_grid, write_video
from .path_io import export_cameras
from .session import GenerationResult, GroundTruthComparison, PoseEstimate, StudioSession
from .views import generation_size_note

LABELS = {"generate": "Generating along the path", "generate_joint": "Generating video and cameras jointly",
          "estimate_poses": "Predicting the clip's cameras", "colmap": "COLMAP baseline",
          "two-view": "Two-view baseline",
          "compare": "Generating along the ground truth", "cycle": "Cycle self-consistency"}


@dataclass
class Progress:
    """One update for the page."""

    text: str
    fraction: float = 0.0
    frames: np.ndarray | None = None        # (T, H, W, 3) current preview
    cameras: Cameras | None = None
    finished: bool = False
    ok: bool = False


class InputProblem(ValueError):
    """A flow cannot start; the message says what to fix."""


# ---- shared job loop ------------------------------------------------------------------------------------

def _run(session: StudioSession, service: EngineService, kind: str,
         task: Callable[[Any, Any], Iterator], on_done: Callable[[Job], str]) -> Iterator[Progress]:
    """Submit ``task`` and stream its progress; ``on_done(job)`` stores the result and returns a message."""
    if session.job is not None and not session.job.state.finished:
        msg = f"{LABELS.get(session.job.label, 'a job')} is still running: wait for it or cancel it first"
        session.warn(msg)
        yield Progress(f"⚠ {msg}", finished=True)
        return
    job = service.submit(kind, task)
    session.job = job
    label = LABELS.get(kind, kind)
    last_frames = None
    for ev in job.updates():
        if ev is None:
            if job.state == JobState.QUEUED:
                ahead = service.queue.ahead_of(job)
                text = f"▸ **{label}**: queued ({ahead} job(s) ahead)" if ahead else f"▸ **{label}**: starting…"
                if not service.ready:
                    text = f"▸ **{label}**: waiting for the engine to load…"
            else:
                text = f"▸ **{label}**: running · {job.elapsed:.1f} s"
            yield Progress(text, 0.0 if job.last_event is None else job.last_event.fraction, last_frames)
            continue
        if ev.frames is not None:
            last_frames = ev.frames
        what = f"{ev.stage} step {ev.step}/{ev.total}" if ev.total else (ev.message or ev.stage)
        if ev.total and ev.message:
            what = f"{ev.message} · {what}"
        yield Progress(f"▸ **{label}**: {what} · {job.elapsed:.1f} s", ev.fraction, ev.frames, ev.cameras)
    if job.state == JobState.DONE:
        try:
            msg = on_done(job)
        except Exception as exc:  # storing or scoring the result failed: say so, keep what was there
            session.error(f"{label} finished but its result could not be used: {exc}")
            yield Progress(f"✖ {session.notice.text}", 1.0, last_frames, finished=True)
            return
        session.ok(msg)
        yield Progress(f"✔ {msg}", 1.0, last_frames, finished=True, ok=True)
    elif job.state == JobState.CANCELLED:
        session.warn(f"{label}: cancelled after {job.elapsed:.1f} s. The path and earlier results are kept.")
        yield Progress(f"⚠ {session.notice.text}", 0.0, last_frames, finished=True)
    else:
        session.error(f"{label} failed: {job.error}. The path and earlier results are kept.")
        yield Progress(f"✖ {session.notice.text}", 0.0, last_frames, finished=True)


def _refuse(session: StudioSession, message: str) -> Iterator[Progress]:
    session.error(message)
    yield Progress(f"✖ {message}", finished=True)


CANCEL_WAIT_S = 30.0     # a denoising step is far shorter; past this the handler answers "cancelling…"
NOTICE_WAIT_S = 5.0      # from the job's end to the flow's final notice


def cancel(session: StudioSession) -> None:
    """Ask the running job to stop; the notice says so. Returns nothing, so a page handler never writes
    its own message over the flow's final "cancelled" notice, which can come before the handler returns."""
    job = session.job
    if job is None or job.state.finished:
        session.info("nothing is running")
        return
    session.info("cancelling at the next step…")     # before the job can hear it and report "cancelled"
    cancelling = session.notice
    job.cancel()
    # The page applies this handler's answer whenever it arrives, possibly after the flow's final update
    # (seen under load): wait, bounded, until the flow has put its final notice, so the answer carries it.
    if job.wait(timeout=CANCEL_WAIT_S):
        end = time.monotonic() + NOTICE_WAIT_S
        while session.notice is cancelling and time.monotonic() < end:
            time.sleep(0.05)


def clip_frame_ids(num_available: int, wanted: int) -> np.ndarray:
    """Evenly spaced frame indices: ``wanted`` (a 1 + 4k count) or the largest 1 + 4k count available."""
    n = min(wanted, num_available)
    n = 1 + 4 * ((n - 1) // 4)
    if n < 5:
        raise InputProblem(f"the clip has {num_available} frames; at least 5 are needed (the model takes 1 + 4k)")
    return np.round(np.linspace(0, num_available - 1, n)).astype(int)


# ---- 2. photos to a novel-view video ---------------------------------------------------------------------

def generate_video(session: StudioSession, service: EngineService, *, joint: bool = False, steps: int = 20,
                   seed: int = 0) -> Iterator[Progress]:
    if not session.photos:
        yield from _refuse(session, "upload at least one photo first")
        return
    photos, position = list(session.photos), session.photo_position
    T = session.path.settings.num_frames
    fps = session.path.settings.fps
    source = session.source_frame(T)
    photo_c2w = session.photo_camera()          # where the photo sits now: the joint path starts from it
    if joint:
        def task(eng, token):
            return eng.generate_joint_stream(photos, T, steps=steps, ray_steps=steps, seed=seed,
                                             source_frames=position, cancel=token)
    else:
        try:
            cams = session.path.cameras()
        except PathError as exc:
            yield from _refuse(session, f"cannot generate along this path: {exc} "
                                        "(or choose 'joint' to let the model pick the camera path)")
            return

        def task(eng, token):
            return eng.generate_stream(photos, cams, steps=steps, seed=seed, source_frames=position, cancel=token)

    def done(job: Job) -> str:
        if joint:   # predicted in the photo's own frame: place it where the photo is, not at the world origin
            frames = job.result.frames
            out_cams = session.placed_at(job.result.poses.cameras, source, photo_c2w)
        else:
            frames, out_cams = job.result, cams
        out = session.work_dir / f"generation-{job.id}"
        photo_h, photo_w = photos[0].shape[:2]
        big = upscaled_copy(frames, photo_w, photo_h)
        # The first file is the one the page plays: the model's own pixels, enlarged without smoothing.
        files = [write_video(frames, out / "video.mp4", fps=fps), write_video(frames, out / "video.gif", fps=fps),
                 export_cameras(out_cams, out / "trajectory.json", fps=fps,
                                meta={"task": "generate_joint" if joint else "generate", "steps": steps}),
                 write_video(big, out / f"upscaled-{big.shape[2]}x{big.shape[1]}-plain-{UPSCALE_METHOD}-resize.mp4",
                             fps=fps, size=max(big.shape[1:3]))]
        session.generation = GenerationResult(frames, out_cams, "joint" if joint else "path", [source],
                                              job.elapsed, steps, files, (big.shape[2], big.shape[1]))
        session.notify("generation")
        how = "jointly with its camera path" if joint else "along the path"
        return (f"generated {len(frames)} frames {how} in {job.elapsed:.1f} s ({steps} steps): "
                f"{generation_size_note(session.generation)}")

    yield from _run(session, service, "generate_joint" if joint else "generate", task, done)


# ---- 3. predicted frustums for a clip --------------------------------------------------------------------

def colmap_available() -> bool:
    try:
        return importlib.util.find_spec("engine.baselines.colmap") is not None
    except (ImportError, ValueError):
        return False


def estimate_clip(session: StudioSession, service: EngineService, *, steps: int = 2,
                  method: str = "raxels") -> Iterator[Progress]:
    """Cameras for every frame of the loaded clip by ``method`` (``evaluation.METHODS``), kept beside the
    other methods' results. The baselines get the loaded pose file's intrinsics (scaled to the clip's pixels)."""
    clip = session.clip
    if clip is None:
        yield from _refuse(session, "upload a clip (mp4, gif or frames) or pick an example first")
        return
    if method not in METHODS:
        yield from _refuse(session, f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
        return
    if method == "colmap" and not colmap_available():
        yield from _refuse(session, "the COLMAP baseline is not available in this installation "
                                    "(engine.baselines.colmap is missing); the model's own estimate works")
        return
    ids = np.arange(clip.num_frames)
    frames = clip.frames
    gt = session.clip_gt
    extra = {}
    if method in BASELINES and gt is not None:     # the model predicts its own intrinsics
        w, h = clip.size
        extra["intrinsics"] = gt.resized(w, h).K.double().numpy()

    def task(eng, token):
        return eng.estimate_poses_stream(frames, steps=steps, method=method, cancel=token, **extra)

    def done(job: Job) -> str:
        result = job.result
        cams = result if isinstance(result, Cameras) else getattr(result, "cameras", None)
        if cams is None and job.last_event is not None:
            cams = job.last_event.cameras
        if cams is None:
            raise ValueError("the engine returned no cameras")
        if len(cams) != len(ids):
            raise ValueError(f"the engine returned {len(cams)} cameras for {len(ids)} frames")
        notes = list(getattr(result, "notes", []) or [])
        comparison = compare_poses(cams, gt) if gt is not None else None
        out = session.work_dir / f"estimate-{job.id}"
        files = [export_cameras(cams, out / f"predicted_{method}.json", fps=clip.fps,
                                meta={"clip": clip.name, "method": method, "steps": steps})]
        session.store_estimate(PoseEstimate(clip.name, method, ids, frames, cams, steps, job.elapsed, comparison,
                                            gt, notes, files))
        info = service.info() or {}
        passes, labels = info.get("pose_passes", 1), info.get("pose_pass_labels") or []
        seen = f": {', '.join(labels)}" if labels else ""
        what = METHODS[method] if method in BASELINES else \
            f"the model ({steps} steps{f' x {passes} passes{seen}' if passes > 1 else ''})"
        msg = f"predicted {len(cams)} cameras of {clip.name} with {what} in {job.elapsed:.1f} s"
        if comparison is not None:
            m = comparison.metrics
            msg += (f"; against ground truth: rotation AUC@30 {100 * m['RRA_AUC@30']:.0f} %, "
                    f"AUC@30 {100 * m['AUC@30']:.0f} %. {TABLE_NOTE}")
        return msg

    yield from _run(session, service, method if method in BASELINES else "estimate_poses", task, done)


# What the table's rows are, said wherever a prediction is scored.
TABLE_NOTE = ("In the table, two-view and COLMAP are classical baselines; identity and forward line are "
              "input-free answers (they never read the clip).")


def estimate_all(session: StudioSession, service: EngineService, *, steps: int = 2) -> Iterator[Progress]:
    """Every method of the table not yet run on this clip (the model first, then the baselines), one job
    after another; stops at the first that does not succeed. Only the last update is ``finished``."""
    todo = [m for m in METHODS if m not in session.estimates or session.clip is None
            or session.estimates[m].clip_name != session.clip.name]
    if not todo:
        session.info("every method has already run on this clip: the table is complete")
        yield Progress(f"ℹ {session.notice.text}", 1.0, finished=True, ok=True)
        return
    for k, method in enumerate(todo):
        for p in estimate_clip(session, service, steps=steps, method=method):
            if p.finished and p.ok and k < len(todo) - 1:
                p.finished = False          # a step of the whole run, not its end
            yield p
            if p.finished and not p.ok:
                return


# ---- 4. compare with ground truth ------------------------------------------------------------------------

def _clip_with_gt(session: StudioSession) -> str | None:
    if session.clip is None:
        return "pick an example with ground truth, or upload a clip and its camera file first"
    if session.clip_gt is None:
        return "this clip has no ground-truth cameras: upload its camera file (any supported format) first"
    return None


def compare_with_ground_truth(session: StudioSession, service: EngineService, *, steps: int = 20,
                              seed: int = 0) -> Iterator[Progress]:
    problem = _clip_with_gt(session)
    if problem:
        yield from _refuse(session, problem)
        return
    clip = session.clip
    try:
        ids = clip_frame_ids(clip.num_frames, service.frame_size()[2])
    except InputProblem as exc:
        yield from _refuse(session, str(exc))
        return
    cams = session.clip_gt[ids.tolist()]
    src = session.source_frame(len(ids))
    photo = clip.frames[ids[src]]
    position = session.photo_position

    warped: dict[str, np.ndarray] = {}

    def task(eng, token):
        # The classical answer first (milliseconds), so that the model's figures never stand alone.
        warped["frames"] = eng.generate([photo], cams, source_frames=position, method="warp")
        return eng.generate_stream([photo], cams, steps=steps, seed=seed, source_frames=position, cancel=token)

    def done(job: Job) -> str:
        generated = np.array(job.result)
        H, W = generated.shape[1:3]
        reference = fit_to_grid(clip.frames[ids], H, W)
        m = scored_frames(generated, reference, src)
        # The source frame is the photo the model was given, not a result: show that photo there (the model's
        # redrawing of it is not the input) and leave it out of the scores.
        shown = fit_to_grid(photo[None], H, W)[0]
        generated[src] = shown
        answers = {COPY_LABEL: np.repeat(shown[None], len(ids), 0), WARP_LABEL: warped["frames"]}
        baselines = {label: {"frames": f, **scored_frames(f, reference, src)} for label, f in answers.items()}
        cmp = GroundTruthComparison(ids, reference, generated, m["psnr"], m["ssim"],
                                    f"generated from frame {int(ids[src])} along the ground-truth cameras",
                                    source_index=src, baselines=baselines)
        out = session.work_dir / f"compare-{job.id}"
        side = np.concatenate([reference, generated], axis=2)
        cmp.files = [write_video(side, out / "ground_truth_vs_generated.mp4", fps=clip.fps, size=384)]
        session.comparison = cmp
        session.notify("compare")
        beside = "; ".join(f"{label} {_mean(b['psnr']):.2f} dB, SSIM {np.nanmean(b['ssim']):.3f}"
                           for label, b in baselines.items())
        return (f"compared {len(ids) - 1} generated frames: mean PSNR {_mean(m['psnr']):.2f} dB, mean SSIM "
                f"{np.nanmean(m['ssim']):.3f} (frame {int(ids[src])} is the input photo, shown as given and left "
                f"out of the means). Beside it: {beside}")

    yield from _run(session, service, "compare", task, done)


def run_cycle(session: StudioSession, service: EngineService, *, num_sources: int = 3, pose_steps: int = 2,
              video_steps: int = 20, seed: int = 0) -> Iterator[Progress]:
    clip = session.clip
    if clip is None:
        yield from _refuse(session, "pick an example or upload a clip first")
        return
    try:
        ids = clip_frame_ids(clip.num_frames, service.frame_size()[2])
    except InputProblem as exc:
        yield from _refuse(session, str(exc))
        return
    frames = clip.frames[ids]

    def task(eng, token):
        return eng.cycle_stream(frames, num_sources, pose_steps=pose_steps, video_steps=video_steps, seed=seed,
                                cancel=token)

    def done(job: Job) -> str:
        r = job.result
        extra = {"rotation error (°)": r["rot_err_deg"], "translation error (°)": r["trans_err_deg"],
                 "ATE": r["ATE"],
                 # The control: a model that ignores its input passes the cycle test but not this one.
                 "rotation error along another trajectory (°)": r["other_rot_err_deg"],
                 "… if the clip were ignored (°)": r["other_ignoring_input_rot_err_deg"],
                 "mean PSNR (dB), sources excluded": r["mean_psnr"], "mean SSIM, sources excluded": r["mean_ssim"],
                 # The input-free answer beside it: it sees the sources but no camera.
                 "… copying the nearest source frame instead: PSNR (dB) / SSIM":
                     f"{r['copy_nearest_source_mean_psnr']:.2f} / {r['copy_nearest_source_mean_ssim']:.3f}",
                 "source frames": [int(ids[i]) for i in r["source_frames"]]}
        if r["warnings"]:
            extra["⚠ warning"] = " ".join(r["warnings"])
        # The source frames were given to the model: out of the per-frame scores, as out of the means above.
        m = shown_scores(r["psnr"], r["ssim"], r["source_frames"])
        cmp = GroundTruthComparison(ids, r["original_frames"], r["regenerated_frames"], m["psnr"], m["ssim"],
                                    f"cycle: regenerated from frames {extra['source frames']} along the predicted "
                                    "trajectory", extra)
        side = np.concatenate([cmp.reference, cmp.generated], axis=2)
        cmp.files = [write_video(side, session.work_dir / f"cycle-{job.id}" / "original_vs_regenerated.mp4",
                                 fps=clip.fps, size=384)]
        session.cycle = cmp
        session.notify("compare")
        return (f"cycle: trajectory error {r['rot_err_deg']:.2f}° rotation / {r['trans_err_deg']:.2f}° translation, "
                f"regenerated frames {r['mean_psnr']:.2f} dB PSNR, SSIM {r['mean_ssim']:.3f} (copying the nearest "
                f"source frame: {r['copy_nearest_source_mean_psnr']:.2f} dB, {r['copy_nearest_source_mean_ssim']:.3f})"
                + "".join(f". ⚠ {w}" for w in r["warnings"]))

    yield from _run(session, service, "cycle", task, done)


def _mean(x: np.ndarray) -> float:
    finite = x[np.isfinite(x)]
    return float(finite.mean()) if len(finite) else math.inf
