"""The shipped default checkpoint keeps its measured performance on fixed held-out procedural scenes.

The bars are set from the checkpoint's own measurement (RESULTS.md) with margin, and each is one that an
input-free model fails, so that a model that stops reading the video, or a regression in the engine or the
geometry (a sign flip, a wrong canonicalisation, a broken sampler), breaks the suite. They are not the
issue-10 bars (rotation <= 0.5x identity, own/other <= 0.5), which the model does not meet yet.
"""

import numpy as np
import pytest
import torch

import geometry as g
from engine import DEFAULT_CHECKPOINT, Engine
from engine.evaluate import load_benchmark
from geometry.metrics import identity_baseline, pose_metrics

pytestmark = pytest.mark.skipif(not (DEFAULT_CHECKPOINT / "model.safetensors").is_file(),
                                reason="no shipped checkpoint in assets/checkpoints/raxels-tiny")

NUM_CLIPS = 8
# Measured on these 8 held-out clips (seeds HELDOUT_SEEDS[:8]) at 2 ray steps (session 5, the issue-10 recipe,
# step 7,500): mean rotation error 11.3 degrees against 19.2 for the identity ("never turns"), 23.2 for the
# prediction made for the next clip (own/other 0.49), ATE 0.16 (ATE_rel 0.33). The bars sit between those
# figures and what an input-free model scores (identity ratio 1.0, own/other 1.0), so a model that stops
# reading the video, or a broken sign / canonicalisation, fails them.
MAX_ROT_ERR_VS_IDENTITY = 0.8
MAX_OWN_OTHER = 0.75
MAX_MEAN_ATE = 0.25


@pytest.fixture(scope="module")
def engine():
    return Engine.from_checkpoint(device="cpu")


def test_default_checkpoint_loads_with_its_training_domain(engine):
    info = engine.info()
    assert engine.trained and info["training_domain"] == "procedural scenes"
    assert info["quality_note"], "the shipped checkpoint must state what it can and cannot do"


def test_pose_estimation_reads_the_clip_on_heldout_scenes(engine):
    """Rotation well below the identity answer's, and the clip's own prediction much closer to it than the
    prediction made for a different clip: both fail for a model that ignores its input."""
    clips = load_benchmark("procedural", engine.config.clip, NUM_CLIPS)
    preds = [engine.estimate_poses(clip.frames, steps=2) for clip in clips]
    truths = [clip.cameras.with_poses(g.canonicalize(clip.cameras.c2w, 0)) for clip in clips]

    def rot(pred, truth):
        return float(g.relative_rotation_angle_deg(pred.R.double(), truth.R.double()).mean())

    own = np.array([rot(p, t) for p, t in zip(preds, truths)])
    other = np.array([rot(preds[(i + 1) % len(preds)], t) for i, t in enumerate(truths)])
    identity = np.array([rot(identity_baseline(t), t) for t in truths])
    ates = np.array([float(pose_metrics(p, clip.cameras)["ATE"]) for p, clip in zip(preds, clips)])
    assert np.isfinite(own).all() and np.isfinite(ates).all()
    assert own.mean() < MAX_ROT_ERR_VS_IDENTITY * identity.mean(), (own, identity)
    assert own.mean() / other.mean() < MAX_OWN_OTHER, (own, other)
    assert ates.mean() < MAX_MEAN_ATE, ates


def test_all_three_tasks_run_on_a_heldout_scene(engine):
    clip = load_benchmark("procedural", engine.config.clip, 1)[0]
    frames = engine.generate(clip.frames[:1], clip.cameras, steps=4, seed=0)
    assert frames.shape[0] == len(clip.cameras) and frames.std() > 1.0       # not a flat image
    frames, cams = engine.generate_joint(clip.frames[:1], steps=4, ray_steps=2, seed=0)
    assert frames.shape[0] == cams.batch_shape[0] and torch.isfinite(cams.c2w).all()
