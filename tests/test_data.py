"""Training data (``engine.data``): camera paths in procedural scenes, the example builder, the
procedural dataset (seeds, workers, resuming), the real-clip loaders, and the shipped example assets."""

import json
import shutil
import warnings
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

import geometry as g
from engine.camera_codec import RAY_RANGE_SCALE
from engine.config import ClipConfig
from engine.data import (HELDOUT_SEEDS, STYLES, ColmapScenes, ProceduralClips, Re10kClips, TransformsScenes,
                         build_example, check_trajectory, collate_examples, make_scene, render, sample_trajectory,
                         train_scene_seed)
from engine.data.make_assets import ASSET_SCENES, regenerate_trajectory
from engine.media import resize_center_crop

RE10K = Path(__file__).parent / "data" / "re10k"
ASSETS = Path(__file__).parents[1] / "assets" / "scenes"
SMALL = ClipConfig(num_frames=5, height=16, width=16, num_cond=3)


def _relative_rotations(c2w: torch.Tensor) -> torch.Tensor:
    """R_i^T R_j for all pairs (N, N, 3, 3): invariant to the reference frame and to any scale."""
    R = c2w[..., :3, :3].double()
    return torch.einsum("iba,jbc->ijac", R, R)


# --------------------------------------------------------------------------------------
# Camera paths
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("style", STYLES)
def test_paths_stay_in_free_space_and_look_at_content(style):
    scene = make_scene(40 + STYLES.index(style))
    path = sample_trajectory(scene, 9, rng=np.random.default_rng(1), style=style, width=32, height=24)
    cams = path.cameras
    assert cams.batch_shape == (9,) and (cams.width, cams.height) == (32, 24)
    assert path.style == style or path.attempts == 0                        # the fallback is a pan
    box = scene.free_space
    assert bool(((cams.centers >= box[0] - 1e-9) & (cams.centers <= box[1] + 1e-9)).all())
    assert float(scene.clearance(cams.centers).min()) >= 0.25               # no camera inside geometry
    depth = render(scene, cams, depth=True).depth                           # every frame sees content
    assert float(torch.isfinite(depth).float().mean((1, 2)).min()) >= 0.5
    if style not in ("re10k", "pan", "truck", "pedestal") and path.attempts:
        assert check_trajectory(scene, cams, target=path.target) == []      # the target stays in view


def test_paths_are_deterministic_per_seed():
    scene = make_scene(3)
    a = sample_trajectory(scene, 9, rng=np.random.default_rng(5))
    b = sample_trajectory(scene, 9, rng=np.random.default_rng(5))
    c = sample_trajectory(scene, 9, rng=np.random.default_rng(6))
    assert torch.equal(a.cameras.c2w, b.cameras.c2w) and a.style == b.style
    assert not torch.equal(a.cameras.c2w, c.cameras.c2w)


def test_paths_from_a_given_view_start_there_and_vary_only_in_the_move():
    scene = make_scene(3)
    first = sample_trajectory(scene, 9, rng=np.random.default_rng(5), style="orbit", fov_y_deg=50.0)
    eye = first.cameras.centers[0].double()
    again = [sample_trajectory(scene, 9, rng=np.random.default_rng(k), style="orbit", fov_y_deg=50.0, eye=eye,
                               target=first.target) for k in (7, 8)]
    for path in again:
        assert path.attempts > 0                                               # not the fallback pan
        assert torch.allclose(path.cameras.c2w[0], first.cameras.c2w[0], atol=1e-9)   # the same first view
        assert check_trajectory(scene, path.cameras, target=first.target) == []
    assert not torch.allclose(again[0].cameras.c2w, again[1].cameras.c2w)      # a new move each draw


