"""Raxels (eq. 2), canonicalisation (eq. 1) and camera recovery (eqs. 6-7) as exact inverses."""

import math

import pytest
import torch
from hypothesis import given, settings

import geometry as g
from camera_strategies import batch_shapes, fov_ranges, image_sizes, max_rotation_error_deg, random_cameras, seeds

GRID = (24, 32)  # (H, W) raxel grid, deliberately not the image size or aspect


def _canonical(cams: g.Cameras, ref: int) -> g.Cameras:
    return cams.with_poses(g.canonicalize(cams.c2w, ref))


@settings(max_examples=25, deadline=None)
@given(seed=seeds, batch=batch_shapes, fov=fov_ranges, size=image_sizes)
def test_recover_inverts_raxels_with_known_principal_point(seed, batch, fov, size):
    w, h = size
    cams = _canonical(random_cameras(seed, batch, 5, fov_deg=fov, width=w, height=h), ref=2)
    rx = g.raxels(cams, *GRID)
    assert rx.shape == (*batch, 5, 3, *GRID)
    rec = g.recover_cameras(rx, width=w, height=h, principal_point=cams.K[..., :2, 2], iterations=30)
    assert max_rotation_error_deg(rec.c2w, cams.c2w) < 1e-4
    # Per-frame focal lengths converge linearly; narrow FOVs leave ~1e-8 after 30 rounds.
    assert torch.allclose(rec.centers, cams.centers, atol=1e-6)
    rel_f = (rec.K[..., [0, 1], [0, 1]] - cams.K[..., [0, 1], [0, 1]]).abs() / cams.K[..., [0, 1], [0, 1]]
    assert float(rel_f.max()) < 1e-4


@settings(max_examples=20, deadline=None)
@given(seed=seeds, batch=batch_shapes, fov=fov_ranges)
def test_recover_with_shared_intrinsics_finds_reference_and_principal_point(seed, batch, fov):
    """The common case: one camera for the clip. Reference found automatically, principal point estimated."""
    cams = _canonical(random_cameras(seed, batch, 6, fov_deg=fov, shared_k=True), ref=4)
    rec = g.recover_cameras(g.raxels(cams, *GRID), width=cams.width, height=cams.height,
                            principal_point="estimate", iterations=1)
    assert max_rotation_error_deg(rec.c2w, cams.c2w) < 1e-4
    assert torch.allclose(rec.centers, cams.centers, atol=1e-8)
    assert torch.allclose(rec.K, cams.K, rtol=1e-6)


def test_recover_centre_principal_point_is_the_papers_default():
    cams = _canonical(random_cameras(3, (), 4, off_centre=False), ref=0)
    rec = g.recover_cameras(g.raxels(cams, *GRID), width=cams.width, height=cams.height)
    assert max_rotation_error_deg(rec.c2w, cams.c2w) < 1e-4
    assert torch.allclose(rec.K, cams.K, rtol=1e-6)


def test_float32_recovery_is_accurate():
    cams = _canonical(random_cameras(7, (2,), 5, dtype=torch.float32, shared_k=True), ref=1)
    rec = g.recover_cameras(g.raxels(cams, *GRID), width=cams.width, height=cams.height, principal_point="estimate")
    assert rec.dtype == torch.float32
    assert max_rotation_error_deg(rec.c2w, cams.c2w) < 1e-2
    assert torch.allclose(rec.centers, cams.centers, atol=1e-4)


def test_explicit_reference_index():
    cams = _canonical(random_cameras(11, (), 4, shared_k=True), ref=3)
    rec = g.recover_cameras(g.raxels(cams, *GRID), width=cams.width, height=cams.height,
                            principal_point=cams.K[..., :2, 2], ref=-1)
    assert max_rotation_error_deg(rec.c2w, cams.c2w) < 1e-4


