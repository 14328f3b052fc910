"""The issue-10 training recipe: its switches do what their configs say, and the probe's baselines measure
what they claim (a model that ignores its input scores own/other = 1)."""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pytest
import torch

from engine.config import ClipConfig, EngineConfig, FlowConfig, ModelConfig, preset
from engine.evaluate.probe import own_other_ratio, translation_direction_spread_deg
from engine.flow import flow_loss, sample_train_times, task_probabilities
from engine.objective import ray_image_terms, training_loss
from engine.pipeline import JointPipeline
from geometry import Cameras, axis_angle_to_matrix, look_at, make_pose, procrustes_quaternion, quaternion_angle
from geometry.recover import procrustes
from procedural_batches import tiny_batch

SMALL = dict(dim=32, num_heads=2, num_layers=1, ffn_dim=64)


def _cfg(**flow) -> EngineConfig:
    base = preset("tiny")
    return dataclasses.replace(base, model=dataclasses.replace(base.model, **SMALL),
                               flow=dataclasses.replace(base.flow, **flow))


# ---- differentiable Procrustes -------------------------------------------------------------------

def test_horn_procrustes_matches_kabsch_and_gives_the_angle():
    g = torch.Generator().manual_seed(0)
    src = torch.randn(5, 200, 3, generator=g, dtype=torch.float64)
    axis = torch.randn(5, 3, generator=g, dtype=torch.float64)
    angles = torch.tensor([0.0, 0.1, 0.5, 1.5, 3.0], dtype=torch.float64)
    R = axis_angle_to_matrix(axis / axis.norm(dim=-1, keepdim=True) * angles[:, None])
    t = torch.randn(5, 3, generator=g, dtype=torch.float64)
    dst = src @ R.transpose(-1, -2) + t[:, None]
    q, t_fit = procrustes_quaternion(src, dst)
    R_kabsch, t_kabsch = procrustes(src, dst)
    assert torch.allclose(t_fit, t, atol=1e-9) and torch.allclose(t_kabsch, t, atol=1e-9)
    assert torch.allclose(quaternion_angle(q), angles, atol=1e-5)


def test_horn_procrustes_gradient_is_finite_for_a_square_image_bundle():
    # The 3x3 SVD's gradient divides by differences of singular values, equal for a square bundle.
    from engine.camera_codec import encode_cameras

    cams = Cameras(torch.eye(4, dtype=torch.float64)[None].repeat(2, 1, 1),
                   torch.tensor([[40.0, 0, 16], [0, 40.0, 16], [0, 0, 1]], dtype=torch.float64)[None].repeat(2, 1, 1),
                   32, 32)
    rays, _ = encode_cameras(cams, ref=0, grid=(8, 8))
    pts = rays[0].flatten(-2).T.clone().requires_grad_(True)               # (64, 3), a perfect fit
    q, _ = procrustes_quaternion(rays[1].flatten(-2).T, pts)
    quaternion_angle(q).backward()
    assert torch.isfinite(pts.grad).all()


# ---- task schedule and times ---------------------------------------------------------------------

def test_task_schedule_moves_from_pose_only_to_the_configured_mix():
    flow = FlowConfig(p_video_clean=0.5, p_ray_clean=0.3, pose_only_steps=100, mix_anneal_steps=100)
    assert task_probabilities(flow, 0) == (1.0, 0.0)
    assert task_probabilities(flow, 99) == (1.0, 0.0)
    assert task_probabilities(flow, 150) == pytest.approx((0.75, 0.15))
    assert task_probabilities(flow, 200) == (0.5, 0.3) == task_probabilities(flow, None)


def test_pose_examples_get_pure_noise_rays_as_often_as_configured():
    flow = FlowConfig(p_video_clean=1.0, p_ray_clean=0.0, pose_ray_noise_prob=0.5)
    t_video, t_ray = sample_train_times(20000, cfg=flow, generator=torch.Generator().manual_seed(0))
    assert bool((t_video == 1).all())
    assert float((t_ray == 0).float().mean()) == pytest.approx(0.5, abs=0.02)
    assert float(t_ray[t_ray > 0].mean()) == pytest.approx(0.5, abs=0.02)   # the rest uniform


