"""The reference frame warped into the target cameras (geometry.infinite_depth_warp) as a guide for
camera-controlled generation (ModelConfig.warped_reference), and the same warp as a classical baseline
(engine.baselines.warp)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from engine.baselines.warp import warp_source_frame
from engine.config import ModelConfig, preset
from engine.model import JointDiT
from engine.objective import training_loss
from engine.pipeline import JointPipeline
from geometry import Cameras, axis_angle_to_matrix, camera_ray_bundle, infinite_depth_warp, make_pose, plane_warp
from procedural_batches import tiny_batch

SMALL = dict(dim=32, num_heads=2, num_layers=1, ffn_dim=64)
H = W = 48
K = torch.tensor([[40.0, 0, 24], [0, 40, 24], [0, 0, 1]], dtype=torch.float64)


def _sky(c2w: torch.Tensor, K: torch.Tensor) -> torch.Tensor:
    """The image (3, H, W) of a scene at infinity: a smooth function of each pixel's world direction."""
    d = camera_ray_bundle(K, H, W) @ c2w[:3, :3].T
    return torch.stack([torch.sin(3 * d[..., 0]), torch.cos(2 * d[..., 1]), d[..., 2]], 0)


def _pose(axis_angle, centre=(0.0, 0.0, 0.0)) -> torch.Tensor:
    return make_pose(axis_angle_to_matrix(torch.tensor(axis_angle, dtype=torch.float64)),
                     torch.tensor(centre, dtype=torch.float64))


def _interior(valid: torch.Tensor, margin: int = 2) -> torch.Tensor:
    """Valid pixels at least ``margin`` pixels from an invalid one (bilinear sampling is exact only inside)."""
    return -torch.nn.functional.max_pool2d(-valid, 2 * margin + 1, 1, margin) > 0


def test_the_warp_shows_a_scene_at_infinity_as_each_camera_sees_it():
    src = _pose([0.0, 0.0, 0.0])
    # Turned cameras, one also moved and zoomed: at infinity only the rotation and intrinsics matter.
    dst = torch.stack([_pose([0.0, 0.12, 0.0]), _pose([0.06, -0.08, 0.04], (0.4, -0.1, 0.3)), src])
    K_dst = torch.stack([K, K * torch.tensor([[1.25, 1, 1], [1, 1.25, 1], [1, 1, 1]], dtype=torch.float64), K])
    warped, valid = infinite_depth_warp(_sky(src, K), K, src, K_dst, dst)
    assert warped.shape == (3, 3, H, W) and valid.shape == (3, 1, H, W)
    assert torch.allclose(warped[2], _sky(src, K), atol=1e-12)
    for i in range(3):
        inside = _interior(valid[i:i + 1])[0, 0]
        err = (warped[i] - _sky(dst[i], K_dst[i])).abs()[:, inside]
        assert float(err.max()) < 0.02, i                                 # bilinear error of a smooth image
    # Turning right (+y yaw) brings unseen sky in on the right: those pixels are marked and zero.
    assert float(valid[0, 0, :, -3:].mean()) == 0 and float(valid[0, 0, :, :3].mean()) == 1
    assert not warped[0][:, valid[0, 0] == 0].any()
    # Looking backwards, nothing is seen.
    _, behind = infinite_depth_warp(_sky(src, K), K, src, K[None], _pose([0.0, np.pi, 0.0])[None])
    assert not behind.any()


def _wall(c2w: torch.Tensor, K: torch.Tensor, depth: float) -> torch.Tensor:
    """The image (3, H, W) of a textured wall z = depth (world frame = the source camera's at the origin)."""
    d = camera_ray_bundle(K, H, W) @ c2w[:3, :3].T
    s = (depth - c2w[2, 3]) / d[..., 2]
    p = c2w[:3, 3] + s[..., None] * d
    return torch.stack([torch.sin(2 * p[..., 0]), torch.cos(3 * p[..., 1]), torch.sin(p[..., 0] + p[..., 1])], 0)