def test_kind_styles_tie_the_move_to_what_the_scene_is(monkeypatch):
    """``kind_styles`` (ours, an experiment): indoor scenes get walks, pans and slides, outdoor scenes arcs and
    orbits, each with its training weight; off by default; not together with ``styles``."""
    from engine.data import KIND_STYLES, style_for_kind
    from engine.data.trajectories import STYLE_WEIGHTS
    import engine.data.datasets as datasets

    rng = np.random.default_rng(0)
    draws = [style_for_kind("outdoor", rng) for _ in range(4000)]
    assert set(draws) == set(KIND_STYLES["outdoor"])
    w = {n: STYLE_WEIGHTS[n] for n in KIND_STYLES["outdoor"]}
    assert draws.count("dl3dv") / 4000 == pytest.approx(w["dl3dv"] / sum(w.values()), abs=0.03)
    assert not set(KIND_STYLES["indoor"]) & set(KIND_STYLES["outdoor"])
    assert set(KIND_STYLES["indoor"]) | set(KIND_STYLES["outdoor"]) == set(STYLES)
    with pytest.raises(ValueError, match="scene kind must be one of"):
        style_for_kind("forest", rng)

    asked = []
    real = datasets.sample_trajectory

    def spy(scene, n, *, style=None, **kw):
        asked.append((scene.kind, style))
        return real(scene, n, style=style, **kw)

    monkeypatch.setattr(datasets, "sample_trajectory", spy)
    clip = ClipConfig(num_frames=5, height=16, width=16)
    for n in range(6):
        ProceduralClips(clip, kind_styles=True, supersample=1).example(n)
        ProceduralClips(clip, supersample=1).example(n)
    tied, free = asked[0::2], asked[1::2]
    assert all(style in KIND_STYLES[kind] for kind, style in tied) and {k for k, _ in tied} == {"indoor", "outdoor"}
    assert all(style is None for _, style in free)                     # off: drawn inside, from every style
    with pytest.raises(ValueError, match="give it or styles, not both"):
        ProceduralClips(clip, kind_styles=True, styles=("pan",))


def test_check_trajectory_rejects_cameras_in_geometry_and_lost_targets():
    scene = make_scene(3, "indoor")
    cabinet = next(i for i, label in enumerate(scene.box_labels) if label in ("cabinet", "sofa", "pillar"))
    centre = ((scene.lo[cabinet] + scene.hi[cabinet]) / 2).double()
    target = scene.targets[0]
    through = g.trajectory.truck(eye=centre + torch.tensor([0.0, 0.0, 0.01]), target=target, num_frames=5,
                                 distance=0.2)
    assert any("from geometry" in p for p in check_trajectory(scene, through))
    eye = scene.free_space.mean(0)
    away = g.trajectory.static(eye=eye, target=2 * eye - target, num_frames=3)   # looking the other way
    assert any("target leaves the view" in p for p in check_trajectory(scene, away, target=target))


# --------------------------------------------------------------------------------------
# Example builder
# --------------------------------------------------------------------------------------

def _clip(seed=2, frames=12, width=48, height=32, style="orbit"):
    scene = make_scene(seed)
    path = sample_trajectory(scene, frames, rng=np.random.default_rng(seed), style=style, width=width, height=height)
    return render(scene, path.cameras, depth=False).uint8().numpy(), path.cameras


def test_example_shapes_ranges_and_reference_slot():
    frames, cams = _clip()
    clip = ClipConfig(num_frames=9, height=16, width=16, num_cond=3)
    ex = build_example(frames, cams, clip, rng=np.random.default_rng(0), raxel_downsample=2, max_stride=3)
    assert ex["video"].shape == (3, 9, 16, 16) and ex["video"].dtype == torch.float32
    assert ex["rays"].shape == (9, 3, 8, 8) and ex["rays"].dtype == torch.float32
    assert ex["cond_idx"].shape == (3,) and ex["cond_idx"].dtype == torch.long
    assert ex["num_sources"].shape == () and 1 <= int(ex["num_sources"]) <= 3
    assert len(set(ex["cond_idx"].tolist())) == 3 and int(ex["cond_idx"].max()) < 9
    for key in ("video", "rays"):
        assert float(ex[key].abs().max()) <= 1.0
    ref = int(ex["cond_idx"][0])
    # Slot 0 is the reference: identity pose, and its ray image is the bare bundle of its K.
    torch.testing.assert_close(ex["c2w"][ref], torch.eye(4), atol=1e-6, rtol=0)
    K_grid = g.scale_intrinsics(ex["K"][ref].double(), 0.5, 0.5)
    bundle = g.camera_ray_bundle(K_grid, 8, 8).permute(2, 0, 1) * RAY_RANGE_SCALE
    torch.testing.assert_close(ex["rays"][ref].double(), bundle, atol=1e-6, rtol=0)
    # Metric clip inside the unit ball or shrunk onto it.
    assert float(ex["c2w"][:, :3, 3].norm(dim=-1).max()) <= 1 + 1e-5
    # The video is the frames resized and centre-cropped (48x32 -> 24x16 -> crop 16 wide).
    rng = np.random.default_rng(0)
    from engine.data import sample_frame_window
    idx = sample_frame_window(12, 9, rng, max_stride=3)
    reverse = rng.random() < 0.5
    want, crop = resize_center_crop(torch.from_numpy(frames[idx]).permute(0, 3, 1, 2).float() / 127.5 - 1, 16, 16)
    want = want.flip(0) if reverse else want
    torch.testing.assert_close(ex["video"], want.permute(1, 0, 2, 3), atol=1e-5, rtol=0)
    torch.testing.assert_close(ex["K"][0].double(), crop.to_model_intrinsics(cams.K[0]), atol=1e-4, rtol=0)


