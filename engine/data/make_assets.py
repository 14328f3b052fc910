"""Regenerate the example scenes in ``assets/scenes/`` (deterministic): ``python -m engine.data.make_assets``.

Each scene folder gets
    scene.json     how to rebuild it: ``make_scene(seed, kind)``, the trajectory style and seed, frame
                   size, fps and supersampling, plus bounds / free space / targets for a viewer
    clip.mp4       the rendered clip (H.264)
    poster.png     its first frame
    cameras.json   the ground-truth cameras (raxel-studio trajectory format, metres, OpenCV c2w)
    preview.ply    the scene as a coloured triangle mesh (per-face mean colours), for 3D previews
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from engine.media import save_video
from geometry import save_cameras

from .render import render
from .layouts import make_scene
from .trajectories import sample_trajectory

DEFAULT_OUT = Path(__file__).resolve().parents[2] / "assets" / "scenes"
NUM_FRAMES, WIDTH, HEIGHT, FPS, SUPERSAMPLE = 17, 128, 128, 8.0, 2

# (folder, scene seed, kind, trajectory style, description). Seeds are below TRAIN_SEED_START, i.e.
# held-out scenes: a model trained on ProceduralClips(split="train") has never seen them.
ASSET_SCENES: tuple[tuple[str, int, str, str, str], ...] = (
    ("living-room-walk", 11, "indoor", "re10k", "a room with furniture, walked through like a RealEstate10K clip"),
    ("study-orbit", 23, "indoor", "dl3dv", "a room circled around its content like a DL3DV capture"),
    ("hall-dolly-zoom", 7, "indoor", "dolly_zoom", "a dolly zoom (Vertigo shot) toward a piece of furniture"),
    ("plaza-orbit", 5, "outdoor", "orbit", "an outdoor plaza orbited around an object"),
    ("street-pan", 12, "outdoor", "pan", "an outdoor plaza seen by a camera panning in place"),
)


def make_asset(out: Path, name: str, seed: int, kind: str, style: str, description: str) -> dict:
    """Render one example scene into ``out / name``; returns its scene.json content."""
    folder = out / name
    folder.mkdir(parents=True, exist_ok=True)
    scene = make_scene(seed, kind)
    path = sample_trajectory(scene, NUM_FRAMES, rng=np.random.default_rng(seed), style=style, width=WIDTH,
                             height=HEIGHT, fps=FPS)
    frames = render(scene, path.cameras, supersample=SUPERSAMPLE, depth=False).uint8().numpy()
    save_video(frames, folder / "clip.mp4", fps=FPS)
    import imageio.v3 as iio

    iio.imwrite(folder / "poster.png", frames[0])
    meta = {"scene": name, "scene_seed": seed, "scene_kind": kind, "style": style, "units": "metres"}
    save_cameras(path.cameras, folder / "cameras.json", format="trajectory", fps=FPS, meta=meta)
    scene.to_trimesh().export(folder / "preview.ply")
    doc = {
        "name": name,
        "description": description,
        "scene": {"seed": seed, "kind": kind, "metric_scale": scene.metric_scale},
        "trajectory": {"style": path.style, "rng_seed": seed, "num_frames": NUM_FRAMES, "target": path.target.tolist()},
        "render": {"width": WIDTH, "height": HEIGHT, "fps": FPS, "supersample": SUPERSAMPLE},
        "bounds": scene.bounds.tolist(),
        "free_space": scene.free_space.tolist(),
        "targets": scene.targets.tolist(),
        "files": {"clip": "clip.mp4", "poster": "poster.png", "cameras": "cameras.json", "preview": "preview.ply"},
        "regenerate": "python -m engine.data.make_assets",
    }
    (folder / "scene.json").write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    return doc


def regenerate_trajectory(doc: dict):
    """The ground-truth path of an asset from its scene.json alone (what tests and the studio use)."""
    scene = make_scene(doc["scene"]["seed"], doc["scene"]["kind"])
    t, r = doc["trajectory"], doc["render"]
    path = sample_trajectory(scene, t["num_frames"], rng=np.random.default_rng(t["rng_seed"]), style=t["style"],
                             width=r["width"], height=r["height"], fps=r["fps"])
    return scene, path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default assets/scenes)")
    args = parser.parse_args(argv)
    for spec in ASSET_SCENES:
        make_asset(args.out, *spec)
        print(f"wrote {args.out / spec[0]}")


if __name__ == "__main__":
    main()
