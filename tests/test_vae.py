"""The shared video autoencoder: the exact ``PatchVAE``, the ``WanVAE`` wrapper (tiny random weights,
saved and loaded from a local folder), the shared input checks and the factory."""

import json

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.config import VAEConfig
from engine.vae import (PatchVAE, VideoAutoencoder, WanVAE, build_vae, check_video, nearest_valid_frame_counts,
                        num_latent_frames, num_video_frames)

TINY_WAN = dict(base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
                temperal_downsample=[False, True, True])  # (sic) diffusers' spelling


def _video(b, t, h, w, *, seed=0, dtype=torch.float32):
    gen = torch.Generator().manual_seed(seed)
    return (torch.rand(b, 3, t, h, w, generator=gen, dtype=dtype) * 2 - 1)


# --------------------------------------------------------------------------------------
# Frame counts and input checks
# --------------------------------------------------------------------------------------

def test_frame_count_arithmetic():
    assert [num_latent_frames(t) for t in (1, 5, 9, 49)] == [1, 2, 3, 13]
    assert [num_video_frames(n) for n in (1, 2, 13)] == [1, 5, 49]
    assert nearest_valid_frame_counts(6) == (5, 9)
    assert nearest_valid_frame_counts(4) == (1, 5)
    assert nearest_valid_frame_counts(0) == (1,)
    assert nearest_valid_frame_counts(9) == (9,)
    assert nearest_valid_frame_counts(7, temporal_factor=2) == (7,)
    with pytest.raises(ValueError, match="T = 8"):
        num_latent_frames(8)


@pytest.mark.parametrize("t, nearest", [(2, "1 or 5"), (4, "1 or 5"), (6, "5 or 9"), (8, "5 or 9"), (50, "49 or 53")])
def test_check_video_names_bad_frame_count_and_nearest_valid(t, nearest):
    with pytest.raises(ValueError, match=rf"T = {t} frames.*nearest valid: {nearest}"):
        check_video(torch.zeros(1, 3, t, 8, 8))


def test_check_video_rejects_empty_video():
    with pytest.raises(ValueError, match=r"T = 0 frames.*nearest valid: 1$"):
        check_video(torch.zeros(1, 3, 0, 8, 8))


@pytest.mark.parametrize("x, message", [
    (torch.zeros(3, 5, 8, 8), r"expected \(B, 3, T, H, W\)"),
    (torch.zeros(1, 4, 5, 8, 8), r"expected \(B, 3, T, H, W\)"),
    (torch.zeros(1, 3, 5, 8, 8, dtype=torch.int64), "floating"),
    (torch.zeros(1, 3, 5, 8, 12).index_fill_(4, torch.tensor([3]), float("nan")), "NaN"),
    (torch.zeros(1, 3, 5, 8, 10), r"8 x 10 must be positive multiples of the spatial factor 4"),
    (torch.zeros(1, 3, 5, 6, 8), r"6 x 8 must be positive multiples"),
])
def test_check_video_rejects_malformed_input(x, message):
    with pytest.raises(ValueError, match=message):
        check_video(x, spatial_factor=4)


def test_check_video_accepts_valid_video():
    check_video(torch.zeros(2, 3, 9, 16, 8), spatial_factor=8)


# --------------------------------------------------------------------------------------
# PatchVAE
# --------------------------------------------------------------------------------------

def test_patch_vae_is_a_video_autoencoder_with_wan_grouping():
    vae = PatchVAE(patch_size=4)
    assert isinstance(vae, VideoAutoencoder)
    assert (vae.latent_channels, vae.spatial_factor, vae.temporal_factor) == (192, 4, 4)
    assert sum(p.numel() for p in vae.parameters()) == 0
    z = vae.encode_video(_video(2, 9, 8, 12))
    assert z.shape == (2, 192, 3, 2, 3)


@settings(max_examples=30, deadline=None)
@given(p=st.sampled_from([1, 2, 4]), tf=st.sampled_from([1, 2, 4]), k=st.integers(0, 3), b=st.integers(1, 2),
       dtype=st.sampled_from([torch.float32, torch.float64]), seed=st.integers(0, 2**16))
def test_patch_vae_video_round_trip_is_identity(p, tf, k, b, dtype, seed):
    vae = PatchVAE(patch_size=p, temporal_factor=tf)
    x = _video(b, 1 + tf * k, 2 * p, 3 * p, seed=seed, dtype=dtype)
    z = vae.encode_video(x)
    assert z.shape == (b, 3 * p * p * tf, 1 + k, 2, 3)
    assert z.dtype == dtype
    y = vae.decode_video(z)
    assert y.shape == x.shape and y.dtype == dtype
    torch.testing.assert_close(y, x, rtol=0, atol=4 * torch.finfo(dtype).eps)