@settings(max_examples=25, deadline=None)
@given(seed=seeds, batch=batch_shapes)
def test_canonicalize_puts_reference_at_identity_and_keeps_relative_poses(seed, batch):
    cams = random_cameras(seed, batch, 4)
    for ref in (0, 2, -1):
        can = g.canonicalize(cams.c2w, ref)
        eye = torch.eye(4, dtype=can.dtype).expand_as(can[..., ref, :, :])
        assert torch.allclose(can[..., ref, :, :], eye, atol=1e-12)
        # Relative poses are what the model learns; canonicalisation must not change them.
        rel = g.invert_pose(cams.c2w[..., 0:1, :, :]) @ cams.c2w
        rel_c = g.invert_pose(can[..., 0:1, :, :]) @ can
        assert torch.allclose(rel, rel_c, atol=1e-10)


def test_reference_raxels_are_the_bare_unit_bundle():
    cams = _canonical(random_cameras(5, (), 3), ref=1)
    rx = g.raxels(cams, *GRID)
    ref = rx[1]
    assert torch.allclose(torch.linalg.vector_norm(ref, dim=0), torch.ones(GRID, dtype=ref.dtype), atol=1e-12)
    K = g.grid_intrinsics(cams[1], *GRID)
    # The top-left raxel points through pixel centre (0.5, 0.5) of the grid.
    x = (0.5 - K[0, 2]) / K[0, 0]
    y = (0.5 - K[1, 2]) / K[1, 1]
    want = torch.tensor([x, y, 1.0], dtype=ref.dtype)
    assert torch.allclose(ref[:, 0, 0], want / want.norm(), atol=1e-12)


def test_raxel_pinned_value_for_a_translated_camera():
    """A camera 2 units to the right of the reference, turned 90 degrees left, hand-computed."""
    R = g.axis_angle_to_matrix(torch.tensor([0.0, -math.pi / 2, 0.0], dtype=torch.float64))  # about -y = world up
    c2w = g.make_pose(R, torch.tensor([2.0, 0.0, 0.0], dtype=torch.float64))
    K = g.intrinsics_matrix(2.0, 2.0, 2.0, 2.0)  # 4x4 image, 90 degree FOV
    cam = g.Cameras(c2w, K.double(), 4, 4)
    rx = g.raxels(cam, 2, 2)  # 2x2 grid: pixel centres at +-0.5 focal
    # Bottom-right grid pixel: camera ray (0.5, 0.5, 1)/|.|; turning left maps camera +z to world -x.
    d_cam = torch.tensor([0.5, 0.5, 1.0], dtype=torch.float64)
    d_cam /= d_cam.norm()
    d_world = R @ d_cam
    assert torch.allclose(d_world, torch.tensor([-1.0, 0.5, 0.5], dtype=torch.float64) / math.sqrt(1.5), atol=1e-12)
    assert torch.allclose(rx[:, 1, 1], d_world + torch.tensor([2.0, 0.0, 0.0], dtype=torch.float64), atol=1e-12)


def test_plucker_and_raymap_channels():
    cams = random_cameras(2, (3,), 2)
    o, d = g.world_rays(cams, *GRID)
    pl = g.plucker(cams, *GRID)
    rm = g.raymap(cams, *GRID)
    assert pl.shape == rm.shape == (3, 2, 6, *GRID)
    assert torch.allclose(pl[..., :3, :, :], d) and torch.allclose(rm[..., 3:, :, :], d)
    assert torch.allclose(rm[..., :3, :, :], o)
    # The moment is orthogonal to the direction and independent of where on the ray the origin sits.
    assert float((pl[..., :3, :, :] * pl[..., 3:, :, :]).sum(-3).abs().max()) < 1e-12
    shifted = torch.linalg.cross(o + 3.0 * d, d, dim=-3)
    assert torch.allclose(shifted, pl[..., 3:, :, :], atol=1e-12)
    assert torch.allclose(g.raxels(cams, *GRID), o + d)


def test_raxels_on_a_resized_grid_match_resized_cameras():
    cams = random_cameras(9, (), 3)
    small = g.raxels(cams, 16, 24)
    via_resize = g.raxels(cams.resized(24, 16), 16, 24)
    assert torch.allclose(small, via_resize, atol=1e-12)


