"""Camera paths for procedural scenes: the moves of the training sets, kept in free space and aimed
at content.

Styles (``STYLES``, drawn with ``STYLE_WEIGHTS``):
    ``re10k``       RealEstate10K-like forward walk or slow pan (``geometry.random_walk(kind="re10k")``)
    ``dl3dv``       DL3DV-like arc / orbit around content with wandering radius and aim (``kind="dl3dv"``)
    ``orbit``       a partial orbit about a target (preset ``orbit``, 20-120 degrees either way)
    ``dolly``       dolly in or out along the view axis (presets ``dolly_in`` / ``dolly_out``)
    ``zoom``        focal-length zoom in or out, pose fixed (preset ``zoom``)
    ``dolly_zoom``  the Vertigo shot (preset ``dolly_zoom``)
    ``truck``       slide sideways (preset ``truck``)
    ``pedestal``    rise or sink (preset ``pedestal``)
    ``pan``         turn in place (preset ``pan``)
    ``spiral``      orbit while closing in and rising (preset ``spiral``)

Every path starts at a random eye in the scene's ``free_space`` looking at one of its ``targets``;
motion is scaled to the distance between them. A drawn path is kept only if ``check_trajectory``
passes: every camera centre (and the path between frames) is inside the free space and at least
``min_clearance`` from any solid box, look-at moves keep the target in view, and every frame sees
content (most of a coarse 8 x 8 ray grid hits geometry, and not from closer than ``min_depth``).
Otherwise it is redrawn (``max_attempts``), then a short pan from the most open point is used.

Time reversal is applied by ``examples.build_example`` (frames and cameras together, with
``Cameras.reversed``), so it serves real clips too.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from geometry import Cameras, random_walk
from geometry.trajectory import PRESETS

from .render import render

STYLES: tuple[str, ...] = ("re10k", "dl3dv", "orbit", "dolly", "zoom", "dolly_zoom", "truck", "pedestal", "pan",
                           "spiral")
# The two training sets' styles dominate; the presets teach the moves users draw in the studio.
STYLE_WEIGHTS: dict[str, float] = {"re10k": 0.3, "dl3dv": 0.25, "orbit": 0.1, "dolly": 0.07, "zoom": 0.05,
                                   "dolly_zoom": 0.03, "truck": 0.06, "pedestal": 0.03, "pan": 0.06, "spiral": 0.05}
# ``ProceduralClips(kind_styles=True)`` (ours, an experiment; off by default): the move follows what the view
# shows, as in footage where rooms are walked through and objects in the open are circled. Indoor scenes draw
# walks, pans and slides; outdoor scenes arcs and orbits. Off, a photo does not show which move follows, and the
# joint task's "path depends on the photo" cannot be learnt (RESULTS.md, session 18).
KIND_STYLES: dict[str, tuple[str, ...]] = {"indoor": ("re10k", "dolly", "zoom", "truck", "pedestal", "pan"),
                                           "outdoor": ("dl3dv", "orbit", "dolly_zoom", "spiral")}
FOV_RANGE_DEG = (40.0, 75.0)     # vertical field of view of generated paths
_PROBE = 8                       # rays per side of the coarse "does it see content" check
_SEGMENT_SAMPLES = 4             # points checked between consecutive camera centres


@dataclass
class Trajectory:
    """A generated path: ``cameras`` (N,) float64, the ``style`` that made it, the look-at ``target``
    (3,) it started from, and how many draws it took (``attempts``; 0 = the fallback pan)."""

    cameras: Cameras
    style: str
    target: torch.Tensor
    attempts: int


def style_for_kind(kind: str, rng: np.random.Generator) -> str:
    """A style of ``KIND_STYLES[kind]``, drawn with their ``STYLE_WEIGHTS``."""
    if kind not in KIND_STYLES:
        raise ValueError(f"style_for_kind: scene kind must be one of {tuple(KIND_STYLES)}, got {kind!r}")
    names = KIND_STYLES[kind]
    weights = np.array([STYLE_WEIGHTS[n] for n in names])
    return str(rng.choice(names, p=weights / weights.sum()))


def check_trajectory(scene, cameras: Cameras, *, target: torch.Tensor | None = None, min_clearance: float = 0.25,
                     min_depth: float = 0.3, min_hit_fraction: float = 0.5, target_margin: float = 0.05) -> list[str]:
    """Why ``cameras`` is not a good path in ``scene`` (an empty list when it is).

    Args:
        scene: a scene with ``free_space``, ``clearance`` and ``trace`` (``BoxScene``).
        target: (3,) a point every frame must see (inside the image, ``target_margin`` of the size
            away from the border, in front of the camera); None skips that check.
        min_clearance: metres between any camera centre (or the path between frames) and solid geometry.
        min_depth: the 10th percentile of a frame's depth must be at least this (not pressed to a wall).
        min_hit_fraction: share of a frame's probe rays that must hit geometry rather than the sky.
    """
    problems = []
    centres = cameras.centers.double()                                     # (N, 3)
    s = torch.linspace(0, 1, _SEGMENT_SAMPLES + 1, dtype=torch.float64)[:-1]
    path = (centres[:-1, None] + s[:, None] * (centres[1:] - centres[:-1])[:, None]).reshape(-1, 3)
    path = torch.cat([path, centres[-1:]])
    box = scene.free_space.double()
    outside = ((path < box[0] - 1e-9) | (path > box[1] + 1e-9)).any(-1)
    if bool(outside.any()):
        problems.append(f"{int(outside.sum())} path points leave the free space")
    clear = scene.clearance(path)
    if float(clear.min()) < min_clearance:
        problems.append(f"the path comes {float(clear.min()):.3f} m from geometry (< {min_clearance})")
    if target is not None:
        tgt = torch.as_tensor(target, dtype=torch.float64)
        local = torch.einsum("nji,nj->ni", cameras.R.double(), tgt - centres)  # R^T (target - centre)
        pix = torch.einsum("nij,nj->ni", cameras.K.double(), local)
        z = local[:, 2]
        u, v = pix[:, 0] / z.clamp_min(1e-9), pix[:, 1] / z.clamp_min(1e-9)
        mu, mv = target_margin * cameras.width, target_margin * cameras.height
        seen = (z > 0) & (u > mu) & (u < cameras.width - mu) & (v > mv) & (v < cameras.height - mv)
        if not bool(seen.all()):
            problems.append(f"the target leaves the view in {int((~seen).sum())} frames")
    depth = render(scene, cameras, height=_PROBE, width=_PROBE, depth=True).depth.flatten(1)   # (N, 64)
    hit = torch.isfinite(depth)
    if float(hit.float().mean(1).min()) < min_hit_fraction:
        problems.append("a frame sees mostly sky")
    near = torch.quantile(torch.where(hit, depth, torch.full_like(depth, 1e9)), 0.1, dim=1)
    if float(near.min()) < min_depth:
        problems.append(f"a frame is {float(near.min()):.3f} m from a surface (< {min_depth})")
    return problems


def sample_trajectory(scene, num_frames: int, *, rng: np.random.Generator, style: str | None = None,
                      width: int = 64, height: int = 64, fps: float = 8.0, fov_y_deg: float | None = None,
                      min_clearance: float = 0.25, max_attempts: int = 12, eye: torch.Tensor | None = None,
                      target: torch.Tensor | None = None) -> Trajectory:
    """A random path of ``num_frames`` cameras in ``scene`` that passes ``check_trajectory``.

    Args:
        style: one of ``STYLES``; None draws one per attempt by ``STYLE_WEIGHTS``.
        eye, target: (3,) a fixed start and look-at point (the path's first frame): only the move is
            drawn, i.e. a sample of the paths that start from a given view. None draws them. When no
            move from there passes in ``max_attempts`` draws, the fallback pan starts elsewhere
            (``attempts = 0`` says so).
        width, height: image size of the cameras (K refers to it).
        fov_y_deg: vertical FOV (the start FOV for zooms); None draws from ``FOV_RANGE_DEG``.
    Returns:
        a ``Trajectory``. Same generator state, same path.
    """
    if style is not None and style not in STYLES:
        raise ValueError(f"sample_trajectory: style must be one of {STYLES}, got {style!r}")
    names, weights = list(STYLE_WEIGHTS), np.array(list(STYLE_WEIGHTS.values()))
    frame_args = dict(num_frames=num_frames, width=width, height=height, fps=fps)
    for attempt in range(1, max_attempts + 1):
        kind = style or str(rng.choice(names, p=weights / weights.sum()))
        fov = float(fov_y_deg if fov_y_deg is not None else rng.uniform(*FOV_RANGE_DEG))
        start = eye if eye is not None else _free_point(scene, rng, min_clearance)
        if start is None:
            continue
        aim = target if target is not None else _target(scene, rng, start)
        if aim is None:
            continue
        try:
            cams = _draw(kind, rng, start.double(), aim.double(), scene, fov, frame_args)
        except ValueError:  # a preset refusing its arguments (e.g. a view straight down): draw again
            continue
        look_at_move = kind not in ("re10k", "pan", "truck", "pedestal")
        if not check_trajectory(scene, cams, target=aim if look_at_move else None, min_clearance=min_clearance):
            return Trajectory(cams, kind, aim, attempt)
    return _fallback(scene, rng, num_frames, fov_y_deg or 55.0, frame_args, min_clearance)


# --------------------------------------------------------------------------------------
# Pieces
# --------------------------------------------------------------------------------------

def _free_point(scene, rng: np.random.Generator, min_clearance: float, tries: int = 32) -> torch.Tensor | None:
    """A uniform point in the free space at least ``2 * min_clearance`` from geometry (room to move)."""
    box = scene.free_space.double().numpy()
    points = rng.uniform(box[0], box[1], (tries, 3))
    ok = (scene.clearance(points) >= 2 * min_clearance).numpy()
    return torch.from_numpy(points[ok.argmax()]) if ok.any() else None


def _target(scene, rng: np.random.Generator, eye: torch.Tensor) -> torch.Tensor | None:
    """A scene target 1-12 m from the eye, not straight above or below it."""
    targets = scene.targets.double()
    offset = targets - eye
    dist = offset.norm(dim=-1)
    level = (offset[:, [0, 2]].norm(dim=-1) > 0.5 * offset[:, 1].abs())   # at most ~63 degrees of pitch
    ok = torch.nonzero((dist > 1.0) & (dist < 12.0) & level).flatten()
    if len(ok) == 0:
        return None
    return targets[int(ok[int(rng.integers(len(ok)))])]


def _draw(kind: str, rng: np.random.Generator, eye: torch.Tensor, target: torch.Tensor, scene, fov: float,
          frame_args: dict) -> Cameras:
    dist = float((target - eye).norm())
    common = dict(eye=eye, target=target, fov_y_deg=fov, **frame_args)
    sign = lambda a, b: str(rng.choice([a, b]))  # noqa: E731
    if kind in ("re10k", "dl3dv"):
        return random_walk(kind, frame_args["num_frames"], generator=rng, eye=eye, target=target,
                           bounds=scene.free_space, scale=float(rng.uniform(0.4, 0.8)) * dist, fov_y_deg=fov,
                           width=frame_args["width"], height=frame_args["height"], fps=frame_args["fps"])
    if kind == "orbit":
        return PRESETS["orbit"](degrees=float(rng.uniform(20, 120) * rng.choice([-1, 1])), **common)
    if kind == "dolly":
        return PRESETS[sign("dolly_in", "dolly_out")](distance=float(rng.uniform(0.15, 0.5)) * dist, **common)
    if kind == "zoom":
        return PRESETS["zoom"](direction=sign("in", "out"), factor=float(rng.uniform(1.2, 2.2)), **common)
    if kind == "dolly_zoom":
        return PRESETS["dolly_zoom"](direction=sign("in", "out"), distance=float(rng.uniform(0.15, 0.4)) * dist,
                                     **common)
    if kind == "truck":
        return PRESETS["truck"](direction=sign("right", "left"), distance=float(rng.uniform(0.2, 0.6)) * dist,
                                **common)
    if kind == "pedestal":
        return PRESETS["pedestal"](direction=sign("up", "down"), distance=float(rng.uniform(0.1, 0.3)) * dist,
                                   **common)
    if kind == "pan":
        return PRESETS["pan"](direction=sign("right", "left"), degrees=float(rng.uniform(15, 60)), **common)
    if kind == "spiral":
        return PRESETS["spiral"](degrees=float(rng.uniform(60, 180) * rng.choice([-1, 1])),
                                 end_radius_scale=float(rng.uniform(0.6, 0.9)),
                                 rise=float(rng.uniform(-0.2, 0.2)) * dist, **common)
    raise ValueError(f"unknown style {kind!r}")


def _fallback(scene, rng: np.random.Generator, num_frames: int, fov: float, frame_args: dict,
              min_clearance: float) -> Trajectory:
    """A short pan from the most open of many free points toward the farthest target: almost always valid."""
    box = scene.free_space.double().numpy()
    points = rng.uniform(box[0], box[1], (256, 3))
    clear = scene.clearance(points)
    eye = torch.from_numpy(points[int(clear.argmax())])
    targets = scene.targets.double()
    for idx in torch.argsort((targets - eye).norm(dim=-1), descending=True):
        target = targets[int(idx)]
        try:
            cams = PRESETS["pan"](degrees=10.0, eye=eye, target=target, fov_y_deg=fov, **frame_args)
        except ValueError:
            continue
        if not check_trajectory(scene, cams, min_clearance=min_clearance):
            return Trajectory(cams, "pan", target, 0)
    raise RuntimeError(f"no valid camera path found in scene {getattr(scene, 'name', '?')}: its free space "
                       "has no point with a clear view of content")