def test_joint_examples_get_pure_noise_video_as_often_as_configured():
    flow = FlowConfig(p_video_clean=0.4, p_ray_clean=0.2, pose_ray_noise_prob=0.5, joint_video_noise_prob=0.75)
    t_video, t_ray = sample_train_times(40000, cfg=flow, generator=torch.Generator().manual_seed(0))
    pose, control = t_video == 1, t_ray == 1
    joint = ~pose & ~control
    assert float(joint.float().mean()) == pytest.approx(0.4, abs=0.01)
    assert float((t_video[joint] == 0).float().mean()) == pytest.approx(0.75, abs=0.02)
    assert float(t_video[joint & (t_video > 0)].mean()) == pytest.approx(0.5, abs=0.02)   # the rest uniform
    assert not bool((t_video[control] == 0).any())          # camera-controlled examples keep uniform video times
    assert float((t_ray[pose] == 0).float().mean()) == pytest.approx(0.5, abs=0.02)


def test_switches_off_keep_the_old_random_stream():
    old = sample_train_times(64, cfg=FlowConfig(), generator=torch.Generator().manual_seed(3))
    new = sample_train_times(64, cfg=FlowConfig(), generator=torch.Generator().manual_seed(3), step=5)
    assert all(torch.equal(a, b) for a, b in zip(old, new))


def test_per_stream_cosine_weights():
    g = torch.Generator().manual_seed(0)
    pred = {"video": torch.randn(2, 4, 3, generator=g), "rays": torch.randn(2, 4, 3, generator=g)}
    target = {k: torch.randn(2, 4, 3, generator=g) for k in pred}
    mask = {k: torch.ones(2, dtype=torch.bool) for k in pred}
    both, _ = flow_loss(pred, target, mask, cos_weight=0.5)
    same, _ = flow_loss(pred, target, mask, cos_weight={"video": 0.5, "rays": 0.5})
    video_only, _ = flow_loss(pred, target, mask, cos_weight={"video": 0.5})
    mse, _ = flow_loss(pred, target, mask, cos_weight=0.0)
    assert torch.allclose(both, same)
    assert mse < video_only < both or mse < both < video_only     # the ray term is gone, the rest kept
    assert not torch.allclose(video_only, both)


# ---- the loss terms ------------------------------------------------------------------------------

def test_ray_terms_are_zero_for_the_truth_and_see_a_yaw_that_an_origin_shift_hides():
    cfg = _cfg(ray_centered_weight=1.0, ray_pose_weight=1.0)
    pipe = JointPipeline(cfg)
    batch = tiny_batch(2)
    mask = torch.ones(2, dtype=torch.bool)
    clean = pipe.encode_rays(batch["rays"])
    exact = ray_image_terms(pipe, clean, batch, mask)
    assert float(exact["centered"]) < 1e-10 and float(exact["pose"]) < 1e-3
    # Rotate frame 4 of each clip by 5 degrees of yaw about its own centre: the raxel images change by a
    # rotation of the bundle, which the mean-removed and the pose terms both report.
    from engine.camera_codec import RAY_RANGE_SCALE

    rays = batch["rays"].clone()
    yaw = axis_angle_to_matrix(torch.tensor([0.0, np.radians(5.0), 0.0]))
    centre = batch["c2w"][:, 4, :3, 3]
    d = rays[:, 4] / RAY_RANGE_SCALE - centre[:, :, None, None]
    rays[:, 4] = (torch.einsum("ij,bjhw->bihw", yaw.float(), d) + centre[:, :, None, None]) * RAY_RANGE_SCALE
    wrong = ray_image_terms(pipe, pipe.encode_rays(rays), batch, mask)
    assert float(wrong["centered"]) > 1e4 * max(float(exact["centered"]), 1e-12)
    # 5 degrees on one of 9 frames: mean pose error ~ 0.0873 / 9 rad.
    assert float(wrong["pose"]) == pytest.approx(np.radians(5.0) / 9, rel=0.05)


def test_pose_examples_run_with_their_own_number_of_slots():
    cfg = _cfg(p_video_clean=0.5, p_ray_clean=0.3)
    pipe = JointPipeline(cfg)
    batch = tiny_batch(4)
    seen = []
    original = pipe.model.forward

    def spy(streams, times, **kw):
        seen.append(streams["cond_video"].shape[1])
        return original(streams, times, **kw)

    pipe.model.forward = spy
    loss, logged = training_loss(pipe, batch, generator=torch.Generator().manual_seed(1))
    loss.backward()
    assert sorted(set(seen)) == [1, 3]           # the pose group with one slot, the rest with three
    assert torch.isfinite(loss) and logged["ray_centered"] >= 0


