"""The pose ensemble over mirrored and reversed clips (``sampler.pose_ensemble``, engine/pose_ensemble.py):
mirror-equivariant rotations, the plain pass's centres, progress over all passes, windows, bad names."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import geometry as g
from camera_strategies import small_random_engine
from engine import CancelToken, Cancelled
from engine.pose_ensemble import PASSES, num_passes, pass_labels


@pytest.fixture(scope="module")
def engine():
    return small_random_engine(9, 16)


def _clip(T: int = 9, seed: int = 0) -> np.ndarray:
    """(T, 16, 16, 3) uint8: a textured pattern sliding to the right, so the frames differ."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (16, 40, 3), dtype=np.uint8)
    return np.stack([base[:, 2 * t:2 * t + 16] for t in range(T)])


def test_the_tiny_preset_averages_four_passes(engine):
    assert engine.config.sampler.pose_ensemble == "mirror_reverse" and engine.info()["pose_passes"] == 4
    assert num_passes("mirror_reverse") == 4 and num_passes("none") == 1
    # The studio names the passes from info, so the labels travel with the ensemble, plain first.
    assert engine.info()["pose_pass_labels"] == list(pass_labels("mirror_reverse"))
    assert pass_labels("mirror_reverse")[0] == "plain" and len(set(pass_labels("mirror_reverse"))) == 4
    with pytest.raises(ValueError, match="pose ensemble must be one of"):
        pass_labels("sideways")
    assert [p[0] for p in PASSES["mirror_reverse"]][0] == "plain"


def test_rotations_are_the_chordal_mean_of_the_four_passes_and_centres_the_plain_pass(engine):
    clip = _clip()
    ens = engine.estimate_poses(clip, seed=3, ensemble="mirror_reverse")
    plain = engine.estimate_poses(clip, seed=3, ensemble="none")
    assert torch.equal(ens.centers, plain.centers) and torch.equal(ens.K, plain.K)
    mirrored = engine.estimate_poses(np.ascontiguousarray(clip[:, :, ::-1]), seed=3, ensemble="none").mirrored()
    backwards = []
    for frames, mirror in ((clip[::-1], False), (clip[::-1, :, ::-1], True)):
        cams = engine.estimate_poses(np.ascontiguousarray(frames), seed=3, ensemble="none")
        cams = (cams.mirrored() if mirror else cams).reversed()
        backwards.append(cams.with_poses(g.canonicalize(cams.c2w, 0)))
    passes = [plain, mirrored] + backwards
    expected = g.chordal_mean(torch.stack([p.R.double() for p in passes]), dim=0)
    assert torch.allclose(ens.R.double(), expected, atol=1e-5)
    # The passes really differ (else the test could not tell an average from one of them).
    assert max(float(g.relative_rotation_angle_deg(p.R, plain.R).max()) for p in passes[1:]) > 0.5


def test_ensemble_rotations_are_mirror_equivariant(engine):
    clip = _clip(seed=1)
    ens = engine.estimate_poses(clip, seed=0)
    ens_of_mirror = engine.estimate_poses(np.ascontiguousarray(clip[:, :, ::-1]), seed=0)
    assert torch.allclose(ens_of_mirror.mirrored().R, ens.R, atol=1e-5)
    # One pass is not: the model itself has no such symmetry.
    one, one_of_mirror = (engine.estimate_poses(c, seed=0, ensemble="none")
                          for c in (clip, np.ascontiguousarray(clip[:, :, ::-1])))
    assert not torch.allclose(one_of_mirror.mirrored().R, one.R, atol=1e-3)


def test_progress_counts_every_pass_and_the_result_says_how_it_was_made(engine):
    events = list(engine.estimate_poses_stream(_clip(), steps=2, seed=0))
    running = [e for e in events if e.stage != "done"]
    assert {e.total for e in running} == {8}                          # 4 passes x 2 steps
    steps = [e.step for e in running]
    assert steps == sorted(steps) and steps[-1] == 8
    for k, label in enumerate(("plain", "mirrored", "reversed", "mirrored and reversed"), start=1):
        assert any(e.message.startswith(f"pass {k}/4 ({label})") for e in running)
    done = events[-1]
    assert done.stage == "done" and len(done.cameras) == 9
    assert any("rotations averaged over 4 passes" in n for n in done.result.notes)


def test_windows_run_the_ensemble_in_each_window(engine):
    events = list(engine.estimate_poses_stream(_clip(T=13), steps=2, seed=0))
    running = [e for e in events if e.stage != "done"]
    totals = {e.total for e in running}
    assert len(totals) == 1 and next(iter(totals)) % 8 == 0 and next(iter(totals)) >= 16   # windows x 4 x 2
    assert [e.step for e in running] == sorted(e.step for e in running)
    assert len(events[-1].cameras) == 13
    assert any("pose ensemble" in n for n in events[-1].result.notes)


def test_cancelling_stops_between_passes(engine):
    token = CancelToken()
    with pytest.raises(Cancelled):
        for ev in engine.estimate_poses_stream(_clip(), steps=2, seed=0, cancel=token):
            if ev.message.startswith("pass 2/4"):
                token.cancel()


def test_bad_ensemble_names_are_refused_before_any_work(engine):
    # (a checkpoint naming an unknown ensemble: tests/test_checkpoint_validation.py)
    events = []
    with pytest.raises(ValueError, match="pose ensemble must be one of"):
        for ev in engine.estimate_poses_stream(_clip(), ensemble="flip-everything"):
            events.append(ev)
    assert events == []