def test_time_reversal_reverses_frames_and_cameras():
    frames, cams = _clip(style="zoom")                                      # zoom: K differs per frame
    clip = ClipConfig(num_frames=9, height=16, width=16, num_cond=3)
    fwd = build_example(frames, cams, clip, rng=np.random.default_rng(3), reverse_prob=0.0, frame_idx=np.arange(9))
    rev = build_example(frames, cams, clip, rng=np.random.default_rng(3), reverse_prob=1.0, frame_idx=np.arange(9))
    torch.testing.assert_close(rev["video"], fwd["video"].flip(1))
    torch.testing.assert_close(rev["K"], fwd["K"].flip(0))
    torch.testing.assert_close(_relative_rotations(rev["c2w"]), _relative_rotations(fwd["c2w"]).flip(0, 1),
                               atol=1e-5, rtol=0)
    assert not torch.allclose(rev["video"], fwd["video"])


def test_unknown_scale_is_normalised_and_bad_input_is_named():
    frames, cams = _clip()
    ex = build_example(frames, cams, SMALL, rng=np.random.default_rng(1), metric_scale=None)
    torch.testing.assert_close(ex["c2w"][:, :3, 3].norm(dim=-1).max(), torch.tensor(1.0), atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="12 frames but cameras"):
        build_example(frames, cams[:5], SMALL, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="an example needs 5"):
        build_example(frames[:3], cams[:3], SMALL, rng=np.random.default_rng(0))


def test_collate_stacks_and_names_mismatches():
    frames, cams = _clip()
    a = build_example(frames, cams, SMALL, rng=np.random.default_rng(0))
    b = build_example(frames, cams, SMALL, rng=np.random.default_rng(1))
    batch = collate_examples([a, b])
    assert batch["video"].shape == (2, 3, 5, 16, 16) and batch["num_sources"].shape == (2,)
    b["rays"] = b["rays"][:, :, :8]
    with pytest.raises(ValueError, match="'rays' of example 1"):
        collate_examples([a, b])


# --------------------------------------------------------------------------------------
# Procedural dataset
# --------------------------------------------------------------------------------------

def test_heldout_seeds_never_appear_in_training():
    train = {train_scene_seed(s, n) for s in range(3) for n in range(3000)}
    assert not train & set(HELDOUT_SEEDS)
    held = ProceduralClips(SMALL, split="heldout")
    assert held.num_examples == len(HELDOUT_SEEDS)
    assert [held.scene_seed(n) for n in range(3)] == [0, 1, 2]
    assert {seed for _, seed, *_ in ASSET_SCENES} <= set(HELDOUT_SEEDS)
    # The evaluation set does not depend on the training stream's seed.
    torch.testing.assert_close(ProceduralClips(SMALL, split="heldout", seed=1).example(4),
                               ProceduralClips(SMALL, split="heldout", seed=2).example(4))


