"""How far can the joint task's "path depends on the photo" figure go in this domain? The data's own answer.

    python -m engine.evaluate.joint_ceiling --clips 12 --draws 16 --out results/joint-ceiling.json

Joint generation predicts a path from the first photo alone. ``probe.probe_joint`` scores it as
``joint_own_other``: the rotation error of the path predicted from clip i's photo against clip i's
true path, over that of the path predicted from clip i + 1's photo. A procedural path is drawn *after*
its first view (``engine.data.sample_trajectory``: a start, a look-at target, then a random move of a
random style scaled to the target's distance), so the photo fixes the start and only constrains the
move through the scene's free space. The best any sampler can do is to draw from that same
conditional: here, a new path from the true start and target (``sample_trajectory(eye=, target=)``).

Reported for two such oracles, ``draws`` paths per clip each:
    ``prior_style``  the style drawn as in training (``STYLE_WEIGHTS``): what a perfect model of the
                     training data samples, since a photo does not show which move will follow
    ``true_style``   the clip's own style given away (more than a photo can tell)
and for the posterior-mean-like answer that never turns (``identity``), whose own/other is 1 by
construction. Each gives ``own`` / ``other`` (mean rotation error, degrees) and their ratio.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np
import torch

from engine.config import ClipConfig

from .benchmarks import PROCEDURAL_STYLES, procedural_path
from .probe import own_other_ratio, report


def start_conditioned_paths(clip: ClipConfig, num_clips: int, draws: int, *, styles=PROCEDURAL_STYLES,
                            give_style: bool = False, seed: int = 1, first_seed: int = 0):
    """(truths, draws): the true paths of held-out clips ``first_seed ..`` (``benchmarks.procedural_path``)
    and, per clip, ``draws`` other paths from the same first camera and target."""
    from engine.data import HELDOUT_SEEDS, sample_trajectory

    truths, samples = [], []
    for n in range(first_seed, first_seed + num_clips):
        scene, path = procedural_path(clip, n, styles=styles)
        fov = float(torch.rad2deg(path.cameras.fov_y[0]))
        rng = np.random.default_rng([HELDOUT_SEEDS[n], seed])
        samples.append([sample_trajectory(scene, clip.num_frames, rng=rng, style=path.style if give_style else None,
                                          width=clip.width, height=clip.height, fov_y_deg=fov,
                                          eye=path.cameras.centers[0].double(), target=path.target
                                          ).cameras.to(torch.float64) for _ in range(draws)])
        truths.append(path.cameras.to(torch.float64))
    return truths, samples


def oracle_own_other(clip: ClipConfig, num_clips: int, draws: int, *, styles=PROCEDURAL_STYLES,
                     give_style: bool = False, first_seed: int = 0) -> tuple[dict[str, float], list]:
    """The probe's joint own/other for paths the data generator draws from each clip's first view,
    averaged over ``draws`` draws; and the clips' true paths."""
    truths, samples = start_conditioned_paths(clip, num_clips, draws, styles=styles, give_style=give_style,
                                              first_seed=first_seed)
    per_draw = [own_other_ratio([s[k] for s in samples], truths) for k in range(draws)]
    own, other = float(np.mean([p[0] for p in per_draw])), float(np.mean([p[1] for p in per_draw]))
    ratios = [p[2] for p in per_draw]
    return ({"own": own, "other": other, "own_other": own / other,
             "own_other_per_draw_min": float(np.min(ratios)), "own_other_per_draw_max": float(np.max(ratios))},
            truths)


def ceiling(clip: ClipConfig, num_clips: int = 12, draws: int = 16, *, styles=PROCEDURAL_STYLES) -> dict[str, Any]:
    from geometry import Cameras

    out: dict[str, Any] = {"clips": num_clips, "draws": draws, "styles": list(styles)}
    t0 = time.perf_counter()
    for name, give in (("prior_style", False), ("true_style", True)):
        out[name], truths = oracle_own_other(clip, num_clips, draws, styles=styles, give_style=give)
    still = [Cameras(c2w=t.c2w[:1].expand(len(t), 4, 4).clone(), K=t.K, width=t.width, height=t.height)
             for t in truths]
    own, other, ratio = own_other_ratio(still, truths)
    out["identity"] = {"own": own, "other": other, "own_other": ratio}
    out["seconds"] = round(time.perf_counter() - t0, 1)
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clips", type=int, default=12)
    ap.add_argument("--draws", type=int, default=16)
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    report(ceiling(ClipConfig(), args.clips, args.draws), args.out)


if __name__ == "__main__":
    main()