def test_an_untrained_model_gets_finite_gradients_from_the_pose_loss():
    # At initialisation the predicted rays collapse to a point: no unique fit, masked and zeroed.
    cfg = _cfg(ray_pose_weight=1.0, pose_only_steps=10)
    torch.manual_seed(0)
    pipe = JointPipeline(cfg)
    loss, logged = training_loss(pipe, tiny_batch(2), generator=torch.Generator().manual_seed(0), step=0)
    loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in pipe.model.parameters() if p.grad is not None)


def test_frame_difference_embedding_sees_the_change_against_the_reference():
    cfg = ModelConfig(**SMALL, frame_difference=True, position_init="xavier")
    from engine.model import JointDiT

    torch.manual_seed(0)
    model = JointDiT(cfg)
    assert hasattr(model.video_io, "difference_embedding") and not hasattr(model.ray_io, "difference_embedding")
    assert float(model.video_io.position_embedding.weight.detach().abs().sum()) > 0       # Xavier, not zero
    z = torch.randn(1, 192, 3, 8, 8)
    cond = torch.randn(1, 1, 192, 8, 8)
    a, _ = model.video_io.embed(z, cond, reference=cond[:, 0])
    b, _ = model.video_io.embed(z, cond, reference=cond[:, 0] + 1)
    assert not torch.allclose(a, b)


def test_video_residual_makes_copying_the_reference_the_zero_output():
    from engine.model import JointDiT

    torch.manual_seed(0)
    model = JointDiT(ModelConfig(**SMALL, frame_difference=True, video_residual=True))
    z_t = torch.randn(2, 192, 3, 8, 8)
    cond = torch.randn(2, 1, 192, 8, 8)
    t = torch.full((2,), 0.3)
    times = {"video": t, "cond_video": torch.ones(2, 1)}
    v = model({"video": z_t, "cond_video": cond}, times, cond_pos=torch.zeros(2, 1))["video"]
    clean = z_t + (1 - 0.3) * v                   # the clean latent the velocity points at
    # The head starts at zero: every target frame is predicted as the reference frame.
    assert torch.allclose(clean, cond[:, 0].unsqueeze(2).expand_as(clean), atol=1e-4)
    plain = JointDiT(ModelConfig(**SMALL, frame_difference=True))
    plain.load_state_dict(model.state_dict())     # the switch adds no tensor
    v_plain = plain({"video": z_t, "cond_video": cond}, times, cond_pos=torch.zeros(2, 1))["video"]
    assert torch.allclose(z_t + 0.7 * v_plain, torch.zeros_like(z_t), atol=1e-4)
    with pytest.raises(ValueError, match="prediction"):
        JointDiT(ModelConfig(**SMALL, video_residual=True, prediction="velocity"))


def test_a_preconditioned_video_head_starts_from_the_posterior_mean_under_a_prior_at_the_base():
    from engine.model import JointDiT

    torch.manual_seed(0)
    std = 0.2
    model = JointDiT(ModelConfig(**SMALL, frame_difference=True, video_residual=True, video_prior_std=std))
    cond = torch.randn(3, 1, 192, 8, 8)
    x = cond[:, 0].unsqueeze(2) + std * torch.randn(3, 192, 3, 8, 8)      # clips drawn from the prior
    noise = torch.randn_like(x)
    t = torch.tensor([0.0, 0.5, 1.0])
    z_t = t.view(-1, 1, 1, 1, 1) * x + (1 - t.view(-1, 1, 1, 1, 1)) * noise
    times = {"video": t, "cond_video": torch.ones(3, 1)}
    v = model({"video": z_t, "cond_video": cond}, times, cond_pos=torch.zeros(3, 1))["video"]
    clean = z_t + (1 - t).clamp_min(0.05).view(-1, 1, 1, 1, 1) * v
    base = cond[:, 0].unsqueeze(2).expand_as(x)
    assert torch.allclose(clean[0], base[0], atol=1e-5)          # pure noise: the base
    assert torch.allclose(clean[2], z_t[2], atol=1e-5)           # clean: the input itself
    # Half way, the zero output is the Gaussian posterior mean: closer to the clean clip than the base or
    # the noised input (here std^2 / (std^2 / 4 + 1/4) = 0.15 of the way from the base to 2 z_t - base).
    err = lambda a: float((a - x[1]).square().mean())
    assert err(clean[1]) < min(err(base[1]), err(z_t[1]), err(2 * z_t[1]))
    # With a nonzero head the network's output enters scaled by the posterior std, and not at t = 1.
    with torch.no_grad():
        model.video_io.proj_out.bias.fill_(1.0)
    v2 = model({"video": z_t, "cond_video": cond}, times, cond_pos=torch.zeros(3, 1))["video"]
    clean2 = z_t + (1 - t).clamp_min(0.05).view(-1, 1, 1, 1, 1) * v2
    assert torch.allclose(clean2[0] - clean[0], torch.full_like(clean[0], std), atol=1e-5)
    assert torch.allclose(clean2[2], clean[2], atol=1e-5)
    with pytest.raises(ValueError, match="video_prior_std"):
        JointDiT(ModelConfig(**SMALL, video_prior_std=0.0))


