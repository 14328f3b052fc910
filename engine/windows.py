"""Pose estimation for clips of any length: overlapping model windows chained into one trajectory.

The model reads clips of ``1 + tf k`` frames (``tf`` = the autoencoder's temporal factor) and was trained
on one length (``config.clip.num_frames``). A clip of any other length ``T >= 2`` is covered by windows of
that length (or the longest ``1 + tf k`` that fits a shorter clip), consecutive windows sharing at least
``min_overlap`` frames. Each window's trajectory comes back in its own frame and scale (the model's
translations are only defined up to scale); window ``w`` is moved onto the chain by the similarity
(rotation, translation, scale: ``geometry.metrics.fit_sim3_spread``) that maps its cameras of the shared
frames onto the chained cameras of those frames from the windows before it. Each frame's camera (pose and
intrinsics) is then taken from the window where that frame sits most centrally: windows are least sure
at their ends. Full description: ``docs/windowing.md``.

``plan_windows``, ``frame_sources`` and ``chain_windows`` are pure; ``windowed_pose_events`` runs the model.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Sequence

import numpy as np
import torch

from geometry import Cameras, canonicalize
from geometry.metrics import apply_sim3, fit_sim3_spread

from .events import CancelToken, ProgressEvent, as_part
from .pipeline import JointPipeline
from .pose_ensemble import ensemble_pose_events, num_passes
from .tasks import PoseResult


def min_overlap(window: int) -> int:
    """Frames two consecutive windows share at least: half a window (at least 2, so the scale is fixed)."""
    return max(2, (window - 1) // 2)


def single_pass_frames(num_frames: int, temporal_factor: int = 4) -> np.ndarray:
    """Indices for one model pass over a clip of ``num_frames``: the longest ``1 + tf k`` count that fits,
    evenly spread (first and last kept). A clip shorter than the smallest window (``1 + tf`` frames) fills
    it with repeats, each frame repeated in time order: (2 frames, tf 4) -> [0, 0, 0, 1, 1]."""
    if num_frames < 1:
        raise ValueError(f"a clip needs at least 1 frame, got {num_frames}")
    length = max(1 + temporal_factor, 1 + temporal_factor * ((num_frames - 1) // temporal_factor))
    return np.round(np.linspace(0, num_frames - 1, length)).astype(int)


def plan_windows(num_frames: int, max_window: int, temporal_factor: int = 4) -> list[np.ndarray]:
    """Windows covering every frame of a ``num_frames`` clip, each a (L,) array of frame indices.

    L is the longest ``1 + tf k`` no longer than ``max_window`` or the clip. One window when the clip fits
    (``single_pass_frames``: the whole clip, or repeats below ``1 + tf`` frames); otherwise contiguous
    windows, as few as keep ``min_overlap(L)`` shared frames between neighbours, their starts evenly spread
    from frame 0 to ``T - L``.
    """
    if isinstance(num_frames, bool) or not isinstance(num_frames, (int, np.integer)) or num_frames < 2:
        raise ValueError(f"a camera trajectory needs a clip of at least 2 frames, got {num_frames}")
    if max_window < 1 + temporal_factor or (max_window - 1) % temporal_factor:
        raise ValueError(f"max_window must be 1 + {temporal_factor}k with k >= 1, got {max_window}")
    length = max(1 + temporal_factor, 1 + temporal_factor * ((min(num_frames, max_window) - 1) // temporal_factor))
    if num_frames <= length:
        return [single_pass_frames(num_frames, temporal_factor)]
    overlap = min_overlap(length)
    count = math.ceil((num_frames - overlap) / (length - overlap))
    # Evenly spread starts are at most (T - L) / (count - 1) <= L - overlap apart, so rounding keeps the overlap.
    starts = np.round(np.linspace(0, num_frames - length, count)).astype(int)
    return [np.arange(s, s + length) for s in starts]


def _central_positions(window: np.ndarray) -> dict[int, int]:
    """Frame -> its position in ``window`` nearest the window's centre (first such, for repeats)."""
    centre = (len(window) - 1) / 2
    best: dict[int, int] = {}
    for p, f in enumerate(window.tolist()):
        if f not in best or abs(p - centre) < abs(best[f] - centre):
            best[f] = p
    return best


