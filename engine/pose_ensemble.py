"""Pose estimation averaged over the data's symmetries (``SamplerConfig.pose_ensemble``, ours).

A clip mirrored left-right, or played backwards, is as likely a training clip as the clip itself: the
procedural paths turn left and right with equal odds and training reverses half of its clips. So the model
can be asked about all four versions of a clip (plain, mirrored, reversed, mirrored and reversed), each
answer mapped back onto the clip (``geometry.Cameras.mirrored``; reversal and re-canonicalisation to the
reference), and the four rotations averaged (``geometry.chordal_mean``). Each pass alone is a little worse
than the plain one, but their errors differ enough that the mean is better (RESULTS.md, "Session 14":
chosen on validation clips, not the probe's). Camera centres, intrinsics and the residual come from the
plain pass: the reversed passes fix their scale on another frame, and averaging centres measurably cost
trajectory error.

Every pass uses the same seed and reference slot, so the averaged rotations are exactly mirror-equivariant:
the rotations estimated for the mirrored clip are the mirrored rotations of the clip's.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import torch

from geometry import Cameras, canonicalize, chordal_mean

from .config import POSE_ENSEMBLES
from .events import CancelToken, ProgressEvent, as_part
from .pipeline import JointPipeline
from .tasks import PoseResult, estimate_poses_events

# (label, mirrored, reversed); the plain pass comes first and gives centres and intrinsics.
PASSES: dict[str, tuple[tuple[str, bool, bool], ...]] = {
    "none": (("plain", False, False),),
    "mirror_reverse": (("plain", False, False), ("mirrored", True, False), ("reversed", False, True),
                       ("mirrored and reversed", True, True)),
}


def pass_labels(ensemble: str) -> tuple[str, ...]:
    """What each model pass of ``ensemble`` looks at, in order ("plain" first)."""
    if ensemble not in PASSES:
        raise ValueError(f"pose ensemble must be one of {POSE_ENSEMBLES}, got {ensemble!r}")
    return tuple(label for label, _, _ in PASSES[ensemble])


def num_passes(ensemble: str) -> int:
    """Model passes per clip (each ``pose_steps`` denoising steps)."""
    return len(pass_labels(ensemble))


def _transform(video: torch.Tensor, mirrored: bool, reversed_: bool) -> torch.Tensor:
    """Frames (T, 3, H, W) mirrored left-right and/or played backwards."""
    if mirrored:
        video = video.flip(-1)
    if reversed_:
        video = video.flip(0)
    return video


def _map_back(cams: Cameras, mirrored: bool, reversed_: bool, ref: int) -> Cameras:
    """A pass's cameras (canonicalised to its slot ``ref``) as cameras of the original clip, canonicalised
    to the original frame ``ref``."""
    if mirrored:
        cams = cams.mirrored()
    if reversed_:
        cams = cams.reversed()
        cams = cams.with_poses(canonicalize(cams.c2w, ref))
    return cams


def combine(plain: Cameras, mapped: list[Cameras]) -> Cameras:
    """``plain`` with each frame's rotation replaced by the chordal mean over ``mapped`` (all (T,) cameras of
    the same clip, canonicalised to the same frame; ``plain`` is usually among them)."""
    c2w = plain.c2w.clone()
    # float64: a float32 SVD leaves ~1e-6 of non-orthonormality, over the float64 rigidity check
    rotations = torch.stack([m.c2w[..., :3, :3].double() for m in mapped])      # (P, T, 3, 3)
    c2w[..., :3, :3] = chordal_mean(rotations, dim=0).to(c2w)
    return plain.with_poses(c2w)


def ensemble_pose_events(pipe: JointPipeline, video: torch.Tensor, *, steps: int, seed: int = 0, ref: int = 0,
                         method: str = "euler", cancel: CancelToken | None = None,
                         ensemble: str = "none") -> Iterator[ProgressEvent]:
    """``tasks.estimate_poses_events`` with ``ensemble`` passes (``PASSES``; "none" is exactly one plain pass).

    Events of pass k are re-emitted with the message "pass k/n (label)" and steps counted over all passes
    (``total`` = passes x steps, set on every event); previews combine the passes done with the running one.
    The final ``PoseResult`` has the averaged rotations, the plain pass's centres, intrinsics and residual,
    and a note saying how it was made.
    """
    if num_passes(ensemble) == 1:
        yield from estimate_poses_events(pipe, video, steps=steps, seed=seed, ref=ref, method=method, cancel=cancel)
        return
    passes, T = PASSES[ensemble], video.shape[0]
    if not 0 <= ref < T:
        raise ValueError(f"ref {ref} out of range for {T} frames")
    n, start = len(passes), time.perf_counter()
    done: list[tuple[PoseResult, Cameras]] = []                       # (raw result, mapped cameras)
    for k, (label, mirrored, reversed_) in enumerate(passes):
        if cancel is not None:
            cancel.raise_if_cancelled()
        for ev in estimate_poses_events(pipe, _transform(video, mirrored, reversed_), steps=steps, seed=seed,
                                        ref=ref, method=method, cancel=cancel):
            if ev.stage == "done":
                done.append((ev.result, _map_back(ev.result.cameras, mirrored, reversed_, ref)))
                continue
            as_part(ev, k, n, steps, f"pass {k + 1}/{n} ({label})", time.perf_counter() - start)
            if ev.cameras is not None:
                running = _map_back(ev.cameras, mirrored, reversed_, ref)
                mapped = [m for _, m in done] + [running]
                ev.cameras = combine(mapped[0], mapped)
            yield ev
    plain = done[0][0]
    cams = combine(done[0][1], [m for _, m in done])
    notes = list(plain.notes) + [
        f"pose ensemble ({ensemble}): rotations averaged over {n} passes ({', '.join(p[0] for p in passes)}); "
        "centres and intrinsics from the plain pass"]
    notes += [f"{passes[k][0]} pass: {note}" for k, (r, _) in enumerate(done[1:], start=1) for note in r.notes]
    yield ProgressEvent("estimate_poses", "done", step=n * steps, total=n * steps,
                        elapsed=time.perf_counter() - start, cameras=cams,
                        result=PoseResult(cams, plain.residual, ref, notes))