def test_recovery_error_grows_smoothly_with_noise():
    cams = _canonical(random_cameras(21, (), 8, shared_k=True, fov_deg=(50, 70), off_centre=False), ref=0)
    rx = g.raxels(cams, 32, 48)
    gen = torch.Generator().manual_seed(0)
    noise = torch.randn(rx.shape, generator=gen, dtype=rx.dtype)
    errs = []
    for sigma in (0.0, 1e-3, 1e-2, 3e-2):
        rec = g.recover_cameras(rx + sigma * noise, width=cams.width, height=cams.height, ref=0)
        errs.append(float(g.relative_rotation_angle_deg(rec.R, cams.R).mean()))
    assert errs[0] < 1e-6
    assert all(a < b for a, b in zip(errs, errs[1:])), errs
    # A bound at one level: sigma = 0.01 (1% of a unit ray) costs well under a degree.
    assert errs[2] < 0.5, errs
    # Roughly linear growth in sigma: no cliff between 0.01 and 0.03.
    assert errs[3] < 6 * errs[2], errs


@pytest.mark.parametrize("bad, match", [
    (torch.full((2, 3, 4, 4), float("nan")), "NaN"),
    (torch.zeros(2, 4, 4, 4), r"\(\.\.\., N, 3, H, W\)"),
    (torch.zeros(3, 4, 4), r"\(\.\.\., N, 3, H, W\)"),
])
def test_recover_rejects_bad_raxels(bad, match):
    with pytest.raises(ValueError, match=match):
        g.recover_cameras(bad, width=8, height=8)


def test_recover_rejects_raxels_that_are_not_bundles():
    with pytest.raises(ValueError, match="not a forward-facing ray bundle|not positive"):
        g.recover_cameras(-torch.ones(2, 3, 4, 4), width=8, height=8, ref=0)


def test_real_realestate10k_poses_round_trip_through_raxels():
    """Real RealEstate10K trajectories (tests/data/re10k, 384x256): canonicalise, raxels, recover."""
    from pathlib import Path

    # Pinned from the files: (farthest camera from the first, largest rotation from the first in degrees).
    pinned = {"0bf152ef84195293": (2.8444, 24.049), "0c11dbe781b1c11c": (2.8885, 29.371),
              "0c9b371cc6225682": (2.5327, 8.030)}
    for path in sorted((Path(__file__).parent / "data" / "re10k").glob("*.txt")):
        cams = g.load_cameras(path, width=384, height=256)
        can = _canonical(cams, ref=0)
        rx = g.raxels(can, 32, 48)
        rec = g.recover_cameras(rx, width=384, height=256, principal_point=cams.K[..., :2, 2])
        assert max_rotation_error_deg(rec.c2w, can.c2w) < 1e-4, path.name
        assert torch.allclose(rec.centers, can.centers, atol=1e-8)
        assert torch.allclose(rec.K, cams.K, rtol=1e-6)
        far, turn = pinned[path.stem]
        assert float(rec.centers.norm(dim=-1).max()) == pytest.approx(far, abs=1e-4)
        assert float(g.rotation_angle(rec.R).rad2deg().max()) == pytest.approx(turn, abs=1e-3)


# --------------------------------------------------------------------------------------
# Video-sized kernels (issue 13): preallocated outputs, shared bundles, sampled focal lengths
# --------------------------------------------------------------------------------------

def _mixed_intrinsics_cameras(dtype: torch.dtype) -> g.Cameras:
    """Five frames whose K repeat out of order (A, B, A, A, C), so a per-K bundle is reused across gaps."""
    cams = random_cameras(13, (), 5, dtype=dtype)
    K = cams.K.clone()
    K[2], K[3] = K[0], K[0]
    return g.Cameras(cams.c2w, K, cams.width, cams.height)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("shared_k", [True, False])
def test_raxels_into_out_equal_the_allocating_path(dtype, shared_k):
    cams = random_cameras(4, (2,), 3, dtype=dtype, shared_k=shared_k)
    want = g.raxels(cams, *GRID)
    out = torch.full((2, 3, 3, *GRID), float("nan"), dtype=dtype)            # every element must be written
    got = g.raxels(cams, *GRID, out=out)
    assert got is out
    assert torch.equal(out, want)