def test_the_plane_warp_shows_a_flat_scene_as_each_camera_sees_it():
    src, depth = _pose([0.0, 0.0, 0.0]), 3.0
    # Moved cameras (truck, pedestal, dolly in) that also turn: the parallax a warp at infinity misses.
    dst = torch.stack([_pose([0.0, 0.05, 0.0], (0.5, 0.0, 0.0)), _pose([0.04, -0.03, 0.02], (-0.2, 0.3, 0.8)), src])
    warped, valid = plane_warp(_wall(src, K, depth), K, src, K.expand(3, 3, 3), dst, depth=depth)
    assert torch.allclose(warped[2], _wall(src, K, depth), atol=1e-12)
    at_inf, _ = infinite_depth_warp(_wall(src, K, depth), K, src, K.expand(3, 3, 3), dst)
    for i in range(2):
        inside = _interior(valid[i:i + 1])[0, 0]
        inside[:2], inside[-2:], inside[:, :2], inside[:, -2:] = False, False, False, False   # border clamping
        assert inside.float().mean() > 0.5
        truth = _wall(dst[i], K, depth)
        err = (warped[i] - truth).abs()[:, inside]
        assert float(err.max()) < 0.03, i
        assert float((at_inf[i] - truth).abs()[:, inside].mean()) > 10 * float(err.mean()), i   # parallax matters
    # Far planes tend to the warp at infinity; a camera past the plane sees nothing of it.
    far, _ = plane_warp(_wall(src, K, depth), K, src, K.expand(3, 3, 3), dst, depth=1e9)
    assert torch.allclose(far, at_inf, atol=1e-6)
    _, past = plane_warp(_wall(src, K, depth), K, src, K[None], _pose([0.0, 0.0, 0.0], (0.0, 0.0, 3.5))[None],
                         depth=depth)
    assert not past.any()
    with pytest.raises(ValueError, match="depth"):
        plane_warp(_wall(src, K, depth), K, src, K[None], src[None], depth=0.0)


def test_the_warp_batches_and_names_bad_shapes():
    src, dst = _pose([0.0, 0.0, 0.0]), torch.stack([_pose([0.0, 0.1, 0.0]), _pose([0.1, 0.0, 0.0])])
    one, _ = infinite_depth_warp(_sky(src, K), K, src, K.expand(2, 3, 3), dst)
    many, _ = infinite_depth_warp(_sky(src, K).expand(4, 3, H, W), K, src, K.expand(4, 2, 3, 3), dst.expand(4, 2, 4, 4))
    assert many.shape == (4, 2, 3, H, W) and torch.allclose(many[3], one)
    with pytest.raises(ValueError, match="K_dst"):
        infinite_depth_warp(_sky(src, K), K, src, K, dst)
    kept, valid = infinite_depth_warp(_sky(src, K), K, src, K.expand(2, 3, 3), dst, unseen="source")
    assert torch.equal(kept * valid, one * valid) and torch.equal(kept * (1 - valid), _sky(src, K) * (1 - valid))
    with pytest.raises(ValueError, match="unseen"):
        infinite_depth_warp(_sky(src, K), K, src, K.expand(2, 3, 3), dst, unseen="mirror")


def test_the_classical_baseline_copies_frame_zero_where_it_sees_nothing():
    cams = Cameras(torch.stack([_pose([0.0, 0.0, 0.0]), _pose([0.0, 0.15, 0.0])]), K.expand(2, 3, 3), W, H)
    first = ((_sky(cams.c2w[0], K).permute(1, 2, 0) + 1) * 127.5).round().to(torch.uint8).numpy()
    out = warp_source_frame(first, cams)
    assert out.shape == (2, H, W, 3) and out.dtype == np.uint8
    assert np.array_equal(out[0], first)
    truth = ((_sky(cams.c2w[1], K).permute(1, 2, 0) + 1) * 127.5).numpy()
    assert np.abs(out[1, :, :20].astype(float) - truth[:, :20]).mean() < 2.0          # seen: the turned view
    assert np.array_equal(out[1, :, -2:], first[:, -2:])                                # unseen: frame 0's pixels
    with pytest.raises(ValueError, match="uint8"):
        warp_source_frame(first.astype(np.float32), cams)