# ---- probe baselines -----------------------------------------------------------------------------

def _trajectory(yaw_deg: float, step: torch.Tensor) -> Cameras:
    K = torch.tensor([[30.0, 0, 16], [0, 30.0, 16], [0, 0, 1]], dtype=torch.float64)
    poses = [make_pose(axis_angle_to_matrix(torch.tensor([0.0, np.radians(yaw_deg * i), 0.0])), step * i)
             for i in range(5)]
    return Cameras(torch.stack(poses), K.expand(5, 3, 3), 32, 32)


def test_own_other_is_one_for_an_input_free_answer_and_small_for_the_truth():
    truths = [_trajectory(y, torch.tensor(s, dtype=torch.float64))
              for y, s in ((5, [0.1, 0, 0]), (-8, [0, 0, 0.1]), (12, [-0.1, 0, 0.05]), (0, [0, 0.1, 0]))]
    fixed = [_trajectory(3, torch.tensor([0.0, 0, 0.1], dtype=torch.float64))] * len(truths)
    assert own_other_ratio(fixed, truths)[2] == pytest.approx(1.0)
    own, other, ratio = own_other_ratio(truths, truths)
    assert own < 1e-6 and other > 5 and ratio < 1e-3


def test_the_joint_ceiling_draws_new_moves_from_each_held_out_clips_first_view():
    from engine.evaluate.benchmarks import procedural_clips
    from engine.evaluate.joint_ceiling import start_conditioned_paths

    clip = ClipConfig(num_frames=5, height=16, width=16)
    truths, draws = start_conditioned_paths(clip, 2, 2)
    held_out = procedural_clips(clip, 2)
    for truth, mine, c in zip(truths, draws, held_out):
        assert torch.allclose(truth.c2w, c.cameras.c2w)                  # the evaluator's clips, as drawn there
        for path in mine:
            assert torch.allclose(path.c2w[0], truth.c2w[0], atol=1e-9)  # same first view, new move
            assert not torch.allclose(path.c2w, truth.c2w)


class _JointEngine:
    """A stand-in for the engine's two calls the coherence figure uses: joint sample k moves along path k
    (its frames carry k) when ``coherent``; otherwise its video stays still whatever the path."""

    def __init__(self, paths: list[Cameras], coherent: bool):
        self.paths, self.coherent, self.k = paths, coherent, 0

    def generate_joint(self, images, num_frames, **kw):
        path = self.paths[self.k % len(self.paths)]
        frames = np.full((num_frames, 8, 8, 3), self.k, np.uint8)
        self.k += 1
        return frames, path

    def estimate_poses(self, frames, **kw):
        from geometry.metrics import identity_baseline

        path = self.paths[int(frames[0, 0, 0, 0]) % len(self.paths)]
        return path if self.coherent else identity_baseline(path)


def test_joint_coherence_is_one_for_a_still_video_and_small_for_one_that_follows_its_path():
    from types import SimpleNamespace

    from engine.evaluate.probe import probe_joint

    paths = [_trajectory(y, torch.tensor(s, dtype=torch.float64))
             for y, s in ((5, [0.1, 0, 0]), (-8, [0, 0, 0.1]), (12, [-0.1, 0, 0.05]), (0, [0, 0.1, 0]))]
    clips = [SimpleNamespace(frames=np.zeros((5, 8, 8, 3), np.uint8), cameras=p) for p in reversed(paths)]
    still = probe_joint(_JointEngine(paths, coherent=False), clips)
    follows = probe_joint(_JointEngine(paths, coherent=True), clips)
    assert still["coherence_own_other"] == pytest.approx(1.0)
    assert still["coherence_rot_err_deg"] == pytest.approx(still["coherence_still_rot_err_deg"])
    assert still["coherence_still_rot_err_deg"] > 5
    assert follows["coherence_rot_err_deg"] < 1e-6 and follows["coherence_own_other"] < 1e-3
    assert still["joint_own_other"] == pytest.approx(follows["joint_own_other"])   # same paths either way