def test_procedural_stream_is_the_same_for_any_workers_and_resumes_exactly():
    ds = ProceduralClips(SMALL, seed=7, chunk=2, num_examples=8, supersample=1)
    loader = lambda d, w: DataLoader(d, batch_size=2, num_workers=w, collate_fn=collate_examples)  # noqa: E731
    serial = list(loader(ds, 0))
    parallel = list(loader(ds, 2))
    assert len(serial) == len(parallel) == 4
    for a, b in zip(serial, parallel):
        torch.testing.assert_close(a, b)
    assert not torch.equal(serial[0]["video"][0], serial[0]["video"][1])   # workers make different data
    resumed = next(iter(loader(ProceduralClips(SMALL, seed=7, chunk=2, start=4, num_examples=8, supersample=1), 0)))
    torch.testing.assert_close(resumed, serial[2])


# --------------------------------------------------------------------------------------
# Real clips
# --------------------------------------------------------------------------------------

def test_re10k_folder_skips_clips_without_video_and_reads_the_one_with_it():
    with pytest.warns(UserWarning, match="no video") as caught:
        ds = Re10kClips(RE10K, SMALL, epochs=1)
    assert len(caught) == 2 and ds.num_skipped == 2
    assert set(ds.skipped) == {"0bf152ef84195293", "0c11dbe781b1c11c"}
    examples = list(ds)
    assert len(examples) == 1
    ex = examples[0]
    assert ex["video"].shape == (3, 5, 16, 16) and ex["rays"].shape == (5, 3, 16, 16)
    # K on the model grid: the file's rule at 384x256, then resize to 24x16 and crop 4 px each side.
    K = g.load_cameras(RE10K / "0c9b371cc6225682.txt").K[0]
    s = 16 / 256
    want = torch.tensor([[K[0, 0] * s, 0, K[0, 2] * s - 4], [0, K[1, 1] * s, K[1, 2] * s], [0, 0, 1]])
    torch.testing.assert_close(ex["K"][0], want.float(), atol=1e-4, rtol=0)