def test_the_classical_baseline_warps_from_any_source_frame():
    """A photo at the path's frame 1 (the studio's photo position) is the view of camera 1: kept there, turned
    into camera 0 like the frame-0 case the other way round; a source outside the path is named."""
    cams = Cameras(torch.stack([_pose([0.0, 0.0, 0.0]), _pose([0.0, 0.15, 0.0])]), K.expand(2, 3, 3), W, H)
    photo = ((_sky(cams.c2w[1], K).permute(1, 2, 0) + 1) * 127.5).round().to(torch.uint8).numpy()
    out = warp_source_frame(photo, cams, source=1)
    assert np.array_equal(out[1], photo)
    truth = ((_sky(cams.c2w[0], K).permute(1, 2, 0) + 1) * 127.5).numpy()
    assert np.abs(out[0, :, -20:].astype(float) - truth[:, -20:]).mean() < 2.0        # seen: the turned view
    assert np.array_equal(out[0, :, :2], photo[:, :2])                                # unseen: the photo's pixels
    with pytest.raises(ValueError, match="source frame 2 is not one of the path's 2 cameras"):
        warp_source_frame(photo, cams, source=2)


def test_the_guide_enters_only_where_the_cameras_are_given():
    torch.manual_seed(0)
    model = JointDiT(ModelConfig(**SMALL, frame_difference=True, warped_reference=True))
    with torch.no_grad():                        # as after training: no zero layers left
        for p in model.parameters():
            p.add_(0.2 * torch.randn_like(p))
    streams = {"video": torch.randn(2, 192, 3, 8, 8), "cond_video": torch.randn(2, 1, 192, 8, 8),
               "rays": torch.randn(2, 192, 3, 8, 8), "cond_rays": torch.randn(2, 1, 192, 8, 8)}
    guide, other = torch.randn(2, 384, 3, 8, 8), torch.randn(2, 384, 3, 8, 8)
    kw = dict(cond_pos=torch.zeros(2, 1))
    camera = {"video": torch.full((2,), 0.3), "cond_video": torch.ones(2, 1), "rays": torch.ones(2),
              "cond_rays": torch.ones(2, 1)}
    assert not torch.allclose(model(streams, camera, guide=guide, **kw)["video"],
                              model(streams, camera, guide=other, **kw)["video"])
    # Rays noised (joint generation, pose estimation): the cameras are unknown, the guide is ignored.
    for t_video in (0.3, 1.0):
        joint = {"video": torch.full((2,), t_video), "cond_video": torch.ones(2, 1), "rays": torch.full((2,), 0.4),
                 "cond_rays": torch.full((2, 1), 0.4)}
        a = model(streams, joint, guide=guide, **kw)
        b = model(streams, joint, guide=None, **kw)
        assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)


def test_a_residual_video_head_starts_from_the_warped_reference_where_the_cameras_are_given():
    torch.manual_seed(0)
    model = JointDiT(ModelConfig(**SMALL, frame_difference=True, video_residual=True, warped_reference=True))
    streams = {"video": torch.randn(2, 192, 3, 8, 8), "cond_video": torch.randn(2, 1, 192, 8, 8),
               "rays": torch.randn(2, 192, 3, 8, 8), "cond_rays": torch.randn(2, 1, 192, 8, 8)}
    guide = torch.randn(2, 384, 3, 8, 8)
    # Example 0 is camera-controlled (rays clean), example 1 joint (rays noised).
    times = {"video": torch.full((2,), 0.3), "cond_video": torch.ones(2, 1), "rays": torch.tensor([1.0, 0.4]),
             "cond_rays": torch.tensor([[1.0], [0.4]])}
    v = model(streams, times, cond_pos=torch.zeros(2, 1), guide=guide)["video"]
    x = streams["video"] + (1 - 0.3) * v                                 # the predicted clean latent
    assert torch.allclose(x[0], guide[0, :192], atol=1e-5)              # the warped reference: the zero output
    assert torch.allclose(x[1], streams["cond_video"][1, 0, :, None].expand(-1, 3, -1, -1), atol=1e-5)