def test_translation_direction_spread_sees_a_collapsed_translation():
    dirs = [[1.0, 0, 0], [0, 0, 1.0], [0, 1.0, 0]]
    truths = [_trajectory(0, torch.tensor(d, dtype=torch.float64)).c2w for d in dirs]
    assert translation_direction_spread_deg(truths) == pytest.approx(90.0)
    same = [_trajectory(0, torch.tensor([0, 0, 1.0], dtype=torch.float64)).c2w] * 3
    assert translation_direction_spread_deg(same) == pytest.approx(0.0, abs=1e-6)


def test_camera_use_is_zero_for_a_denoiser_that_cannot_see_the_rays_and_not_for_one_that_can():
    from engine import Engine
    from engine.evaluate.benchmarks import procedural_clips
    from engine.evaluate.camera_use import camera_use

    torch.manual_seed(0)
    pipe = JointPipeline(_cfg())
    with torch.no_grad():                        # as after training: no zero layers left
        for p in pipe.model.parameters():
            p.add_(0.2 * torch.randn_like(p))
    eng = Engine(pipe, device=torch.device("cpu"), dtype=torch.float32, source="test")
    clips = procedural_clips(pipe.cfg.clip, 2)
    seeing = camera_use(eng, clips, times=(0.0,))["by_time"]["t=0"]
    assert abs(seeing["own_minus_other_db"]) > 1e-3
    assert seeing["psnr_warp_first"] > 0 and seeing["psnr_copy_first"] > 0
    with torch.no_grad():                        # DSCA closed: the video stream no longer reads the rays
        for block in pipe.model.blocks:
            block.video.cross.to_out[0].weight.zero_()
            block.video.cross.to_out[0].bias.zero_()
    blind = camera_use(eng, clips, times=(0.0,))["by_time"]["t=0"]
    assert blind["own_minus_other_db"] == 0.0 and blind["psnr_own"] == blind["psnr_other"]


@pytest.mark.parametrize("guide_depth", [None, 3.0])
def test_the_probes_one_step_generation_of_a_fresh_warp_residual_model_is_the_classical_warp(guide_depth):
    # A fresh preconditioned residual model's head is zero: its one-step estimate, along any path, is the
    # reference warped into those cameras (at infinity, or through the plane of model.guide_depth); its samples
    # add the prior's spread on top (more steps, less PSNR).
    from engine import Engine
    from engine.evaluate.benchmarks import procedural_clips
    from engine.evaluate.probe import probe_generation

    base = _cfg()
    cfg = dataclasses.replace(base, model=dataclasses.replace(base.model, warped_reference=True, video_residual=True,
                                                              video_prior_std=0.25, guide_depth=guide_depth))
    torch.manual_seed(0)
    eng = Engine(JointPipeline(cfg), device=torch.device("cpu"), dtype=torch.float32, source="test")
    gen = probe_generation(eng, procedural_clips(cfg.clip, 2), steps=4)
    warp = gen["psnr_warp_guide"] if guide_depth else gen["psnr_warp_first"]
    assert ("psnr_warp_guide" in gen) == bool(guide_depth)
    assert gen["psnr_own_1step"] == pytest.approx(warp, abs=0.05)
    if guide_depth:   # these clips move: the plane's parallax is not the warp at infinity
        assert abs(gen["psnr_warp_guide"] - gen["psnr_warp_first"]) > 0.2
    assert gen["psnr_other_1step"] < gen["psnr_own_1step"]
    assert gen["psnr_own"] < gen["psnr_own_1step"] - 1.0


