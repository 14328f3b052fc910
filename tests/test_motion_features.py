"""Local-motion histograms as a ray input (ModelConfig.motion_features, engine.model.correlation)."""

from __future__ import annotations

import dataclasses

import torch

from engine.config import ModelConfig, preset
from engine.model import JointDiT
from engine.model.correlation import local_correlation, video_correlation
from engine.objective import training_loss
from engine.pipeline import JointPipeline
from engine.train.trainer import freeze_video_side
from procedural_batches import tiny_batch

SMALL = dict(dim=32, num_heads=2, num_layers=1, ffn_dim=64)
MOTION = 4 * 49                                  # temporal factor x displacements (radius 3)


def _texture(seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.nn.functional.avg_pool2d(torch.rand(1, 3, 32, 32, generator=g) * 2 - 1, 3, 1, 1)


def _peak(hist: torch.Tensor) -> tuple[int, int]:
    """(dx, dy) of the most likely displacement of a (49,) histogram."""
    k = int(hist.argmax())
    return k % 7 - 3, k // 7 - 3


def test_the_histogram_points_to_where_the_pixels_were_in_the_previous_frame():
    img = _texture()
    for dx, dy in ((2, 0), (0, -1), (-3, 2), (1, 1)):
        moved = torch.roll(img, shifts=(dy, dx), dims=(2, 3))            # content moved dx right, dy down
        c = local_correlation(moved, img)                               # (1, 49, 32, 32)
        assert torch.allclose(c.sum(1), torch.ones(1, 32, 32), atol=1e-5)
        inner = c[0, :, 8:24, 8:24].mean((1, 2))                         # away from the rolled edges
        assert _peak(inner) == (-dx, -dy)


def test_frames_are_grouped_as_the_autoencoder_groups_them():
    img = _texture(1)
    frames = [torch.roll(img, shifts=(0, t), dims=(2, 3)) for t in range(9)]    # one pixel right per frame
    frames[6] = torch.roll(frames[5], shifts=(2, 0), dims=(2, 3))               # frame 6: two pixels down
    video = torch.stack(frames, 2)                                               # (1, 3, 9, 32, 32)
    out = video_correlation(video, patch=4, temporal_factor=4)
    assert out.shape == (1, MOTION, 3, 8, 8)
    per_frame = out.view(1, 4, 49, 3, 8, 8)[0, :, :, :, 2:6, 2:6].mean((-1, -2))  # (slot, 49, latent frame)
    assert all(_peak(per_frame[s, :, 0]) == (0, 0) for s in range(4))            # frame 0: no motion
    # Latent frame 2 covers frames 5-8; its second slot is frame 6, which moved down, not right.
    assert _peak(per_frame[1, :, 2]) == (0, -2)
    assert [_peak(per_frame[s, :, 1]) for s in range(4)] == [(-1, 0)] * 4


def _streams():
    torch.manual_seed(0)
    return ({"video": torch.randn(2, 192, 3, 8, 8), "cond_video": torch.randn(2, 1, 192, 8, 8),
             "rays": torch.randn(2, 192, 3, 8, 8), "cond_rays": torch.randn(2, 1, 192, 8, 8)},
            dict(cond_pos=torch.tensor([[0.0]] * 2)))


def test_motion_starts_at_zero_and_enters_only_where_the_clip_is_clean():
    torch.manual_seed(0)
    model = JointDiT(ModelConfig(**SMALL, frame_difference=True, motion_features=True))
    plain = JointDiT(ModelConfig(**SMALL, frame_difference=True))
    missing, unexpected = plain.load_state_dict(model.state_dict(), strict=False)
    assert not missing and unexpected == ["motion_embedding.weight", "motion_embedding.bias"]
    streams, kw = _streams()
    motion = {"motion": torch.rand(2, MOTION, 3, 8, 8)}
    other = {"motion": torch.rand(2, MOTION, 3, 8, 8)}
    pose = {"video": torch.ones(2), "cond_video": torch.ones(2, 1), "rays": torch.full((2,), 0.2),
            "cond_rays": torch.full((2, 1), 0.2)}
    assert float(model.motion_embedding.weight.detach().abs().sum()) > 0   # Xavier from scratch
    with torch.no_grad():        # as when switched on for a trained model (train.init_checkpoint)
        model.motion_embedding.weight.zero_()
        model.motion_embedding.bias.zero_()
    assert torch.allclose(model(streams, pose, features=motion, **kw)["rays"], plain(streams, pose, **kw)["rays"])
    with torch.no_grad():                        # as after training: no zero layers left
        for p in model.parameters():
            p.add_(0.2 * torch.randn_like(p))
    # Pose estimation (clip clean): the rays depend on the clip's motion.
    assert not torch.allclose(model(streams, pose, features=motion, **kw)["rays"],
                              model(streams, pose, features=other, **kw)["rays"])
    # Generation and joint generation (clip noised): the motion of a clip would be its answer; it is ignored.
    for gen in ({"video": torch.full((2,), 0.3), "cond_video": torch.ones(2, 1), "rays": torch.ones(2),
                 "cond_rays": torch.ones(2, 1)},
                {"video": torch.full((2,), 0.3), "cond_video": torch.ones(2, 1), "rays": torch.full((2,), 0.3),
                 "cond_rays": torch.ones(2, 1)}):
        a, b = model(streams, gen, features=motion, **kw), model(streams, gen, features=other, **kw)
        assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in ("video", "rays"))
        none = model(streams, gen, features=None, **kw)
        assert all(torch.allclose(a[k], none[k], atol=1e-6) for k in ("video", "rays"))