def test_patch_vae_channel_layout_is_slot_colour_row_column():
    """Pins the layout: latent frame j >= 1, slot s holds video frame 1 + 4 (j - 1) + s; frame 0 fills all slots."""
    p, tf = 2, 4
    vae = PatchVAE(patch_size=p, temporal_factor=tf)
    x = _video(1, 9, 4, 6, seed=3)
    z = vae.encode_video(x)                                        # (1, 48, 3, 2, 3)
    b, c, i, j, h, w = 0, 2, 1, 0, 1, 2                             # colour c, pixel (i, j) of patch (h, w)
    for n in range(3):
        for s in range(tf):
            frame = 0 if n == 0 else 1 + tf * (n - 1) + s
            channel = ((s * 3 + c) * p + i) * p + j
            assert z[b, channel, n, h, w] == x[b, c, frame, h * p + i, w * p + j]


def test_patch_vae_decode_averages_the_copies_of_the_first_frame():
    vae = PatchVAE(patch_size=2)
    x = _video(1, 5, 4, 4, dtype=torch.float64)
    z = vae.encode_video(x)
    # Perturb the 4 copies of frame 0 with offsets that cancel: the decoded frame is unchanged,
    # while a decoder that read one copy would be off by 0.3.
    offsets = torch.tensor([0.3, -0.1, -0.5, 0.3], dtype=torch.float64).repeat_interleave(12)
    z[:, :, 0] += offsets[None, :, None, None]
    torch.testing.assert_close(vae.decode_video(z), x)
    # Later frames are one slot each, so a perturbation there shows up unchanged.
    z[:, 0, 1] += 0.25
    assert torch.allclose(vae.decode_video(z)[:, 0, 1, ::2, ::2] - x[:, 0, 1, ::2, ::2], torch.tensor(0.25,
                          dtype=torch.float64))


@pytest.mark.parametrize("lead", [(), (3,), (2, 3)])
def test_patch_vae_images_match_one_frame_videos(lead):
    vae = PatchVAE(patch_size=4)
    gen = torch.Generator().manual_seed(1)
    imgs = torch.rand(*lead, 3, 8, 16, generator=gen) * 2 - 1
    z = vae.encode_images(imgs)
    assert z.shape == (*lead, 192, 2, 4)
    as_video = vae.encode_video(imgs.reshape(-1, 3, 1, 8, 16))[:, :, 0]
    assert torch.equal(z.reshape(-1, 192, 2, 4), as_video)
    torch.testing.assert_close(vae.decode_images(z), imgs, rtol=0, atol=1e-6)
    # A model's prediction of the 4 copies differs between them: the decoder averages (offsets cancel).
    offsets = torch.tensor([0.2, -0.6, 0.1, 0.3]).repeat_interleave(48)
    torch.testing.assert_close(vae.decode_images(z + offsets[:, None, None]), imgs, rtol=0, atol=1e-6)


def test_patch_vae_rejects_bad_latents_and_bad_images():
    vae = PatchVAE(patch_size=4)
    with pytest.raises(ValueError, match=r"expected \(B, 192, n, h, w\)"):
        vae.decode_video(torch.zeros(1, 48, 2, 2, 2))
    with pytest.raises(ValueError, match=r"expected \(\.\.\., 192, h, w\)"):
        vae.decode_images(torch.zeros(2, 191, 2, 2))
    with pytest.raises(ValueError, match="multiples of the spatial factor 4"):
        vae.encode_images(torch.zeros(2, 3, 8, 9))
    with pytest.raises(ValueError, match=r"T = 3 frames"):
        vae.encode_video(torch.zeros(1, 3, 3, 8, 8))
    with pytest.raises(ValueError, match="patch_size"):
        PatchVAE(patch_size=0)


# --------------------------------------------------------------------------------------
# WanVAE (tiny random weights; nothing is downloaded)
# --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tiny_wan_dir(tmp_path_factory):
    from diffusers import AutoencoderKLWan

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("tiny_wan_vae")
    AutoencoderKLWan(**TINY_WAN).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def tiny_wan(tiny_wan_dir):
    return WanVAE.from_pretrained(tiny_wan_dir)


def test_wan_vae_loads_from_a_local_folder(tiny_wan):
    assert isinstance(tiny_wan, VideoAutoencoder)
    assert (tiny_wan.latent_channels, tiny_wan.spatial_factor, tiny_wan.temporal_factor) == (16, 8, 4)
    assert not any(p.requires_grad for p in tiny_wan.parameters())