def test_the_training_guide_is_warped_in_the_clips_own_units():
    # Training batches carry poses in ray units (clip units x "scale", < 1 for clips that move far); the guide
    # on a plane must see the clip's units, as generation does, or it would be trained on another depth.
    from engine.objective import _reference_guide

    base = _cfg()
    cfg = dataclasses.replace(base, model=dataclasses.replace(base.model, warped_reference=True, guide_depth=3.0))
    pipe = JointPipeline(cfg)
    batch = tiny_batch(4)
    moving = int(batch["c2w"][:, :, :3, 3].norm(dim=-1).amax(1).argmax())
    assert float(batch["c2w"][moving, :, :3, 3].norm(dim=-1).max()) > 0.2
    ref = batch["cond_idx"][:, 0]
    expected = []
    for i in range(4):
        cams = Cameras(batch["c2w"][i].double(), batch["K"][i].double(), cfg.clip.width, cfg.clip.height)
        expected.append(pipe.reference_warp_along(batch["video"][i, :, ref[i]], cams, int(ref[i]))[0])
    scale = torch.ones(4)
    scale[moving] = 0.1
    shrunk = dict(batch, c2w=batch["c2w"].clone(), scale=scale)
    shrunk["c2w"][moving, :, :3, 3] *= 0.1
    guide = _reference_guide(pipe, shrunk)
    assert all(torch.allclose(guide[i], expected[i], atol=1e-5) for i in range(4))
    unscaled = _reference_guide(pipe, dict(shrunk, scale=torch.ones(4)))
    assert not torch.allclose(unscaled[moving], expected[moving], atol=1e-3)


def test_rotation_from_6d_gives_rotations_and_inverts_their_first_two_columns():
    from engine.evaluate.regression_probe import rotation_from_6d

    R = rotation_from_6d(torch.randn(64, 6, dtype=torch.float64))
    assert torch.allclose(R.transpose(-1, -2) @ R, torch.eye(3, dtype=torch.float64).expand(64, 3, 3), atol=1e-12)
    assert torch.allclose(torch.linalg.det(R), torch.ones(64, dtype=torch.float64))
    six = torch.cat([R[..., 0], R[..., 1]], dim=-1)
    assert torch.allclose(rotation_from_6d(six), R, atol=1e-12)


@pytest.mark.parametrize("tf", [1, 4])
def test_the_latent_pose_regressor_reads_the_clip_and_learns_a_small_bank(tf):
    """Frame 0 is the identity by construction; each later frame has its own pose; a few dozen steps fit
    two clips with different turns (so its figures on held-out clips measure reading, not a fixed path)."""
    from engine.evaluate.regression_probe import LatentPoseRegressor, pose_loss

    torch.manual_seed(0)
    model = LatentPoseRegressor(num_frames=9, height=16, width=16, temporal_factor=tf, dim=32, depth=1, heads=2)
    video = torch.rand(2, 3, 9, 16, 16) * 2 - 1
    c2w = model(video)
    assert c2w.shape == (2, 9, 4, 4)
    assert torch.equal(c2w[:, 0], torch.eye(4).expand(2, 4, 4))
    assert not torch.allclose(c2w[0, 1:], c2w[1, 1:])                 # the output depends on the video
    yaw = lambda deg: axis_angle_to_matrix(torch.tensor([0.0, float(np.radians(deg)), 0.0]))  # noqa: E731
    truth = torch.eye(4).repeat(2, 9, 1, 1)
    for k in range(9):
        truth[0, k, :3, :3], truth[1, k, :3, :3] = yaw(3 * k), yaw(-3 * k)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    first = pose_loss(model(video), truth).item()
    for _ in range(100):
        opt.zero_grad()
        loss = pose_loss(model(video), truth)
        loss.backward()
        opt.step()
    assert loss.item() < 0.1 * first


def test_the_regressor_at_twice_the_size_and_patch_sees_as_many_tokens_and_more_pixels(tmp_path, capsys):
    """--size 64 --patch-size 8: the same token grid as 32 / 4, each token holding four times the pixels; a bank
    made at another size is refused by name."""
    from engine.evaluate.regression_probe import LatentPoseRegressor, main

    small = LatentPoseRegressor(num_frames=9, height=32, width=32, patch_size=4, dim=32, depth=1, heads=2)
    large = LatentPoseRegressor(num_frames=9, height=64, width=64, patch_size=8, dim=32, depth=1, heads=2)
    assert small.pos.shape == large.pos.shape                                   # same tokens
    assert large.embed.in_features == 4 * small.embed.in_features             # more pixels per token
    assert large(torch.rand(1, 3, 9, 64, 64) * 2 - 1).shape == (1, 9, 4, 4)
    bank = tmp_path / "bank.safetensors"
    assert main(["--make-bank", str(bank), "--bank-clips", "1"]) == 0          # a 32x32 bank
    with pytest.raises(SystemExit):
        main(["--bank", str(bank), "--size", "64", "--patch-size", "8", "--steps", "1"])
    assert "not 64x64: give the --size it was made with" in capsys.readouterr().err


