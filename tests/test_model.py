"""JointDiT: shapes, shared positions, DSCA vs global attention, ray-branch copy, Wan equivalence."""

import dataclasses

import pytest
import torch

from engine.config import ModelConfig
from engine.model import (JointDiT, apply_rope, block_diagonal_mask, joint_dit_from_wan, joint_self_attention,
                          rope_tables)

TINY = ModelConfig(dim=32, num_heads=2, num_layers=2, ffn_dim=64, latent_channels=12, prediction="velocity")


def _streams(B=2, C=12, F=3, h=4, w=4, M=2, cr=None, seed=0):
    g = torch.Generator().manual_seed(seed)
    cr = cr or C
    s = {"video": torch.randn(B, C, F, h, w, generator=g), "rays": torch.randn(B, cr, F, h, w, generator=g),
         "cond_video": torch.randn(B, M, C, h, w, generator=g), "cond_rays": torch.randn(B, M, cr, h, w, generator=g)}
    t = {"video": torch.rand(B, generator=g), "rays": torch.rand(B, generator=g),
         "cond_video": torch.ones(B, M), "cond_rays": torch.rand(B, M, generator=g)}
    pos = torch.tensor([[0.0, 2.0], [0.5, 1.25]])[:B, :M]
    return s, t, pos


@pytest.mark.parametrize("attention", ["dsca", "global"])
@pytest.mark.parametrize("encoding", ["raxel", "plucker"])
def test_shapes_through_every_path(attention, encoding):
    cfg = dataclasses.replace(TINY, attention=attention, camera_encoding=encoding)
    cr = 24 if encoding == "plucker" else None
    model = JointDiT(cfg, ray_channels=cr)
    s, t, pos = _streams(cr=cr)
    out = model(s, t, cond_pos=pos)
    assert {k: v.shape for k, v in out.items()} == {k: v.shape for k, v in s.items()}
    assert all(torch.isfinite(v).all() for v in out.values())
    # No conditioning slots, and the video stream alone.
    out = model({"video": s["video"], "rays": s["rays"]}, {"video": t["video"], "rays": t["rays"]})
    assert out["rays"].shape == s["rays"].shape and "cond_video" not in out
    assert model({"video": s["video"]}, {"video": t["video"]})["video"].shape == s["video"].shape


def test_misaligned_ray_grid_is_rejected():
    model = JointDiT(TINY)
    s, t, pos = _streams()
    s["rays"] = s["rays"][..., :2]
    with pytest.raises(ValueError, match="line up"):
        model(s, t, cond_pos=pos)


def test_rope_positions_are_shared_and_cond_slots_sit_at_their_frame():
    model = JointDiT(TINY)
    pos = model.token_positions((3, 2, 2), torch.tensor([[0.0, 2.5]]))
    assert pos.shape == (1, 3 * 4 + 2 * 4, 3)
    assert torch.equal(pos[0, :4, 0], torch.zeros(4)) and torch.equal(pos[0, 8:12, 0], torch.full((4,), 2.0))
    assert torch.equal(pos[0, 16:, 0], torch.full((4,), 2.5, dtype=pos.dtype))
    assert torch.equal(pos[0, 12:16, 1:], pos[0, :4, 1:])  # a slot covers the same rows/columns as a frame
    # A query and key at the same position keep their raw dot product (zero relative rotation);
    # at different positions they do not. Video token i and ray token i always share position i.
    cos, sin = rope_tables(pos[0], TINY.head_dim)
    g = torch.Generator().manual_seed(0)
    q = torch.randn(1, pos.shape[1], 1, TINY.head_dim, generator=g)
    k = torch.randn(1, pos.shape[1], 1, TINY.head_dim, generator=g)
    rq, rk = apply_rope(q, (cos, sin)), apply_rope(k, (cos, sin))
    same = (rq * rk).sum(-1)
    assert torch.allclose(same, (q * k).sum(-1), atol=1e-5)
    shifted = (rq[:, 5] * apply_rope(k, (cos, sin))[:, 6]).sum(-1)
    assert not torch.allclose(shifted, (q[:, 5] * k[:, 6]).sum(-1), atol=1e-3)