def test_corrupt_videos_and_bad_pose_files_are_skipped_with_warnings(tmp_path):
    good = "0c9b371cc6225682"
    shutil.copy(RE10K / f"{good}.txt", tmp_path)
    shutil.copy(RE10K / f"{good}.mp4", tmp_path)
    shutil.copy(RE10K / f"{good}.txt", tmp_path / "corrupt.txt")
    (tmp_path / "corrupt.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8)
    lines = (RE10K / f"{good}.txt").read_text().splitlines()
    lines[3] = lines[3].rsplit(" ", 1)[0]                                   # one number short on line 4
    (tmp_path / "badpose.txt").write_text("\n".join(lines) + "\n")
    shutil.copy(RE10K / f"{good}.mp4", tmp_path / "badpose.mp4")
    ds = Re10kClips(tmp_path, SMALL, epochs=2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        examples = list(ds)
    assert len(examples) == 2                                               # the good clip, both passes
    assert ds.num_skipped == 2
    assert "cannot be decoded" in ds.skipped["corrupt"]
    assert "badpose.txt, line 4" in ds.skipped["badpose"]
    assert sum("skipping clip" in str(w.message) for w in caught) == 2      # one warning per bad clip


def _render_scene_clip(n=10, width=48, height=32, seed=9):
    scene = make_scene(seed, "indoor")
    path = sample_trajectory(scene, n, rng=np.random.default_rng(seed), style="dl3dv", width=width, height=height)
    frames = render(scene, path.cameras, depth=False).uint8().numpy()
    return frames, path.cameras


def _check_against_ground_truth(ex, cams: g.Cameras):
    """The example's canonical poses are the ground truth's relative poses, up to the clip's scale."""
    T = ex["c2w"].shape[0]
    c2w = ex["c2w"].double()
    # Whatever window was drawn, relative rotations match some window of the ground truth.
    R = _relative_rotations(c2w)
    windows = [np.arange(s, s + st * T, st) for st in (1, 2) for s in range(len(cams) - st * (T - 1))]
    errors = [float((R - _relative_rotations(cams.c2w[torch.as_tensor(w)])).abs().max()) for w in windows]
    assert min(errors) < 1e-4


def test_colmap_scene_loader_on_a_rendered_scene(tmp_path):
    frames, cams = _render_scene_clip()
    root = tmp_path / "room"
    names = [f"img_{i:03d}.png" for i in range(len(frames))]
    (root / "images").mkdir(parents=True)
    for name, frame in zip(names, frames):
        iio.imwrite(root / "images" / name, frame)
    g.save_cameras(cams, root / "sparse" / "0", format="colmap", image_names=names)
    (root / "scale.json").write_text("1.0")
    ds = ColmapScenes(root, SMALL, epochs=1)
    ex = next(iter(ds))
    assert ex["video"].shape == (3, 5, 16, 16)
    _check_against_ground_truth(ex, cams)
    assert ds.entries[0].metric_scale == 1.0
    # Scaled by the metric scale: poses in metres, inside the unit ball unless the path is larger.
    unit_ball = float(ex["c2w"][:, :3, 3].norm(dim=-1).max())
    assert unit_ball <= 1 + 1e-5
    # A scene folder that is not a COLMAP scene is skipped with a warning.
    with pytest.warns(UserWarning, match="not a COLMAP scene"):
        assert ColmapScenes([root, tmp_path / "nothing"], SMALL).num_skipped == 1


def test_transforms_scene_loader_on_a_rendered_scene(tmp_path):
    frames, cams = _render_scene_clip(seed=13)
    root = tmp_path / "capture"
    paths = [f"images/frame_{i + 1:05d}.png" for i in range(len(frames))]
    (root / "images").mkdir(parents=True)
    for p, frame in zip(paths, frames):
        iio.imwrite(root / p, frame)
    g.save_cameras(cams, root / "transforms.json", file_paths=paths)
    ex = next(iter(TransformsScenes(root, SMALL, epochs=1)))
    _check_against_ground_truth(ex, cams)
    # No scale.json: unknown units, so the window is normalised to the unit sphere.
    torch.testing.assert_close(ex["c2w"][:, :3, 3].norm(dim=-1).max(), torch.tensor(1.0), atol=1e-5, rtol=0)
    # A frame image that went missing is reported, not crashed on.
    for p in paths:
        (root / p).unlink()
    ds = TransformsScenes(root, SMALL, epochs=1)
    with pytest.warns(UserWarning, match="skipping clip capture"):
        assert list(ds) == []


def test_re10k_frame_folder_layout_round_trips_rendered_cameras(tmp_path):
    frames, cams = _render_scene_clip(seed=21)
    (tmp_path / "clipA").mkdir()
    for i, frame in enumerate(frames):
        iio.imwrite(tmp_path / "clipA" / f"{i:04d}.png", frame)
    g.save_cameras(cams, tmp_path / "clipA.txt")
    (tmp_path / "scale.json").write_text(json.dumps({"clipA": 1.0}))
    ds = Re10kClips(tmp_path, SMALL, epochs=1)
    assert ds.entries[0].metric_scale == 1.0
    ex = next(iter(ds))
    _check_against_ground_truth(ex, cams)


# --------------------------------------------------------------------------------------
# Shipped example scenes
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", [spec[0] for spec in ASSET_SCENES])
def test_example_assets_regenerate_from_their_description(name):
    import trimesh

    folder = ASSETS / name
    doc = json.loads((folder / "scene.json").read_text())
    scene, path = regenerate_trajectory(doc)
    shipped = g.load_cameras(folder / "cameras.json")
    torch.testing.assert_close(shipped.c2w, path.cameras.c2w, atol=1e-9, rtol=0)
    torch.testing.assert_close(shipped.K, path.cameras.K, atol=1e-9, rtol=0)
    video = iio.imread(folder / "clip.mp4")
    assert video.shape == (doc["trajectory"]["num_frames"], doc["render"]["height"], doc["render"]["width"], 3)
    # Frame 0 of the clip is the scene seen from camera 0: compared at a quarter of the size (each
    # pixel the mean of 4 x 4 rays vs of 4 x 4 decoded pixels), which keeps the test fast.
    small = render(scene, shipped[:1], width=32, height=32, supersample=4, depth=False).rgb[0]
    decoded = torch.nn.functional.avg_pool2d(torch.from_numpy(video[0]).permute(2, 0, 1).double() / 255, 4)
    assert float((small.double() - decoded).abs().mean()) < 0.03             # H.264 loses a little
    mesh = trimesh.load(folder / "preview.ply", force="mesh")
    np.testing.assert_allclose(mesh.bounds[:, [0, 2]], scene.bounds.numpy()[:, [0, 2]], atol=1e-4)