def test_the_training_batch_and_the_generation_task_warp_the_reference_into_the_clips_cameras():
    from engine.tasks import generate_events, generate_joint_events
    from geometry import canonicalize

    base = preset("tiny")
    cfg = dataclasses.replace(base, model=dataclasses.replace(base.model, **SMALL, warped_reference=True),
                              flow=dataclasses.replace(base.flow, p_video_clean=0.0, p_ray_clean=1.0,
                                                       pose_only_steps=0, mix_anneal_steps=0))
    torch.manual_seed(0)
    pipe = JointPipeline(cfg)
    seen = []
    original = pipe.model.forward

    def spy(streams, times, **kw):
        seen.append(kw.get("guide"))
        return original(streams, times, **kw)

    pipe.model.forward = spy
    batch = tiny_batch(2)
    with torch.no_grad():                        # as a trained model (the heads start at zero)
        for p in pipe.model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    loss, _ = training_loss(pipe, batch, generator=torch.Generator().manual_seed(0), step=0)
    loss.backward()
    assert float(pipe.model.video_io.guide_embedding.weight.grad.abs().sum()) > 0
    ref = batch["cond_idx"][:, 0]
    b = torch.arange(2)
    reference = batch["video"][b, :, ref]
    warped, valid = infinite_depth_warp(reference, batch["K"][b, ref], batch["c2w"][b, ref], batch["K"], batch["c2w"])
    assert 0 < float(valid.mean()) < 1                                   # some pixels warped, some not
    expected = pipe.encode_video((warped + (1 - valid) * reference[:, None]).transpose(1, 2))   # the classical answer
    assert torch.allclose(seen[-1][:, :192], expected, atol=1e-5)
    assert torch.allclose(seen[-1][:, 192:], pipe.encode_video((2 * valid - 1).expand_as(warped).transpose(1, 2)))

    # Generation from a photo along a path: the photo warped into the path's cameras (canonical to it).
    clip = batch["video"][0].transpose(0, 1)                               # (9, 3, 32, 32)
    c2w = torch.eye(4, dtype=torch.float64).repeat(9, 1, 1)
    c2w[:, :3, :3] = axis_angle_to_matrix(torch.stack([torch.zeros(9), torch.linspace(0, 0.3, 9),
                                                       torch.zeros(9)], -1).double())
    c2w[:, 0, 3] = 2.0                                                     # anywhere: canonicalised first
    cams = Cameras(c2w, batch["K"][0].double(), 32, 32)
    with torch.no_grad():
        list(generate_events(pipe, clip[:1], cams, [0], steps=1))
    canon = canonicalize(c2w, 0).float()
    warped, valid = infinite_depth_warp(clip[0], batch["K"][0, 0], canon[0], batch["K"][0], canon)
    filled = warped + (1 - valid) * clip[0]
    assert torch.allclose(seen[-1][0, :192], pipe.encode_video(filled.transpose(0, 1)[None])[0], atol=1e-5)
    # Joint generation: the cameras are what is generated, so there is nothing to warp into.
    with torch.no_grad():
        list(generate_joint_events(pipe, clip[:1], 9, [0], video_steps=1, ray_steps=1))
    assert seen[-1] is None


def test_a_guide_plane_needs_the_guide_and_a_positive_depth():
    base = preset("tiny")
    for bad in (dict(guide_depth=3.0), dict(warped_reference=True, guide_depth=0.0)):
        with pytest.raises(ValueError, match="guide_depth"):
            JointDiT(dataclasses.replace(base.model, **SMALL, **bad))


def test_the_engines_classical_warp_is_the_models_own_starting_point():
    # For a model whose guide is a plane, generate(method="warp") warps through that plane (and says so), so the
    # studio shows the model beside the classical answer it starts from, not a weaker one.
    from engine import Engine
    from engine.media import tensor_to_uint8, load_frames
    from geometry import look_at

    base = preset("tiny")
    cfg = dataclasses.replace(base, model=dataclasses.replace(base.model, **SMALL, warped_reference=True,
                                                              guide_depth=3.0))
    eng = Engine(JointPipeline(cfg), device=torch.device("cpu"), dtype=torch.float32, source="test")
    T, S = cfg.clip.num_frames, cfg.clip.width
    eyes = torch.stack([torch.tensor([0.08 * i, 0.0, 0.0]) for i in range(T)]).double()     # a truck to the right
    cams = Cameras.from_fov(look_at(eyes, eyes + torch.tensor([0.0, 0.0, 1.0]).double()), fov_y_deg=50.0,
                            width=S, height=S)
    photo = (np.random.default_rng(0).random((S, S, 3)) * 255).astype(np.uint8)
    events = list(eng.generate_stream([photo], cams, method="warp"))
    assert "plane 3 units in front" in events[0].message
    fitted = tensor_to_uint8(load_frames([photo], S, S, name="images")[0])[0]
    grid = eng._to_model_grid(cams)
    assert np.array_equal(events[0].result, warp_source_frame(fitted, grid, depth=3.0))
    assert not np.array_equal(events[0].result, warp_source_frame(fitted, grid))     # parallax, unlike infinity