def test_global_attention_with_block_diagonal_mask_equals_dsca_self_attention():
    model = JointDiT(TINY)
    block = model.blocks[0]
    g = torch.Generator().manual_seed(1)
    L = 20
    h_v, h_r = torch.randn(2, L, 32, generator=g), torch.randn(2, L, 32, generator=g)
    rope = rope_tables(model.token_positions((5, 2, 2), None)[0], TINY.head_dim)
    sep_v = block.video.attn1(h_v, rope_q=rope, rope_k=rope)
    sep_r = block.ray.attn1(h_r, rope_q=rope, rope_k=rope)
    glob_v, glob_r = joint_self_attention(block.video.attn1, block.ray.attn1, h_v, h_r, rope=rope,
                                          mask=block_diagonal_mask(L, L))
    assert torch.allclose(glob_v, sep_v, atol=1e-6) and torch.allclose(glob_r, sep_r, atol=1e-6)
    # Without the mask the streams mix, so the outputs differ.
    mixed_v, _ = joint_self_attention(block.video.attn1, block.ray.attn1, h_v, h_r, rope=rope)
    assert not torch.allclose(mixed_v, sep_v, atol=1e-4)


def test_ray_branch_copy_then_independent_training():
    model = JointDiT(TINY)
    model.copy_video_to_ray_branch()
    for block in model.blocks:
        for (name, pv), (_, pr) in zip(block.video.named_parameters(), block.ray.named_parameters()):
            assert torch.equal(pv, pr), name
    assert torch.equal(model.video_io.proj_out.weight, model.ray_io.proj_out.weight)
    # The copy is not tied: after one step on a ray loss, the two branches differ.
    for p in model.parameters():  # move off the zero-initialised output layers so every layer gets gradient
        p.data.add_(0.01 * torch.randn_like(p))
    model.copy_video_to_ray_branch()
    assert all(pv.data_ptr() != pr.data_ptr()
               for pv, pr in zip(model.blocks[0].video.parameters(), model.blocks[0].ray.parameters()))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    s, t, pos = _streams()
    model(s, t, cond_pos=pos)["rays"].square().mean().backward()
    opt.step()
    video = dict(model.blocks[0].video.named_parameters())
    differ = [n for n, p in model.blocks[0].ray.named_parameters() if not torch.equal(p, video[n])]
    assert "attn1.to_q.weight" in differ and "ffn.net.2.weight" in differ


def test_cross_attention_starts_as_identity_on_the_video_stream():
    """Zero output projection: at init, adding the ray stream does not change the video velocity."""
    model = JointDiT(TINY)
    s, t, pos = _streams()
    with torch.no_grad():
        alone = model({"video": s["video"], "cond_video": s["cond_video"]},
                      {"video": t["video"], "cond_video": t["cond_video"]}, cond_pos=pos)["video"]
        joint = model(s, t, cond_pos=pos)["video"]
    assert torch.equal(alone, joint)


def test_wan_checkpoint_loads_and_video_velocity_matches_diffusers(tmp_path):
    from diffusers import WanTransformer3DModel

    torch.manual_seed(0)
    wan = WanTransformer3DModel(patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12, in_channels=16,
                                out_channels=16, text_dim=32, freq_dim=256, ffn_dim=32, num_layers=2,
                                cross_attn_norm=True, qk_norm="rms_norm_across_heads", rope_max_seq_len=32)
    # Randomise every parameter so that no zero-initialised layer hides a mapping mistake.
    with torch.no_grad():
        for p in wan.parameters():
            p.add_(0.05 * torch.randn_like(p))
    wan.save_pretrained(tmp_path)
    model = joint_dit_from_wan(tmp_path)
    assert model.cfg.dim == 24 and model.cfg.num_layers == 2 and model.cfg.patch_size == (1, 2, 2)
    g = torch.Generator().manual_seed(3)
    x = torch.randn(2, 16, 3, 8, 8, generator=g)
    ctx = torch.randn(2, 7, 32, generator=g)
    t = torch.tensor([0.3, 0.8])
    with torch.no_grad():
        ref = wan(x, timestep=(1 - t) * 1000, encoder_hidden_states=ctx, return_dict=False)[0]
        out = model({"video": x}, {"video": t}, context=ctx)["video"]
    assert float((out - ref).abs().max()) < 1e-5
    # The ray branch is a copy of the video branch.
    assert torch.equal(model.blocks[1].ray.attn2.to_k.weight, model.blocks[1].video.attn2.to_k.weight)
    with torch.no_grad():
        joint = model({"video": x, "rays": torch.randn(2, 16, 3, 8, 8, generator=g)}, {"video": t, "rays": t},
                      context=ctx)
    assert float((joint["video"] - ref).abs().max()) < 1e-5  # DSCA starts as a no-op on the video stream


def test_wan_loader_rejects_non_checkpoints(tmp_path):
    with pytest.raises(ValueError, match="config.json"):
        joint_dit_from_wan(tmp_path)