def frame_sources(plan: Sequence[np.ndarray]) -> np.ndarray:
    """(N, 2) ``(window, position)`` each frame's camera is taken from: the window where the frame is most
    central (ties: the earlier window). N = the highest frame index + 1; every frame must be covered."""
    best: dict[int, tuple[float, int, int]] = {}
    for w, window in enumerate(plan):
        centre = (len(window) - 1) / 2
        for f, p in _central_positions(np.asarray(window)).items():
            if f not in best or abs(p - centre) < best[f][0]:
                best[f] = (abs(p - centre), w, p)
    n = max(best) + 1 if best else 0
    missing = sorted(set(range(n)) - set(best))
    if not best or missing or min(best) < 0:
        raise ValueError(f"windows do not cover frames 0..{n - 1} (missing {missing[:5]})")
    return np.array([best[f][1:] for f in range(n)], dtype=int)


def chain_windows(plan: Sequence[np.ndarray], poses: Sequence[torch.Tensor]) -> torch.Tensor:
    """One trajectory from per-window poses.

    Args:
        plan: windows of frame indices (``plan_windows``), in time order.
        poses: per window (L_w, 4, 4) camera-to-world poses, in that window's own frame and scale.
    Returns:
        (N, 4, 4) float64 poses in window 0's frame and scale, N = frames covered: window ``w > 0`` is moved
        by the Sim(3) (``fit_sim3_spread``: rotation from the camera orientations, scale the ratio of the
        centres' spreads, which noise does not shrink as it does a least-squares scale) mapping its cameras
        of the frames it shares with earlier windows onto their chained cameras (from the latest earlier
        window holding each), then each frame is read from ``frame_sources``.
    """
    if len(plan) != len(poses):
        raise ValueError(f"{len(plan)} windows but {len(poses)} pose sets")
    sources = frame_sources(plan)
    chained: list[torch.Tensor] = []
    latest: dict[int, tuple[int, int]] = {}              # frame -> (window, position) last chained
    for w, (window, c2w) in enumerate(zip(plan, poses)):
        window = np.asarray(window)
        if tuple(c2w.shape) != (len(window), 4, 4):
            raise ValueError(f"window {w}: {len(window)} frames but poses of shape {tuple(c2w.shape)}")
        c2w = c2w.detach().to(torch.float64)
        own = _central_positions(window)
        if w > 0:
            shared = [f for f in own if f in latest]
            if not shared:
                raise ValueError(f"window {w} shares no frame with the windows before it")
            src = c2w[[own[f] for f in shared]]
            dst = torch.stack([chained[latest[f][0]][latest[f][1]] for f in shared]).to(c2w)
            c2w = apply_sim3(c2w, fit_sim3_spread(src, dst, rotation_from="orientations"))
        chained.append(c2w)
        latest.update({f: (w, p) for f, p in own.items()})
    return torch.stack([chained[w][p] for w, p in sources.tolist()])


def assemble_cameras(plan: Sequence[np.ndarray], cameras: Sequence[Cameras], ref: int) -> tuple[Cameras, np.ndarray]:
    """Per-window cameras (each (L_w,), own frame) -> (N,) cameras canonicalised to frame ``ref`` (frame 0
    when ``ref`` is not covered yet), intrinsics from the same window as the pose; and ``frame_sources``."""
    sources = frame_sources(plan)
    c2w = chain_windows(plan, [c.c2w for c in cameras])
    c2w = canonicalize(c2w, ref if ref < len(sources) else 0)
    K = torch.stack([cameras[w].K[p].double() for w, p in sources.tolist()])
    first = cameras[0]
    return Cameras(c2w.to(first.c2w.dtype), K.to(first.K.dtype), first.width, first.height), sources