@pytest.mark.parametrize("out, match", [
    (torch.zeros(5, 3, 24, 31, dtype=torch.float64),
     r"raxels: out has shape \(5, 3, 24, 31\), expected \(5, 3, 24, 32\)"),
    (torch.zeros(5, 3, 24, 32, dtype=torch.float32), r"raxels: out has dtype torch.float32, expected torch.float64"),
    (torch.zeros(5, 3, 32, 24, dtype=torch.float64).transpose(-1, -2), r"raxels: out must be contiguous"),
    (torch.zeros(5, 3, 24, 32, dtype=torch.float64).numpy(), r"raxels: out must be a torch.Tensor, got ndarray"),
])
def test_raxels_reject_a_wrong_out_and_leave_it_untouched(out, match):
    cams = random_cameras(1, (), 5)
    with pytest.raises(ValueError, match=match):
        g.raxels(cams, *GRID, out=out)
    assert not torch.as_tensor(out).any()


def test_raxels_with_mixed_intrinsics_in_one_batch_are_exact():
    """Frames sharing a K share one bundle; each frame still gets exactly its own K's rays."""
    cams = _mixed_intrinsics_cameras(torch.float64)
    rx = g.raxels(cams, *GRID)
    H, W = GRID
    u = g.pixel_grid(H, W, dtype=torch.float64)                               # (H, W, 3)
    for i in range(5):
        d = u @ torch.linalg.inv(g.grid_intrinsics(cams[i], H, W)).T
        d = d / d.norm(dim=-1, keepdim=True)
        want = torch.einsum("ij,hwj->ihw", cams.R[i], d) + cams.centers[i, :, None, None]
        assert torch.allclose(rx[i], want, atol=1e-12), i


def test_recovery_with_mixed_intrinsics_in_one_batch_is_exact():
    cams = _canonical(_mixed_intrinsics_cameras(torch.float64), ref=0)
    rec, rms = g.recover_cameras(g.raxels(cams, *GRID), width=cams.width, height=cams.height, ref=0,
                                 principal_point=cams.K[..., :2, 2], return_residual=True)
    assert max_rotation_error_deg(rec.c2w, cams.c2w) < 1e-4
    assert torch.allclose(rec.centers, cams.centers, atol=1e-6)
    assert torch.allclose(rec.K, cams.K, rtol=1e-6)
    assert float(rms.max()) < 1e-6


def test_recovery_residual_is_the_rms_ray_distance():
    cams = _canonical(random_cameras(8, (), 4, shared_k=True, off_centre=False), ref=0)
    rx = g.raxels(cams, *GRID)
    _, clean = g.recover_cameras(rx, width=cams.width, height=cams.height, ref=0, return_residual=True)
    assert clean.shape == (4,) and float(clean.max()) < 1e-12
    noise = torch.randn(rx.shape, generator=torch.Generator().manual_seed(1), dtype=rx.dtype)
    _, noisy = g.recover_cameras(rx + 1e-3 * noise, width=cams.width, height=cams.height, ref=0, return_residual=True)
    # Three channels of N(0, 1e-3) noise, less the few degrees of freedom the fit absorbs.
    assert torch.allclose(noisy, torch.full_like(noisy, 1e-3 * math.sqrt(3)), rtol=0.05)


