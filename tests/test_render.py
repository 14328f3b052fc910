"""The CPU renderer (``engine.data.render``) and its scenes: exact depth and geometry against
analytic values, supersampling = rendering larger and box filtering, shading, textures, user meshes."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import geometry as g
from engine.data import BoxScene, Lighting, MeshScene, make_scene, render
from engine.data.textures import sample_atlas, texture_atlas


def _camera(eye, target, *, width=24, height=16, fov=60.0) -> g.Cameras:
    c2w = g.look_at(torch.tensor(eye, dtype=torch.float64), torch.tensor(target, dtype=torch.float64))
    return g.Cameras.from_fov(c2w[None], fov_y_deg=fov, width=width, height=height)


def _pixel_rays(cams: g.Cameras) -> tuple[torch.Tensor, torch.Tensor]:
    """World rays through pixel centres, written out independently of ``geometry.world_rays``:
    origin (N, 3) and unnormalised directions (N, H, W, 3) = R K^{-1} (x + 0.5, y + 0.5, 1)."""
    ys, xs = torch.meshgrid(torch.arange(cams.height) + 0.5, torch.arange(cams.width) + 0.5, indexing="ij")
    pix = torch.stack([xs, ys, torch.ones_like(xs)], -1).double()           # (H, W, 3)
    cam_dirs = torch.einsum("nij,hwj->nhwi", torch.linalg.inv(cams.K), pix)  # z component 1
    return cams.centers, torch.einsum("nij,nhwj->nhwi", cams.R, cam_dirs)


def test_depth_of_a_box_face_is_the_analytic_plane_distance():
    # One box whose near face is the plane z = 2 for |x|, |y| < 1; an oblique camera looks at it.
    scene = BoxScene.from_boxes([[-1.0, -1.0, 2.0]], [[1.0, 1.0, 3.0]])
    cams = _camera([0.4, -0.3, -1.0], [0.1, 0.2, 2.0])
    out = render(scene, cams)
    o, d = _pixel_rays(cams)                                                # d has camera z = 1
    t = (2.0 - o[0, 2]) / d[0, ..., 2]                                       # ray parameter at z = 2
    p = o[0] + t[..., None] * d[0]
    on_face = (p[..., 0].abs() < 1) & (p[..., 1].abs() < 1)
    assert 0.2 < float(on_face.float().mean()) < 0.95                       # both hits and misses
    depth = out.depth[0].double()
    # With camera-z-normalised directions, the z-depth is the ray parameter itself.
    torch.testing.assert_close(depth[on_face], t[on_face], rtol=1e-5, atol=1e-5)
    assert bool(torch.isinf(depth[~on_face]).all())


def test_every_rendered_point_lies_on_a_wall_and_projects_back_to_its_pixel():
    scene = make_scene(3, "indoor")
    eye = scene.free_space.mean(0)
    cams = _camera(eye.tolist(), scene.targets[0].tolist(), width=20, height=14)
    depth = render(scene, cams).depth[0].double()
    assert bool(torch.isfinite(depth).all())                                # a closed room: every ray hits
    o, d = _pixel_rays(cams)
    points = o[0] + depth[..., None] * d[0]                                 # (H, W, 3) world points
    # On the surface of some box: distance to the nearest face plane inside it is ~0.
    lo, hi = scene.lo.double(), scene.hi.double()
    p = points.reshape(-1, 1, 3)
    q = (p - (lo + hi) / 2).abs() - (hi - lo) / 2                           # (P, B, 3)
    surface = (q.clamp_min(0).norm(dim=-1) + q.amax(-1).clamp_max(0)).abs().amin(-1)
    assert float(surface.max()) < 1e-4
    # Project back through the camera model: the point lands on its own pixel centre.
    local = torch.einsum("ji,hwj->hwi", cams.R[0], points - cams.centers[0])
    uv = torch.einsum("ij,hwj->hwi", cams.K[0], local)
    uv = uv[..., :2] / uv[..., 2:]
    ys, xs = torch.meshgrid(torch.arange(14) + 0.5, torch.arange(20) + 0.5, indexing="ij")
    torch.testing.assert_close(uv, torch.stack([xs, ys], -1).double(), atol=1e-3, rtol=0)


def test_supersampling_equals_rendering_larger_and_box_filtering():
    scene = make_scene(4)
    cams = _camera(scene.free_space.mean(0).tolist(), scene.targets[-1].tolist(), width=12, height=10)
    small = render(scene, cams, supersample=2, depth=False).rgb
    large = render(scene, cams.resized(24, 20), depth=False).rgb
    torch.testing.assert_close(small, F.avg_pool2d(large, 2), atol=1e-5, rtol=0)
    # Asking for another size rescales K like Cameras.resized does.
    torch.testing.assert_close(render(scene, cams, width=24, height=20).rgb, large)


def test_lambert_shading_of_a_white_box():
    light = Lighting(torch.tensor([0.0, 0.6, 0.8]), torch.tensor([0.5, 0.4, 0.3]), torch.tensor([0.2, 0.2, 0.2]))
    scene = BoxScene.from_boxes([[-1.0, -1.0, 2.0]], [[1.0, 1.0, 3.0]], colours=[[1.0, 1.0, 1.0]], light=light)
    rgb = render(scene, _camera([0, 0, 0], [0, 0, 1], width=8, height=8, fov=30.0)).rgb[0]
    # The visible face has normal -z; light travels along (0, .6, .8), so cos = 0.8.
    want = torch.tensor([0.2, 0.2, 0.2]) + 0.8 * torch.tensor([0.5, 0.4, 0.3])
    torch.testing.assert_close(rgb[:, 4, 4], want, atol=1e-5, rtol=0)
    # Misses show the sky gradient only when the scene has one.
    sky_scene = BoxScene.from_boxes([[5.0, 5.0, 5.0]], [[6.0, 6.0, 6.0]], sky=[[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    up = render(sky_scene, _camera([0, 0, 0], [0, -1, 0.01], width=4, height=4, fov=10.0)).rgb[0, :, 2, 2]
    assert float(up[2]) > 0.9 and float(up[0]) < 0.1                      # looking up: the zenith colour


def test_texture_atlas_wraps_and_hits_texel_centres():
    rng = np.random.default_rng(0)
    textures = [torch.from_numpy(rng.random((3, 8, 8)).astype(np.float32)) for _ in range(3)]
    atlas = texture_atlas(textures)
    k = torch.tensor([0, 2, 1, 1])
    # Texel (row 3, col 5) centre is at uv ((5 + .5) / 8, (3 + .5) / 8); a whole tile further is the same.
    uv = torch.tensor([[5.5 / 8, 3.5 / 8], [5.5 / 8 + 1, 3.5 / 8 - 2], [0.0, 0.5 / 8], [1.0, 0.5 / 8]])
    got = sample_atlas(atlas, k, uv)
    torch.testing.assert_close(got[0], textures[0][:, 3, 5])
    torch.testing.assert_close(got[1], textures[2][:, 3, 5])
    # u = 0 is the edge between the last and first column: their mean, the same as at u = 1.
    torch.testing.assert_close(got[2], (textures[1][:, 0, 0] + textures[1][:, 0, 7]) / 2)
    torch.testing.assert_close(got[3], got[2])


def test_scenes_and_renders_are_deterministic_per_seed():
    a, b, c = make_scene(17), make_scene(17), make_scene(18)
    for name in ("lo", "hi", "face_texture", "face_tint", "atlas"):
        assert torch.equal(getattr(a, name), getattr(b, name))
    assert not (a.lo.shape == c.lo.shape and torch.equal(a.lo, c.lo))
    cams = _camera(a.free_space.mean(0).tolist(), a.targets[0].tolist(), width=8, height=8)
    assert torch.equal(render(a, cams).rgb, render(b, cams).rgb)


@pytest.mark.parametrize("kind", ["indoor", "outdoor"])
def test_procedural_scene_layout(kind):
    scene = make_scene(5, kind)
    assert scene.kind == kind and scene.metric_scale == 1.0
    free, bounds = scene.free_space, scene.bounds
    assert bool((free[0] >= bounds[0]).all() and (free[1] <= bounds[1]).all())
    assert float(free[1, 1]) < 0                                            # cameras above the floor (up = -y)
    assert len(scene.targets) >= 3
    assert bool(((scene.targets >= bounds[0] - 1e-6) & (scene.targets <= bounds[1] + 1e-6)).all())
    mesh = scene.to_trimesh()
    assert len(mesh.faces) == 12 * scene.num_boxes
    np.testing.assert_allclose(mesh.bounds[:, 1], [min(float(scene.lo[:, 1].min()), 0), float(scene.hi[:, 1].max())])


def _box_mesh_file(tmp_path, **visual):
    import trimesh

    mesh = trimesh.creation.box(bounds=[[-1.0, -1.0, 2.0], [1.0, 1.0, 3.0]])
    if "face_colors" in visual:
        mesh.visual.face_colors = visual["face_colors"]
    path = tmp_path / "box.ply"
    mesh.export(path)
    return path


def test_user_mesh_renders_with_exact_depth_like_the_analytic_box(tmp_path):
    path = _box_mesh_file(tmp_path, face_colors=np.tile([255, 0, 0, 255], (12, 1)))
    mesh_scene = MeshScene.load(path)
    box_scene = BoxScene.from_boxes([[-1.0, -1.0, 2.0]], [[1.0, 1.0, 3.0]])
    cams = _camera([0.4, -0.3, -1.0], [0.1, 0.2, 2.0])
    got, want = render(mesh_scene, cams), render(box_scene, cams)
    hit = torch.isfinite(want.depth)
    assert torch.equal(torch.isfinite(got.depth), hit)
    torch.testing.assert_close(got.depth[hit], want.depth[hit], atol=1e-4, rtol=1e-5)
    # Face colour red, shaded: no green or blue.
    red = got.rgb[0][:, hit[0]]
    assert float(red[0].min()) > 0.2 and float(red[1:].abs().max()) < 1e-6


def test_untextured_mesh_is_grey_and_bad_mesh_files_are_named(tmp_path):
    import trimesh

    path = tmp_path / "plain.obj"
    trimesh.creation.box(bounds=[[-1.0, -1.0, 2.0], [1.0, 1.0, 3.0]]).export(path)
    rgb = render(MeshScene.load(path), _camera([0, 0, 0], [0, 0, 1], width=4, height=4, fov=20.0)).rgb[0]
    assert float((rgb[0] - rgb[1]).abs().max()) < 1e-6 and float(rgb.min()) > 0.2
    bad = tmp_path / "broken.ply"
    bad.write_bytes(b"ply\nformat binary_little_endian 1.0\nelement vertex 99\nend_header\n\x00\x01")
    with pytest.raises(ValueError, match="broken.ply"):
        MeshScene.load(bad)
    with pytest.raises(ValueError, match="not found"):
        MeshScene.load(tmp_path / "missing.glb")


def test_textured_mesh_samples_its_image_with_trimesh_uv_convention(tmp_path):
    import trimesh
    from PIL import Image

    # A quad at z = 2 facing the camera, its UV spanning the 2 x 2 texture once.
    vertices = np.array([[-1.0, -1.0, 2.0], [1.0, -1.0, 2.0], [1.0, 1.0, 2.0], [-1.0, 1.0, 2.0]])
    faces = np.array([[0, 2, 1], [0, 3, 2]])
    uv = (vertices[:, :2] + 1) / 2
    texels = np.array([[[255, 0, 0], [0, 255, 0]], [[0, 0, 255], [255, 255, 255]]], dtype=np.uint8)
    image = Image.fromarray(texels)
    mesh = trimesh.Trimesh(vertices, faces, visual=trimesh.visual.TextureVisuals(uv=uv, image=image), process=False)
    path = tmp_path / "quad.glb"
    mesh.export(path)
    light = Lighting(torch.tensor([0.0, 0.0, 1.0]), torch.ones(3), torch.zeros(3))   # shade = albedo exactly
    scene = MeshScene.load(path, light=light)
    rgb = render(scene, _camera([0, 0, 0], [0, 0, 1], width=8, height=8, fov=45.0)).rgb[0]
    # Pixel centres at quadrant centres see uv (0.25 | 0.75, 0.25 | 0.75): compare with trimesh's lookup.
    o, d = _pixel_rays(_camera([0, 0, 0], [0, 0, 1], width=8, height=8, fov=45.0))
    for row, col in ((1, 1), (1, 6), (6, 1), (6, 6)):
        p = d[0, row, col] * 2.0 / d[0, row, col, 2]
        want = trimesh.visual.uv_to_color(((p[:2].numpy() + 1) / 2)[None], image)[0, :3] / 255.0
        np.testing.assert_allclose(rgb[:, row, col].numpy(), want, atol=0.02)


def test_rendered_depth_reprojects_one_frame_into_another():
    """Warp frame B into frame A with B's depth and both cameras: where the point is visible in A (its
    projected depth agrees with A's depth), A's colour at the projection equals B's colour."""
    from engine.data import sample_trajectory

    scene = make_scene(11, "indoor")
    traj = sample_trajectory(scene, 5, rng=np.random.default_rng(0), style="re10k", width=64, height=48)
    cams = traj.cameras[[0, 4]]
    out = render(scene, cams, dtype=torch.float64)
    rgb, depth = out.rgb.double(), out.depth.double()                        # (2, 3, H, W), (2, H, W)
    H, W = depth.shape[-2:]
    ys, xs = torch.meshgrid(torch.arange(H) + 0.5, torch.arange(W) + 0.5, indexing="ij")
    pix = torch.stack([xs, ys, torch.ones_like(xs)], -1).double()           # (H, W, 3)
    # Back-project B's pixels (z-depth) to the world, then into camera A.
    pts_cam_b = torch.einsum("ij,hwj->hwi", torch.linalg.inv(cams.K[1]), pix) * depth[1][..., None]
    pts_world = pts_cam_b @ cams.R[1].T + cams.centers[1]
    w2c_a = g.invert_pose(cams.c2w[0])
    pts_cam_a = pts_world @ w2c_a[:3, :3].T + w2c_a[:3, 3]
    proj = pts_cam_a @ cams.K[0].T
    uv = proj[..., :2] / proj[..., 2:3]                                      # pixel-edge coordinates in A
    grid = torch.stack([uv[..., 0] / W * 2 - 1, uv[..., 1] / H * 2 - 1], -1)[None]
    warped = F.grid_sample(rgb[:1], grid, mode="bilinear", align_corners=False)[0]
    depth_a = F.grid_sample(depth[:1, None].clamp(max=1e3), grid, mode="nearest", align_corners=False)[0, 0]
    inside = (grid.abs() < 0.95).all(-1)[0] & torch.isfinite(depth[1]) & (pts_cam_a[..., 2] > 0.1)
    visible = inside & ((depth_a - pts_cam_a[..., 2]).abs() < 0.02 * pts_cam_a[..., 2])
    assert float(visible.float().mean()) > 0.3                               # a real overlap, not a corner
    err = (warped - rgb[1]).abs().mean(0)[visible]
    # Bilinear sampling of textures across pixels leaves a small residual; a wrong camera or depth
    # convention gives errors of the order of the colours themselves (~0.2-0.5).
    assert float(err.mean()) < 0.06, float(err.mean())
