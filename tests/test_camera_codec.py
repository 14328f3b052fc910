"""Cameras <-> ray images (``engine.camera_codec``): scene scale, range, exact round trips for raxels and
Plücker coordinates, directly and through the autoencoders."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import geometry as g
from camera_strategies import max_rotation_error_deg, random_cameras, seeds
from engine.camera_codec import (RAY_RANGE_SCALE, centres_from_moments, decode_cameras, encode_cameras,
                                 ray_channels, ray_images_to_videos, scene_scale, videos_to_ray_images)
from engine.vae import PatchVAE, WanVAE

GRID = (16, 24)                                   # (H, W) ray grid, not the image size or aspect
ROT_TOL_DEG = {torch.float32: 1e-3, torch.float64: 1e-6}
TRANS_TOL = {torch.float32: 1e-5, torch.float64: 1e-10}   # relative to the scene's size


def _spread(cams: g.Cameras, factor: float) -> g.Cameras:
    """The same cameras with their centres multiplied by ``factor`` (random_cameras: centres in [-2, 2]^3)."""
    return cams.with_poses(g.make_pose(cams.R, cams.centers * factor))


def _far(seed, batch=(), n=5, **kw) -> g.Cameras:
    """Centres up to ~14 apart: canonical distances well beyond the unit ball, so the scale is < 1."""
    return _spread(random_cameras(seed, batch, n, **kw), 2.0)


def _near(seed, batch=(), n=5, **kw) -> g.Cameras:
    """Centres within 0.1 * 4 sqrt(3) < 0.7 of each other: inside the unit ball, so the scale is 1."""
    return _spread(random_cameras(seed, batch, n, **kw), 0.1)


def _assert_same_cameras(rec: g.Cameras, want_c2w: torch.Tensor, want_K: torch.Tensor, dtype) -> None:
    assert rec.dtype == dtype
    assert max_rotation_error_deg(rec.c2w, want_c2w) < ROT_TOL_DEG[dtype]
    size = max(1.0, float(want_c2w[..., :3, 3].norm(dim=-1).max()))
    assert float((rec.centers - want_c2w[..., :3, 3]).abs().max()) < TRANS_TOL[dtype] * size
    assert float(((rec.K - want_K).abs() / want_K[..., :1, :1]).max()) < TRANS_TOL[dtype]


# --------------------------------------------------------------------------------------
# Scene scale
# --------------------------------------------------------------------------------------

def test_scene_scale_puts_the_farthest_camera_on_the_unit_sphere():
    c2w = g.canonicalize(_far(0, (3,)).c2w, 2)
    s = scene_scale(c2w)
    assert s.shape == (3,) and s.dtype == c2w.dtype
    farthest = c2w[..., :3, 3].norm(dim=-1).amax(-1)
    assert bool((farthest > 1).all())
    torch.testing.assert_close(s, 1 / farthest)
    torch.testing.assert_close((c2w[..., :3, 3] * s[:, None, None]).norm(dim=-1).amax(-1), torch.ones(3,
                               dtype=c2w.dtype))


def test_scene_scale_keeps_small_scenes_and_pure_rotations_unscaled():
    near = g.canonicalize(_near(1, (2,)).c2w, 0)
    assert bool((near[..., :3, 3].norm(dim=-1).amax(-1) < 1).all())
    assert torch.equal(scene_scale(near), torch.ones(2, dtype=near.dtype))
    rotation_only = g.canonicalize(g.make_pose(random_cameras(2, (), 4).R, torch.zeros(4, 3, dtype=torch.float64)), 1)
    assert float(scene_scale(rotation_only)) == 1.0


def test_scene_scale_rejects_poses_that_are_not_canonical():
    with pytest.raises(ValueError, match="canonicalise"):
        scene_scale(_far(3).c2w)
    with pytest.raises(ValueError, match=r"\(\.\.\., N, 4, 4\)"):
        scene_scale(torch.eye(4))


# --------------------------------------------------------------------------------------
# Encoding
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("encoding", ["raxel", "plucker"])
@pytest.mark.parametrize("batch", [(), (2,), (1, 2)])
def test_encode_shapes_range_and_scale(encoding, batch):
    cams = _far(4, batch, n=5)
    images, s = encode_cameras(cams, ref=1, grid=GRID, encoding=encoding)
    assert images.shape == (*batch, 5, ray_channels(encoding), *GRID)
    assert s.shape == batch and bool((s < 1).all())
    assert float(images.abs().max()) <= 1.0
    # The range is used, not squashed towards 0 (Plücker components are bounded by 1, so reach 0.5).
    assert float(images.abs().max()) > (0.75 if encoding == "raxel" else 0.4)


def test_reference_frame_is_the_bare_bundle_at_half_scale():
    cams = _far(5, (), n=4)
    images, _ = encode_cameras(cams, ref=2, grid=GRID)
    bundle = g.camera_ray_bundle(g.grid_intrinsics(cams[2], *GRID), *GRID).permute(2, 0, 1)
    torch.testing.assert_close(images[2], RAY_RANGE_SCALE * bundle)


def test_encode_scales_translations_but_not_directions():
    cams = _far(6, (), n=3)
    c2w = g.canonicalize(cams.c2w, 0)
    images, s = encode_cameras(cams, ref=0, grid=GRID)
    rx = images / RAY_RANGE_SCALE
    # Each frame's raxels = unit directions + its scaled centre; the plain recipe with scaled poses says so too.
    scaled = cams.with_poses(g.make_pose(c2w[..., :3, :3], c2w[..., :3, 3] * s))
    torch.testing.assert_close(rx, g.raxels(scaled, *GRID))
    plk, s_p = encode_cameras(cams, ref=0, grid=GRID, encoding="plucker")
    assert torch.equal(s, s_p)
    torch.testing.assert_close(plk / RAY_RANGE_SCALE, g.plucker(scaled, *GRID))


def test_encode_with_a_given_scale_uses_it_and_refuses_one_that_leaves_the_range():
    cams = _far(7, (), n=3)
    _, s_auto = encode_cameras(cams, ref=0, grid=GRID)
    images, s = encode_cameras(cams, ref=0, grid=GRID, scale=0.5 * float(s_auto))
    assert float(s) == pytest.approx(0.5 * float(s_auto))
    assert float(images.abs().max()) <= 1.0
    with pytest.raises(ValueError, match="outside \\[-1, 1\\]"):
        encode_cameras(cams, ref=0, grid=GRID, scale=1.0)
    with pytest.raises(ValueError, match="positive"):
        encode_cameras(cams, ref=0, grid=GRID, scale=0.0)
    with pytest.raises(ValueError, match="'raxel' or 'plucker'"):
        encode_cameras(cams, ref=0, grid=GRID, encoding="raymap")  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------
# Round trips
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("encoding", ["raxel", "plucker"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("far", [True, False], ids=["beyond-unit-ball", "inside-unit-ball"])
@settings(max_examples=3, deadline=None)
@given(seed=seeds, ref=st.sampled_from([0, 2, -1]), batch=st.sampled_from([(), (2,)]))
def test_round_trip_returns_the_canonical_cameras_in_input_units(seed, encoding, dtype, far, ref, batch):
    cams = (_far if far else _near)(seed, batch, n=5, dtype=dtype, shared_k=True, off_centre=False)
    images, s = encode_cameras(cams, ref=ref, grid=GRID, encoding=encoding)
    assert bool((s < 1).all()) if far else bool((s == 1).all())
    assert float(images.abs().max()) <= 1.0
    rec, residual = decode_cameras(images, width=cams.width, height=cams.height, scale=s, encoding=encoding,
                                   ref=ref, return_residual=True)
    _assert_same_cameras(rec, g.canonicalize(cams.c2w, ref), cams.K, dtype)
    assert residual.shape == (*batch, 5)
    assert float(residual.max()) < (1e-5 if dtype == torch.float32 else 1e-10)


@pytest.mark.parametrize("encoding", ["raxel", "plucker"])
def test_round_trip_finds_the_reference_and_estimates_the_principal_point(encoding):
    cams = _far(8, (2,), n=4, shared_k=True, off_centre=True)
    images, s = encode_cameras(cams, ref=3, grid=GRID, encoding=encoding)
    rec = decode_cameras(images, width=cams.width, height=cams.height, scale=s, encoding=encoding,
                         principal_point="estimate")
    _assert_same_cameras(rec, g.canonicalize(cams.c2w, 3), cams.K, torch.float64)


@pytest.mark.parametrize("encoding", ["raxel", "plucker"])
def test_round_trip_with_known_per_frame_intrinsics(encoding):
    cams = _far(9, (), n=5, dtype=torch.float32, off_centre=True)       # every frame its own K
    images, s = encode_cameras(cams, ref=0, grid=GRID, encoding=encoding)
    rec = decode_cameras(images, width=cams.width, height=cams.height, scale=s, encoding=encoding,
                         intrinsics=cams.K)
    _assert_same_cameras(rec, g.canonicalize(cams.c2w, 0), cams.K, torch.float32)


def test_plucker_centres_from_moments_are_exact():
    cams = _far(10, (3,), n=2)
    o, d = g.world_rays(cams, *GRID)
    lengths = 0.5 + torch.rand(d.shape[:-3] + (1, *GRID), dtype=d.dtype, generator=torch.Generator().manual_seed(0))
    d = d * lengths                                                     # any ray length, not only unit
    torch.testing.assert_close(centres_from_moments(d, torch.linalg.cross(o, d, dim=-3)), cams.centers)


# --------------------------------------------------------------------------------------
# Residual as a confidence
# --------------------------------------------------------------------------------------

def test_residual_flags_the_corrupted_frame_and_matches_recover_cameras():
    cams = _far(11, (), n=5, shared_k=True, off_centre=False)
    images, s = encode_cameras(cams, ref=0, grid=GRID)
    noisy = images.clone()
    noisy[3] += 0.05 * torch.randn(noisy[3].shape, dtype=noisy.dtype, generator=torch.Generator().manual_seed(1))
    rec, residual = decode_cameras(noisy, width=cams.width, height=cams.height, scale=s, ref=0, return_residual=True)
    assert int(residual.argmax()) == 3 and float(residual[3]) > 10 * float(residual[[0, 1, 2, 4]].max())
    _, expected = g.recover_cameras(noisy / RAY_RANGE_SCALE, width=cams.width, height=cams.height, ref=0,
                                    return_residual=True)
    torch.testing.assert_close(residual, expected)


# --------------------------------------------------------------------------------------
# Through the autoencoders
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("encoding", ["raxel", "plucker"])
def test_ray_images_and_videos_are_inverse_layouts(encoding):
    images, _ = encode_cameras(_far(12, (2,), n=5), ref=0, grid=GRID, encoding=encoding)
    videos = ray_images_to_videos(images)
    groups = ray_channels(encoding) // 3
    assert videos.shape == (2 * groups, 3, 5, *GRID)
    assert torch.equal(videos[groups - 1, :, 4], images[0, 4, -3:])       # last channel group of clip 0
    assert torch.equal(videos_to_ray_images(videos, encoding=encoding), images)
    with pytest.raises(ValueError, match="B \\* 2"):
        videos_to_ray_images(torch.zeros(3, 3, 5, *GRID), encoding="plucker")   # an odd number of videos
    with pytest.raises(ValueError, match="3g"):
        ray_images_to_videos(images[..., :2, :, :])


@pytest.mark.parametrize("encoding", ["raxel", "plucker"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_round_trip_through_patch_vae_is_exact(encoding, dtype):
    vae = PatchVAE(patch_size=4)
    cams = _far(13, (2,), n=9, dtype=dtype, shared_k=True, off_centre=False)
    images, s = encode_cameras(cams, ref=4, grid=GRID, encoding=encoding)
    latents = vae.encode_video(ray_images_to_videos(images))
    assert latents.shape[-3:] == (3, GRID[0] // 4, GRID[1] // 4)
    decoded = videos_to_ray_images(vae.decode_video(latents), encoding=encoding)
    rec = decode_cameras(decoded, width=cams.width, height=cams.height, scale=s, encoding=encoding, ref=4)
    _assert_same_cameras(rec, g.canonicalize(cams.c2w, 4), cams.K, dtype)
    # The image path (source images, sparse targets) is exact too.
    per_image = vae.decode_images(vae.encode_images(images[..., :3, :, :]))
    torch.testing.assert_close(per_image, images[..., :3, :, :], rtol=0, atol=4 * torch.finfo(dtype).eps)


@pytest.fixture(scope="module")
def tiny_wan(tmp_path_factory):
    from diffusers import AutoencoderKLWan

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("tiny_wan_vae")
    AutoencoderKLWan(base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
                     temperal_downsample=[False, True, True]).save_pretrained(folder)
    return WanVAE.from_pretrained(folder)


@pytest.mark.parametrize("encoding", ["raxel", "plucker"])
def test_through_tiny_random_wan_vae_gives_finite_cameras(tiny_wan, encoding):
    """Random weights: no accuracy claim. The pipeline runs, stays in range, and known-K decoding always
    yields finite cameras (focal estimation may rightly refuse rays that are no pinhole bundle)."""
    cams = _far(14, (1,), n=5, dtype=torch.float32, shared_k=True, off_centre=False)
    images, s = encode_cameras(cams, ref=0, grid=GRID, encoding=encoding)
    with torch.no_grad():
        latents = tiny_wan.encode_video(ray_images_to_videos(images))
        assert latents.shape == (ray_channels(encoding) // 3, 16, 2, GRID[0] // 8, GRID[1] // 8)
        decoded = videos_to_ray_images(tiny_wan.decode_video(latents), encoding=encoding)
    assert decoded.shape == images.shape and float(decoded.abs().max()) <= 1.0
    rec, residual = decode_cameras(decoded, width=cams.width, height=cams.height, scale=s, encoding=encoding,
                                   intrinsics=cams.K, return_residual=True)
    assert rec.batch_shape == (1, 5)
    assert bool(torch.isfinite(rec.c2w).all()) and bool(torch.isfinite(residual).all())
    assert float(residual.min()) > 1e-3                  # random weights do not reproduce the rays


# --------------------------------------------------------------------------------------
# Decode input checks
# --------------------------------------------------------------------------------------

def test_decode_rejects_malformed_images():
    images, _ = encode_cameras(_far(15, (), n=3), ref=0, grid=GRID)
    with pytest.raises(ValueError, match=r"plucker images \(\.\.\., N, 6, H, W\)"):
        decode_cameras(images, width=96, height=64, encoding="plucker")
    bad = images.clone()
    bad[1, 0, 2, 3] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        decode_cameras(bad, width=96, height=64)
    with pytest.raises(ValueError, match="scale"):
        decode_cameras(images, width=96, height=64, scale=torch.ones(2))
