"""The Cameras container and the rigid-transform algebra, including the convention pins."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import geometry as g
from camera_strategies import batch_shapes, random_cameras, seeds


# ---- Cameras ------------------------------------------------------------------------------

def test_indexing_to_and_numpy_edges():
    cams = random_cameras(0, (), 5, dtype=torch.float32)
    assert len(cams) == 5 and cams.batch_shape == (5,)
    sub = cams[1:3]
    assert sub.batch_shape == (2,) and torch.equal(sub.c2w, cams.c2w[1:3])
    one = cams[4]
    assert one.batch_shape == () and torch.equal(one.K, cams.K[4])
    with pytest.raises(TypeError):
        len(one)
    d = cams.to(torch.float64)
    assert d.dtype == torch.float64 and d.K.dtype == torch.float64
    with pytest.raises(ValueError, match="float32 or float64"):
        cams.to(torch.float16)
    # numpy arrays and lists are accepted at the edge
    c = g.Cameras(np.eye(4)[None].repeat(2, 0), np.array([[100.0, 0, 50], [0, 100, 40], [0, 0, 1]]), 100, 80)
    assert c.K.shape == (2, 3, 3)


def test_reversed_is_time_reversal():
    cams = random_cameras(1, (), 4)
    cams.timestamps = None
    ts = torch.tensor([0.0, 0.1, 0.3, 0.6], dtype=torch.float64)
    cams = g.Cameras(cams.c2w, cams.K, cams.width, cams.height, ts)
    rev = cams.reversed()
    assert torch.equal(rev.c2w[0], cams.c2w[-1]) and torch.equal(rev.K[0], cams.K[-1])
    # Timestamps keep their start and their (reversed) spacing.
    assert torch.allclose(rev.timestamps, torch.tensor([0.0, 0.3, 0.5, 0.6], dtype=torch.float64))
    assert torch.equal(rev.reversed().c2w, cams.c2w)


@settings(max_examples=25, deadline=None)
@given(seed=seeds)
def test_mirrored_cameras_see_the_mirrored_world_at_mirrored_pixels(seed):
    cams = random_cameras(seed, (), 5)
    gen = torch.Generator().manual_seed(seed)
    # World points in front of every camera: on each optical axis at a random depth, then jittered.
    depth = 1.0 + 3.0 * torch.rand(5, 1, generator=gen, dtype=torch.float64)
    pts = cams.centers + depth * cams.R[..., :, 2] + 0.1 * torch.randn(5, 3, generator=gen, dtype=torch.float64)

    def project(c, X):
        local = torch.einsum("nji,nj->ni", c.R, X - c.centers)        # R^T (X - centre)
        uv = torch.einsum("nij,nj->ni", c.K, local)
        return uv[:, :2] / uv[:, 2:]

    mir = cams.mirrored()
    flip = torch.tensor([-1.0, 1.0, 1.0], dtype=torch.float64)
    uv, uv_m = project(cams, pts), project(mir, pts * flip)
    assert torch.allclose(uv_m[:, 0], cams.width - uv[:, 0], atol=1e-8)
    assert torch.allclose(uv_m[:, 1], uv[:, 1], atol=1e-8)
    assert torch.linalg.det(mir.R).min() > 0                               # still rigid, right-handed
    assert torch.allclose(mir.mirrored().c2w, cams.c2w) and torch.allclose(mir.mirrored().K, cams.K)
    # A turn to the right (about the camera's y axis) becomes the same turn to the left.
    yaw = g.make_pose(g.axis_angle_to_matrix(torch.tensor([0.0, 0.3, 0.0], dtype=torch.float64)), torch.zeros(3, dtype=torch.float64))
    turned = g.Cameras(yaw, cams.K[0], cams.width, cams.height).mirrored()
    assert torch.allclose(turned.R, g.axis_angle_to_matrix(torch.tensor([0.0, -0.3, 0.0], dtype=torch.float64)))


def test_resized_scales_intrinsics_exactly_with_half_pixel_centres():
    K = g.intrinsics_matrix(100.0, 120.0, 64.0, 48.0).double()
    cams = g.Cameras(torch.eye(4, dtype=torch.float64), K, 128, 96)
    small = cams.resized(32, 48)
    assert torch.allclose(small.K, g.intrinsics_matrix(25.0, 60.0, 16.0, 24.0).double())
    # The ray through the image's top-left corner (pixel edge 0,0) is the same in both images.
    corner_big = torch.linalg.solve(cams.K, torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64))
    corner_small = torch.linalg.solve(small.K, torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64))
    assert torch.allclose(corner_big, corner_small)
    assert small.fov_y.item() == pytest.approx(cams.fov_y.item())


def test_from_fov_and_fov_properties():
    cams = g.Cameras.from_fov(torch.eye(4).expand(3, 4, 4), fov_y_deg=60.0, width=160, height=90)
    assert torch.allclose(torch.rad2deg(cams.fov_y), torch.full((3,), 60.0))
    assert cams.K[0, 0, 0].item() == pytest.approx(45 / math.tan(math.radians(30)))
    assert cams.K[0, 0, 2].item() == 80 and cams.K[0, 1, 2].item() == 45
    with pytest.raises(ValueError, match="fov_y_deg"):
        g.Cameras.from_fov(torch.eye(4), fov_y_deg=180.0, width=10, height=10)


@pytest.mark.parametrize("c2w, K, match", [
    (torch.full((4, 4), float("nan")), torch.eye(3), "NaN"),
    (torch.eye(4) * 2, torch.eye(3), "not orthonormal"),
    (torch.diag(torch.tensor([1.0, 1.0, -1.0, 1.0])), torch.eye(3), "determinant -1"),
    (torch.eye(4), torch.zeros(3, 3), "singular"),
    (torch.eye(3), torch.eye(3), r"\(\.\.\., 4, 4\)"),
    (torch.eye(4), torch.eye(4), r"\(\.\.\., 3, 3\)"),
])
def test_invalid_cameras_raise_clear_errors(c2w, K, match):
    with pytest.raises(ValueError, match=match):
        g.Cameras(c2w, K, 10, 10)


def test_invalid_image_size():
    with pytest.raises(ValueError, match="positive integers"):
        g.Cameras(torch.eye(4), torch.eye(3), 0, 10)


def test_stack():
    a, b = random_cameras(2, (), 3), random_cameras(3, (), 2)
    s = g.Cameras.stack([a, b, b[0]])
    assert s.batch_shape == (6,)
    with pytest.raises(ValueError, match="image size"):
        g.Cameras.stack([a, a.resized(10, 10)])


# ---- transforms -----------------------------------------------------------------------------

@settings(max_examples=30, deadline=None)
@given(seed=seeds, batch=batch_shapes)
def test_quaternion_round_trip_and_product(seed, batch):
    gen = torch.Generator().manual_seed(seed)
    q = torch.randn(*batch, 4, generator=gen, dtype=torch.float64)
    q = q / q.norm(dim=-1, keepdim=True)
    q = torch.where(q[..., :1] < 0, -q, q)
    R = g.quaternion_to_matrix(q)
    assert torch.allclose(g.matrix_to_quaternion(R), q, atol=1e-10)
    q2 = torch.randn(*batch, 4, generator=gen, dtype=torch.float64)
    R2 = g.quaternion_to_matrix(q2)
    assert torch.allclose(g.quaternion_to_matrix(g.quaternion_multiply(q, q2)), R @ R2, atol=1e-10)


@settings(max_examples=30, deadline=None)
@given(seed=seeds, batch=batch_shapes, angle=st.floats(0.0, math.pi - 1e-3))
def test_axis_angle_round_trip_and_angle(seed, batch, angle):
    gen = torch.Generator().manual_seed(seed)
    axis = torch.randn(*batch, 3, generator=gen, dtype=torch.float64)
    v = axis / axis.norm(dim=-1, keepdim=True) * angle
    R = g.axis_angle_to_matrix(v)
    assert torch.allclose(R @ R.transpose(-1, -2), torch.eye(3, dtype=torch.float64).expand_as(R), atol=1e-12)
    assert torch.allclose(g.rotation_angle(R), torch.full(batch, angle, dtype=torch.float64), atol=1e-9)
    assert torch.allclose(g.matrix_to_axis_angle(R), v, atol=1e-8)


def test_rotation_angle_is_precise_for_tiny_angles():
    R = g.axis_angle_to_matrix(torch.tensor([1e-9, 0.0, 0.0], dtype=torch.float64))
    assert g.rotation_angle(R).item() == pytest.approx(1e-9, rel=1e-6)


@settings(max_examples=30, deadline=None)
@given(seed=seeds, batch=batch_shapes)
def test_pose_inverse_and_w2c_round_trip(seed, batch):
    cams = random_cameras(seed, batch, 3)
    w2c = g.c2w_to_w2c(cams.c2w)
    eye = torch.eye(4, dtype=torch.float64).expand_as(w2c)
    assert torch.allclose(w2c @ cams.c2w, eye, atol=1e-12)
    assert torch.allclose(g.w2c_to_c2w(w2c), cams.c2w, atol=1e-12)


def test_look_at_convention_pins():
    # Looking down +z from the origin with world up -y is the identity camera.
    c2w = g.look_at(torch.zeros(3, dtype=torch.float64), torch.tensor([0.0, 0.0, 5.0], dtype=torch.float64))
    assert torch.allclose(c2w, torch.eye(4, dtype=torch.float64), atol=1e-12)
    # Batched: the target always lies on the camera's +z axis, image-up (-y) leans to world up.
    eye = torch.tensor([[1.0, -2.0, 3.0], [-4.0, 0.5, 0.0]], dtype=torch.float64)
    tgt = torch.tensor([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]], dtype=torch.float64)
    T = g.look_at(eye, tgt)
    local = (torch.linalg.inv(T) @ torch.cat([tgt, torch.ones(2, 1, dtype=torch.float64)], -1)[..., None])[..., :3, 0]
    assert torch.allclose(local[:, :2], torch.zeros(2, 2, dtype=torch.float64), atol=1e-12)
    assert bool((local[:, 2] > 0).all())
    cam_up_world = -T[:, :3, 1]
    assert bool(((cam_up_world * torch.tensor(g.WORLD_UP, dtype=torch.float64)).sum(-1) > 0).all())
    with pytest.raises(ValueError, match="coincide"):
        g.look_at([0.0, 0.0, 0.0], [0.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="parallel"):
        g.look_at([0.0, 0.0, 0.0], [0.0, -1.0, 0.0])


def test_opengl_opencv_converter_pins():
    gl_identity = torch.eye(4, dtype=torch.float64)
    cv = g.opengl_to_opencv_c2w(gl_identity)
    assert torch.allclose(cv, torch.diag(torch.tensor([1.0, -1.0, -1.0, 1.0], dtype=torch.float64)))
    cams = random_cameras(4, (2,), 3)
    assert torch.allclose(g.opencv_to_opengl_c2w(g.opengl_to_opencv_c2w(cams.c2w)), cams.c2w)
    # The OpenGL camera's viewing direction (-z) equals the OpenCV camera's (+z).
    gl = g.opencv_to_opengl_c2w(cams.c2w)
    assert torch.allclose(-gl[..., :3, 2], cams.c2w[..., :3, 2])


def test_project_to_so3():
    R = g.axis_angle_to_matrix(torch.tensor([0.3, -0.2, 0.5], dtype=torch.float64))
    noisy = R + 1e-3 * torch.randn(3, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    P = g.project_to_so3(noisy)
    assert torch.allclose(P @ P.T, torch.eye(3, dtype=torch.float64), atol=1e-12)
    assert torch.linalg.det(P).item() == pytest.approx(1.0)
    assert g.relative_rotation_angle_deg(P, R).item() < 0.2


def test_chordal_mean_of_rotations():
    axis = torch.tensor([0.2, -0.9, 0.4], dtype=torch.float64)
    axis = axis / axis.norm()
    R = g.axis_angle_to_matrix(torch.stack([a * axis for a in (0.1, 0.5, 0.9)]))        # (3, 3, 3)
    # About one axis the mean is the mean angle; it is invariant to a common rotation on either side.
    assert torch.allclose(g.chordal_mean(R), g.axis_angle_to_matrix(0.5 * axis), atol=1e-12)
    A = g.axis_angle_to_matrix(torch.tensor([0.3, 0.1, -0.7], dtype=torch.float64))
    assert torch.allclose(g.chordal_mean(A @ R @ A.T), A @ g.chordal_mean(R) @ A.T, atol=1e-12)
    # Batched over other dims; the mean of identical rotations is that rotation.
    same = R[None].expand(4, 3, 3, 3)
    assert torch.allclose(g.chordal_mean(same, dim=0), R, atol=1e-12)
    assert g.chordal_mean(same, dim=1).shape == (4, 3, 3)
    with pytest.raises(ValueError, match="chordal_mean"):
        g.chordal_mean(R, dim=-1)
    with pytest.raises(ValueError, match="chordal_mean"):
        g.chordal_mean(torch.eye(3, dtype=torch.float64))
