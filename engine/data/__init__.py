"""Training data: procedural scenes, a CPU renderer, camera paths, the example builder and datasets.

- ``layouts``: ``make_scene(seed, kind)`` -> ``BoxScene`` (indoor rooms, outdoor plazas; metres, up = -y).
- ``scenes``: ``BoxScene``: boxes with textured faces, exact ray tracing (slab method).
- ``textures``: photos bundled with scikit-image and procedural patterns.
- ``render``: ``render(scene, cameras)`` -> RGB + depth, exact to the camera model.
- ``meshes``: ``MeshScene.load(path)`` renders a user's mesh (glb / obj / ply) through trimesh.
- ``trajectories``: ``sample_trajectory(scene, n, rng=...)``: RealEstate10K / DL3DV-like paths and
  presets, kept in free space and aimed at content.
- ``examples``: ``build_example(frames, cameras, clip, rng=...)`` (paper section 3.1) and ``collate_examples``.
- ``datasets``: ``ProceduralClips`` (endless, held-out seeds split off).
- ``real_clips``: ``Re10kClips``, ``ColmapScenes``, ``TransformsScenes`` (streaming real clips).
- ``stream``: numbered, worker-aware, resumable streams shared by both.
- ``make_assets``: ``python -m engine.data.make_assets`` regenerates ``assets/scenes/``.
"""

from .datasets import HELDOUT_SEEDS, TRAIN_SEED_START, ProceduralClips, train_scene_seed
from .real_clips import ColmapScenes, Re10kClips, TransformsScenes, read_scales
from .examples import EXAMPLE_KEYS, build_example, choose_slots, collate_examples, sample_frame_window
from .meshes import MeshScene
from .render import RenderResult, render
from .layouts import SCENE_KINDS, make_scene
from .scenes import BoxScene, Hits, Lighting
from .trajectories import KIND_STYLES, STYLES, Trajectory, check_trajectory, sample_trajectory, style_for_kind

__all__ = [
    "make_scene", "BoxScene", "Lighting", "Hits", "SCENE_KINDS", "MeshScene",
    "render", "RenderResult",
    "sample_trajectory", "check_trajectory", "Trajectory", "STYLES", "KIND_STYLES", "style_for_kind",
    "build_example", "collate_examples", "sample_frame_window", "choose_slots", "EXAMPLE_KEYS",
    "ProceduralClips", "Re10kClips", "ColmapScenes", "TransformsScenes", "HELDOUT_SEEDS", "TRAIN_SEED_START",
    "train_scene_seed", "read_scales",
]