def test_wan_vae_missing_folder_or_config_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no directory"):
        WanVAE.from_pretrained(tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match="has no config.json"):
        WanVAE.from_pretrained(tmp_path)


def test_wan_vae_finds_the_vae_folder_of_a_pipeline(tiny_wan_dir, tmp_path):
    (tmp_path / "vae").symlink_to(tiny_wan_dir, target_is_directory=True)
    assert WanVAE.from_pretrained(tmp_path).latent_channels == 16


def test_wan_vae_video_shapes_and_range(tiny_wan):
    x = _video(2, 5, 16, 24)
    with torch.no_grad():
        z = tiny_wan.encode_video(x)
        assert z.shape == (2, 16, 2, 2, 3)
        y = tiny_wan.decode_video(z)
        assert tiny_wan.encode_video(_video(1, 9, 16, 16)).shape == (1, 16, 3, 2, 2)
    assert y.shape == x.shape
    assert bool(torch.isfinite(y).all()) and float(y.abs().max()) <= 1.0


def test_wan_vae_normalises_with_the_config_statistics(tiny_wan, tiny_wan_dir):
    config = json.loads((tiny_wan_dir / "config.json").read_text())
    mean = torch.tensor(config["latents_mean"]).view(1, 16, 1, 1, 1)
    std = torch.tensor(config["latents_std"]).view(1, 16, 1, 1, 1)
    assert float(mean.abs().max()) > 0.5 and float((std - 1).abs().max()) > 0.5   # so skipping them would show
    x = _video(1, 5, 16, 16, seed=4)
    with torch.no_grad():
        z = tiny_wan.encode_video(x)
        raw = tiny_wan.model.encode(x).latent_dist.mode()
        torch.testing.assert_close(z, (raw - mean) / std)
        torch.testing.assert_close(tiny_wan.encode_video(x), z, rtol=0, atol=0)     # mode: deterministic
        torch.testing.assert_close(tiny_wan.decode_video(z), tiny_wan.model.decode(z * std + mean).sample)


@pytest.mark.parametrize("t", [2, 4, 6, 8])
def test_wan_vae_rejects_frame_counts_diffusers_would_truncate(tiny_wan, t):
    with pytest.raises(ValueError, match=rf"T = {t} frames"):
        tiny_wan.encode_video(_video(1, t, 16, 16))


def test_wan_vae_rejects_sizes_off_the_spatial_grid(tiny_wan):
    with pytest.raises(ValueError, match="spatial factor 8"):
        tiny_wan.encode_video(_video(1, 5, 12, 16))
    with pytest.raises(ValueError, match=r"\(B, 16, n, h, w\)"):
        tiny_wan.decode_video(torch.zeros(1, 8, 2, 2, 2))


@pytest.mark.parametrize("lead", [(2,), (2, 1)])
def test_wan_vae_images_are_one_frame_videos(tiny_wan, lead):
    gen = torch.Generator().manual_seed(5)
    imgs = torch.rand(*lead, 3, 16, 8, generator=gen) * 2 - 1
    with torch.no_grad():
        z = tiny_wan.encode_images(imgs)
        assert z.shape == (*lead, 16, 2, 1)
        flat = imgs.reshape(-1, 3, 16, 8)
        one_by_one = torch.stack([tiny_wan.encode_video(im[None, :, None])[0, :, 0] for im in flat])
        torch.testing.assert_close(z.reshape(-1, 16, 2, 1), one_by_one, rtol=1e-5, atol=1e-5)
        y = tiny_wan.decode_images(z)
    assert y.shape == imgs.shape


# --------------------------------------------------------------------------------------
# Factory
# --------------------------------------------------------------------------------------

def test_build_vae_from_config(tiny_wan_dir):
    patch = build_vae(VAEConfig(kind="patch", patch_size=8))
    assert isinstance(patch, PatchVAE) and patch.latent_channels == 3 * 8 * 8 * 4
    wan = build_vae(VAEConfig(kind="wan", path=str(tiny_wan_dir)), dtype=torch.float64)
    assert isinstance(wan, WanVAE) and wan.latent_channels == 16
    assert next(wan.model.parameters()).dtype == torch.float64
    with pytest.raises(ValueError, match="path is not set"):
        build_vae(VAEConfig(kind="wan"))
    with pytest.raises(ValueError, match="groups frames by 4"):
        build_vae(VAEConfig(kind="wan", path=str(tiny_wan_dir), temporal_factor=2))
    with pytest.raises(ValueError, match="'patch' or 'wan'"):
        build_vae(VAEConfig(kind="jpeg"))  # type: ignore[arg-type]