def describe_plan(plan: Sequence[np.ndarray], num_frames: int) -> str:
    """The note a windowed result carries: how many windows, which frames, and the overlaps."""
    if len(plan) == 1:
        return (f"the clip's {num_frames} frames fill one {len(plan[0])}-frame window with repeats "
                f"(frames {plan[0].tolist()}); each frame's camera comes from its most central copy")
    overlaps = [len(np.intersect1d(a, b)) for a, b in zip(plan, plan[1:])]
    spans = ", ".join(f"{int(w[0])}-{int(w[-1])}" for w in plan)
    lo, hi = min(overlaps), max(overlaps)
    return (f"{len(plan)} windows of {len(plan[0])} frames (frames {spans}), overlap "
            f"{lo if lo == hi else f'{lo}-{hi}'} frames, chained by a similarity fit (rotation, translation, "
            "scale) on the shared frames; each frame's camera comes from the window where it is most central "
            "(docs/windowing.md)")


def windowed_pose_events(pipe: JointPipeline, video: torch.Tensor, *, steps: int, seed: int = 0, ref: int = 0,
                         method: str = "euler", cancel: CancelToken | None = None,
                         max_window: int | None = None, ensemble: str = "none") -> Iterator[ProgressEvent]:
    """``pose_ensemble.ensemble_pose_events`` (``ensemble``; "none": one pass, ``tasks.estimate_poses_events``)
    for a clip of any length T >= 2 (frames (T, 3, H, W) on the model grid).

    A clip that is exactly one window runs as it is. Otherwise each window runs in turn (same seed, its
    first frame as reference) and its events are re-emitted with the message "window w/n (frames a-b)",
    step counts running over all windows (``total`` = windows x passes x steps), and previews of the trajectory
    chained so far (the frames covered up to the running window). Cancelling stops between windows as
    well as between steps. The final result is a ``PoseResult`` of T cameras canonicalised to ``ref``,
    with the plan in its notes (``describe_plan``).
    """
    T = video.shape[0]
    tf = pipe.temporal_factor
    plan = plan_windows(T, max(max_window or pipe.cfg.clip.num_frames, 1 + tf), tf)
    if len(plan) == 1 and len(plan[0]) == T:
        yield from ensemble_pose_events(pipe, video, steps=steps, seed=seed, ref=ref, method=method, cancel=cancel,
                                        ensemble=ensemble)
        return
    n, start, per = len(plan), time.perf_counter(), steps * num_passes(ensemble)
    done: list[PoseResult] = []
    for w, window in enumerate(plan):
        if cancel is not None:
            cancel.raise_if_cancelled()
        label = f"window {w + 1}/{n} (frames {int(window[0])}-{int(window[-1])})"
        for ev in ensemble_pose_events(pipe, video[torch.as_tensor(window, device=video.device)], steps=steps,
                                       seed=seed, ref=0, method=method, cancel=cancel, ensemble=ensemble):
            if ev.stage == "done":
                done.append(ev.result)
                continue
            as_part(ev, w, n, per, label, time.perf_counter() - start)
            if ev.cameras is not None:
                ev.cameras = assemble_cameras(plan[:w + 1], [r.cameras for r in done] + [ev.cameras], ref)[0]
            yield ev
    cams, sources = assemble_cameras(plan, [r.cameras for r in done], ref)
    residual = np.array([done[w].residual[p] for w, p in sources.tolist()])
    notes = [describe_plan(plan, T)] + [f"window {w + 1}/{n}: {note}" for w, r in enumerate(done) for note in r.notes]
    yield ProgressEvent("estimate_poses", "done", step=n * per, total=n * per,
                        elapsed=time.perf_counter() - start, cameras=cams,
                        result=PoseResult(cams, residual, ref, notes))
