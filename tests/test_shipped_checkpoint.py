"""The shipped default checkpoint keeps its measured performance on fixed held-out procedural scenes.

The bars are set from the checkpoint's own measurement (RESULTS.md) with margin, so that a regression in
the engine or the geometry (a sign flip, a wrong canonicalisation, a broken sampler) breaks the suite.
They do not claim the model is good: RESULTS.md says how it compares with the identity baseline.
"""

import numpy as np
import pytest
import torch

import geometry as g
from engine import DEFAULT_CHECKPOINT, Engine
from engine.evaluate import load_benchmark
from geometry.metrics import pose_metrics

pytestmark = pytest.mark.skipif(not (DEFAULT_CHECKPOINT / "model.safetensors").is_file(),
                                reason="no shipped checkpoint in assets/checkpoints/raxels-tiny")

NUM_CLIPS = 8
# Measured on these 8 held-out clips (seeds HELDOUT_SEEDS[:8]) at 2 ray steps: mean rotation error
# 19.30 degrees (identity: 19.17) and ATE 0.231 (identity: 0.680). A broken sign or canonicalisation
# lands tens of degrees higher; translations lost (the identity's ATE) break the second bar.
MAX_MEAN_ROT_ERR_DEG = 26.0
MAX_MEAN_ATE = 0.40


@pytest.fixture(scope="module")
def engine():
    return Engine.from_checkpoint(device="cpu")


def test_default_checkpoint_loads_with_its_training_domain(engine):
    info = engine.info()
    assert engine.trained and info["training_domain"] == "procedural scenes"
    assert info["quality_note"], "the shipped checkpoint must state what it can and cannot do"


def test_pose_estimation_on_heldout_scenes_stays_within_its_measured_bar(engine):
    clips = load_benchmark("procedural", engine.config.clip, NUM_CLIPS)
    errors, ates = [], []
    for clip in clips:
        pred = engine.estimate_poses(clip.frames, steps=2)
        truth = clip.cameras.with_poses(g.canonicalize(clip.cameras.c2w, 0))
        errors.append(float(g.relative_rotation_angle_deg(pred.R.double(), truth.R.double()).mean()))
        ates.append(float(pose_metrics(pred, clip.cameras)["ATE"]))
    assert np.isfinite(errors).all() and np.isfinite(ates).all()
    assert float(np.mean(errors)) < MAX_MEAN_ROT_ERR_DEG, errors
    assert float(np.mean(ates)) < MAX_MEAN_ATE, ates


def test_all_three_tasks_run_on_a_heldout_scene(engine):
    clip = load_benchmark("procedural", engine.config.clip, 1)[0]
    frames = engine.generate(clip.frames[:1], clip.cameras, steps=4, seed=0)
    assert frames.shape[0] == len(clip.cameras) and frames.std() > 1.0       # not a flat image
    frames, cams = engine.generate_joint(clip.frames[:1], steps=4, ray_steps=2, seed=0)
    assert frames.shape[0] == cams.batch_shape[0] and torch.isfinite(cams.c2w).all()