def _reference_focal_one_round(raxels, pp):
    """Independent float64 NumPy reference of one round on every pixel (lower median, as torch's):
    focal of frame 0 at identity -> Kabsch to its bundle -> each frame's own focal -> Kabsch again."""
    import numpy as np

    x = raxels.numpy()
    N, _, H, W = x.shape
    ys, xs = np.meshgrid(np.arange(H) + 0.5, np.arange(W) + 0.5, indexing="ij")
    uv = np.stack([xs.ravel(), ys.ravel()], -1)

    def focal(local):
        out = []
        for axis in (0, 1):
            c = uv[:, axis] - pp[axis]
            keep = np.abs(c) > 0.25 * np.abs(c).max()
            r = np.sort(c[keep] * local[keep, 2] / local[keep, axis])
            out.append(r[(len(r) - 1) // 2])
        return out

    def bundle(f):
        d = np.stack([(uv[:, 0] - pp[0]) / f[0], (uv[:, 1] - pp[1]) / f[1], np.ones(len(uv))], -1)
        return d / np.linalg.norm(d, axis=-1, keepdims=True)

    def kabsch(src, dst):
        U, _, Vt = np.linalg.svd((src - src.mean(0)).T @ (dst - dst.mean(0)))
        R = Vt.T @ np.diag([1.0, 1.0, np.sign(np.linalg.det(Vt.T @ U.T))]) @ U.T
        return R, dst.mean(0) - R @ src.mean(0)

    f_ref = focal(x[0].reshape(3, -1).T)
    fs = []
    for k in range(N):
        pts = x[k].reshape(3, -1).T
        R, t = kabsch(bundle(f_ref), pts)
        fs.append(focal((pts - t) @ R))
    return torch.tensor(fs)                                                   # (N, 2)


def test_focal_lengths_on_a_large_grid_are_sampled_within_tolerance_and_exact_on_request():
    H, W = 160, 256                                  # 40,960 pixels > FOCAL_SAMPLE_PIXELS: every 2nd row and column
    from geometry.recover import FOCAL_SAMPLE_PIXELS, focal_sample_step
    assert H * W > FOCAL_SAMPLE_PIXELS and focal_sample_step(H, W) == 2
    cams = _canonical(random_cameras(17, (), 3, shared_k=True, fov_deg=(40, 70), off_centre=False,
                                     width=W, height=H), ref=0)
    rx = g.raxels(cams, H, W)
    rx = rx + 1e-2 * torch.randn(rx.shape, generator=torch.Generator().manual_seed(2), dtype=rx.dtype)
    exact = g.recover_cameras(rx, width=W, height=H, ref=0, iterations=1, exact_focal=True)
    sampled = g.recover_cameras(rx, width=W, height=H, ref=0, iterations=1)
    f_exact, f_sampled = exact.K[:, [0, 1], [0, 1]], sampled.K[:, [0, 1], [0, 1]]
    want = _reference_focal_one_round(rx, (W / 2, H / 2))
    assert torch.allclose(f_exact, want, rtol=1e-9, atol=0)
    assert not torch.equal(f_sampled, f_exact)                    # the default really is a subsample
    # The documented tolerance (geometry/recover.py): 0.2 sigma relative; this clip reaches 0.09 sigma.
    assert float(((f_sampled - f_exact).abs() / f_exact).max()) < 0.2 * 1e-2
    # Poses use every pixel either way; the small focal difference barely moves them.
    assert max_rotation_error_deg(sampled.c2w, exact.c2w) < 1e-3


# Cameras' own pose check reads a float from the grad-carrying pose (geometry/validation.py); harmless here.
@pytest.mark.filterwarnings("ignore:Converting a tensor with requires_grad")
def test_raxels_stay_differentiable_and_refuse_out_under_grad():
    cams = random_cameras(6, (), 3)
    c2w = cams.c2w.clone().requires_grad_(True)
    rx = g.raxels(cams.with_poses(c2w), *GRID)
    assert torch.equal(rx.detach(), g.raxels(cams, *GRID))
    rx.sum().backward()
    # d(sum of raxels)/d(centre) is the pixel count per channel.
    assert torch.allclose(c2w.grad[:, :3, 3], torch.full((3, 3), float(GRID[0] * GRID[1]), dtype=torch.float64))
    with pytest.raises(ValueError, match="raxels: out= cannot be used while the cameras require grad"):
        g.raxels(cams.with_poses(c2w), *GRID, out=torch.empty(3, 3, *GRID, dtype=torch.float64))
    with pytest.raises(ValueError, match="recover_cameras: raxels require grad"):
        g.recover_cameras(rx, width=cams.width, height=cams.height)