def test_the_video_anchor_is_zero_against_itself_and_pulls_the_video_toward_the_teacher():
    from engine.objective import VideoAnchor

    cfg = _cfg(p_video_clean=0.0, p_ray_clean=0.0)       # every example supervises its video
    torch.manual_seed(0)
    pipe = JointPipeline(cfg)
    batch = tiny_batch(2)
    plain, _ = training_loss(pipe, batch, generator=torch.Generator().manual_seed(3))
    same, logged = training_loss(pipe, batch, generator=torch.Generator().manual_seed(3),
                                 anchor=VideoAnchor(copy.deepcopy(pipe.model), 1.0))
    assert float(same.detach()) == pytest.approx(float(plain.detach()), rel=1e-6) and logged["video_anchor"] == 0.0
    teacher = copy.deepcopy(pipe.model)
    with torch.no_grad():
        teacher.video_io.proj_out.bias.add_(0.5)           # a teacher whose video prediction differs
    pipe.model.zero_grad()
    anchored, logged = training_loss(pipe, batch, generator=torch.Generator().manual_seed(3),
                                     anchor=VideoAnchor(teacher, 2.0))
    assert float(anchored.detach()) > float(plain.detach()) and logged["video_anchor"] > 0
    anchored.backward()
    pipe_grad = pipe.model.video_io.proj_out.bias.grad.clone()
    pipe.model.zero_grad()
    plain, _ = training_loss(pipe, batch, generator=torch.Generator().manual_seed(3))
    plain.backward()
    # the anchor's own gradient on the output bias points away from the teacher's (+0.5): descent moves toward it
    assert float((pipe_grad - pipe.model.video_io.proj_out.bias.grad).sum()) < 0
    assert not any(p.grad is not None for p in teacher.parameters())


def test_the_video_anchor_leaves_pose_examples_alone():
    from engine.objective import VideoAnchor

    cfg = _cfg(p_video_clean=1.0, p_ray_clean=0.0)        # pose estimation only: no video is supervised
    pipe = JointPipeline(cfg)
    teacher = copy.deepcopy(pipe.model)
    with torch.no_grad():
        teacher.video_io.proj_out.bias.add_(0.5)
    calls = []
    original = teacher.forward
    teacher.forward = lambda *a, **kw: calls.append(1) or original(*a, **kw)
    plain, _ = training_loss(pipe, tiny_batch(2), generator=torch.Generator().manual_seed(3))
    anchored, logged = training_loss(pipe, tiny_batch(2), generator=torch.Generator().manual_seed(3),
                                     anchor=VideoAnchor(teacher, 1.0))
    assert float(anchored.detach()) == pytest.approx(float(plain.detach()), rel=1e-6)
    assert not calls and "video_anchor" not in logged       # the teacher is not even run


def test_the_probe_runs_either_half_alone_and_names_bad_clip_counts():
    from engine import Engine
    from engine.evaluate.probe import bars, run_probe

    torch.manual_seed(0)
    eng = Engine(JointPipeline(_cfg()), device=torch.device("cpu"), dtype=torch.float32, source="test")
    gen_only = run_probe(eng, pose_clips=0, gen_clips=2, video_steps=1, pose_steps=1)
    assert "poses" not in gen_only and gen_only["generation"]["clips"] == 2
    assert set(bars(gen_only)) == {"PSNR own >= copy-first + 1 dB", "PSNR own >= other path + 1 dB",
                                   "joint own/other <= 0.8"}
    poses_only = run_probe(eng, pose_clips=3, gen_clips=0, pose_steps=1)
    assert "generation" not in poses_only and poses_only["poses"]["clips"] == 3
    assert set(bars(poses_only)) == {"rotation <= 0.5 x identity", "own/other <= 0.5", "translation spread within 2x"}
    for pose_clips, gen_clips in ((0, 0), (1, 0), (4, 1), (-1, 2)):
        with pytest.raises(ValueError, match="pose_clips"):
            run_probe(eng, pose_clips=pose_clips, gen_clips=gen_clips)