def test_ray_side_training_reaches_the_motion_embedding():
    base = preset("tiny")
    cfg = dataclasses.replace(base, model=dataclasses.replace(base.model, **SMALL, motion_features=True),
                              flow=dataclasses.replace(base.flow, p_video_clean=1.0, p_ray_clean=0.0,
                                                       pose_only_steps=0, mix_anneal_steps=0))
    torch.manual_seed(0)
    pipe = JointPipeline(cfg)
    with torch.no_grad():        # as a trained model (DSCA's cross-attention starts closed)
        for name, p in pipe.model.named_parameters():
            if not name.startswith("motion_embedding."):
                p.add_(0.05 * torch.randn_like(p))
        pipe.model.motion_embedding.weight.zero_()
    frozen = freeze_video_side(pipe.model)          # train.freeze_video_stream: the embedding is ray side
    assert not any(n.startswith("motion_embedding.") for n in frozen)
    loss, _ = training_loss(pipe, tiny_batch(2), generator=torch.Generator().manual_seed(0), step=0)
    loss.backward()
    grad = pipe.model.motion_embedding.weight.grad
    assert grad is not None and float(grad.abs().sum()) > 0


def test_pose_estimation_hands_the_model_the_clips_motion_and_generation_none():
    from engine.tasks import estimate_poses_events, generate_events
    from geometry import Cameras

    base = preset("tiny")
    pipe = JointPipeline(dataclasses.replace(base, model=dataclasses.replace(base.model, **SMALL,
                                                                            motion_features=True)))
    seen = []
    original = pipe.model.forward

    def spy(streams, times, **kw):
        seen.append({k: v.shape for k, v in (kw.get("features") or {}).items()})
        return original(streams, times, **kw)

    pipe.model.forward = spy
    clip = tiny_batch(1)["video"][0].transpose(0, 1)                          # (9, 3, 32, 32)
    list(estimate_poses_events(pipe, clip, steps=1))
    assert seen[-1] == {"motion": (1, MOTION, 3, 8, 8)}
    c2w = torch.eye(4, dtype=torch.float64).repeat(9, 1, 1)
    c2w[:, 0, 3] = torch.linspace(0, 0.5, 9, dtype=torch.float64)
    cams = Cameras.from_fov(c2w, fov_y_deg=50.0, width=32, height=32)
    list(generate_events(pipe, clip[:1], cams, [0], steps=1))
    assert seen[-1] == {}
