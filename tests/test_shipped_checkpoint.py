"""The shipped default checkpoint keeps its measured performance on fixed held-out procedural scenes.

The bars are set from the checkpoint's own measurement (RESULTS.md) with margin, and each is one that an
input-free model fails, so that a model that stops reading the video or the cameras, or a regression in the
engine or the geometry (a sign flip, a wrong canonicalisation, a broken sampler or warp), breaks the suite.
Of the issue-10 bars the checkpoint meets the pose bars on the untouched held-out clips (rotation 0.402x the
identity on 464 clips and 0.430x on 132, own/other 0.28; RESULTS.md "Session 23") and the generation bars (+1.54 dB
over copying and +1.91 over another path on 96 clips; the bar is +1 for both), not joint own/other <= 0.8.
Joint generation is held to what it does: its video moves along the cameras it returns.
"""

import numpy as np
import pytest
import torch

import geometry as g
from engine import DEFAULT_CHECKPOINT, Engine
from engine.evaluate import load_benchmark
from engine.evaluate.probe import generated_psnr, probe_joint
from geometry.metrics import identity_baseline, pose_metrics

pytestmark = pytest.mark.skipif(not (DEFAULT_CHECKPOINT / "model.safetensors").is_file(),
                                reason="no shipped checkpoint in assets/checkpoints/raxels-tiny")

NUM_CLIPS = 8
# Measured on these 8 held-out clips (seeds HELDOUT_SEEDS[:8]) at 2 ray steps with the checkpoint's pose ensemble
# (session 23, step 1,200 of PH: M1 with the motion input, the guide fine-tune, then the ray side; rotations averaged
# over the clip, mirrored and reversed): mean rotation error 9.59 degrees against 19.17 for the identity ("never
# turns"; 0.501x; on 464 untouched clips it is 0.402x), own/other 0.35 (the
# prediction made for the next clip scored against this one), ATE 0.078. The bars sit between those figures and what
# an input-free model scores (identity ratio 1.0, own/other 1.0).
MAX_ROT_ERR_VS_IDENTITY = 0.62
MAX_OWN_OTHER = 0.45
MAX_MEAN_ATE = 0.14
# Camera-controlled generation on the same clips, default sampler, seed 0 (session 23; the video stream is PG's, its
# guide the first frame warped through a plane 3 m in front): 23.88 dB along the clip's own path, 20.58 along the
# next clip's, 21.28 copying the first frame (session 22's checkpoint, guide at infinity: 22.36 / 20.72). A model
# that ignores the cameras scores own = other; one that ignores the first frame, or a broken warp, falls below
# copying. The bars are the (+1 dB over each).
MIN_OWN_MINUS_OTHER_DB = 1.0
MIN_OWN_MINUS_COPY_DB = 1.0
# Joint generation on the same clips (session 23, cameras first, a seed per clip): the poses estimated from each
# joint video are closer to the sample's own path than to the next sample's (coherence own/other 0.49) and than
# a still video's are (0.60x; session 14's checkpoint: 0.54 and 0.69x). Denoising both streams together scored
# 1.01 and 1.05x a still video (F2).
MAX_COHERENCE_OWN_OTHER = 0.75
MAX_COHERENCE_VS_STILL = 0.85


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


def test_generation_follows_the_cameras_on_heldout_scenes(engine):
    """Frames generated along the clip's own path are closer to the clip than those along another clip's path,
    and than repeating the first frame: both fail for a model that ignores the cameras."""
    clips = load_benchmark("procedural", engine.config.clip, NUM_CLIPS)
    own, other, copy = [], [], []
    for i, clip in enumerate(clips):
        own.append(generated_psnr(engine.generate(clip.frames[:1], clip.cameras, seed=0), clip.frames))
        other.append(generated_psnr(engine.generate(clip.frames[:1], clips[(i + 1) % len(clips)].cameras, seed=0), clip.frames))
        copy.append(generated_psnr(np.repeat(clip.frames[:1], len(clip.frames), 0), clip.frames))
    own, other, copy = map(np.array, (own, other, copy))
    assert np.isfinite(own).all() and np.isfinite(other).all()
    assert own.mean() - other.mean() >= MIN_OWN_MINUS_OTHER_DB, (own, other)
    assert own.mean() - copy.mean() >= MIN_OWN_MINUS_COPY_DB, (own, copy)


def test_joint_video_moves_along_the_cameras_it_returns(engine):
    """The poses read back from each joint sample's video are closer to that sample's own path than to another
    sample's, and than a still video's are: both fail for a video that ignores the path it comes with."""
    clips = load_benchmark("procedural", engine.config.clip, NUM_CLIPS)
    r = probe_joint(engine, clips)
    assert r["coherence_own_other"] < MAX_COHERENCE_OWN_OTHER, r
    assert r["coherence_rot_err_deg"] < MAX_COHERENCE_VS_STILL * r["coherence_still_rot_err_deg"], r
