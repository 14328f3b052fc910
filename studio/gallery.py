"""The examples gallery: bundled scenes (``assets/scenes/``) and RealEstate10K clips with their poses.

A scene is a folder (or a group of files sharing a name) holding some of: a description JSON
(``scene.json``: ``name``, ``description``, and paths to ``clip``, ``cameras``, ``preview``), a clip
(``.mp4`` / ``.gif`` or a ``frames/`` folder), ground-truth cameras (any format ``geometry`` reads)
and a preview mesh or point cloud (``.ply`` / ``.glb`` / ``.obj``). Missing pieces are found by
extension; an empty or missing folder just gives no scene examples.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from geometry.io import detect_format

from .config import StudioConfig

DESCRIPTION_NAMES = ("scene.json", "description.json", "meta.json", "info.json")
CLIP_SUFFIXES = (".mp4", ".gif", ".webm", ".mov")
MESH_SUFFIXES = (".glb", ".gltf", ".ply", ".obj", ".stl", ".off")
KEYS = {"clip": ("clip", "video", "frames", "rgb"), "cameras": ("cameras", "trajectory", "gt", "poses", "camera_file"),
        "preview": ("preview", "mesh", "point_cloud", "pointcloud", "geometry"), "poster": ("poster", "thumbnail")}


@dataclass
class Example:
    """One gallery entry. Paths may be None when the example lacks that piece."""

    key: str
    title: str
    description: str
    clip: Path | None
    cameras: Path | None
    preview: Path | None
    kind: str                    # "scene" or "clip"
    poster: Path | None = None   # a still for the gallery (else the clip's first frame)
    look_at: tuple[float, float, float] | None = None

    @property
    def caption(self) -> str:
        return self.title + (" (ground truth)" if self.cameras is not None else "")

    def thumbnail(self, size: int = 128) -> np.ndarray:
        """First frame of the clip (or a grey tile)."""
        from .media import thumbnail

        if self.poster is not None:
            try:
                import imageio.v3 as iio

                return thumbnail(np.asarray(iio.imread(self.poster))[..., :3].astype(np.uint8), size)
            except Exception:
                pass
        if self.clip is not None:
            try:
                import imageio.v3 as iio

                if self.clip.is_dir():
                    first = sorted(p for p in self.clip.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg"))[0]
                    frame = iio.imread(first)
                else:
                    frame = next(iter(iio.imiter(self.clip)))
                return thumbnail(np.asarray(frame)[..., :3].astype(np.uint8), size)
            except Exception:
                pass
        return np.full((size, size, 3), 200, np.uint8)


def _is_camera_file(path: Path) -> bool:
    if path.name in DESCRIPTION_NAMES:
        return False
    try:
        return detect_format(path) in ("trajectory", "nerfstudio_path", "transforms", "re10k", "colmap")
    except (ValueError, OSError):
        return False


def _read_description(folder: Path, files: list[Path]) -> dict:
    for p in files:
        if p.name in DESCRIPTION_NAMES:
            try:
                doc = json.loads(p.read_text())
                return doc if isinstance(doc, dict) else {}
            except (OSError, ValueError):
                return {}
    return {}


def _pick(desc: dict, key: str, folder: Path) -> Path | None:
    """A file named by the description: top-level keys, or a ``files`` table."""
    tables = [desc] + ([desc["files"]] if isinstance(desc.get("files"), dict) else [])
    for table in tables:
        for name in KEYS[key]:
            value = table.get(name)
            if isinstance(value, str) and (folder / value).exists():
                return folder / value
    return None


def _look_at(desc: dict) -> tuple[float, float, float] | None:
    """The scene's look-at point: ``trajectory.target``, else the first of ``targets``."""
    candidates = [(desc.get("trajectory") or {}).get("target") if isinstance(desc.get("trajectory"), dict) else None,
                  (desc.get("targets") or [None])[0] if isinstance(desc.get("targets"), list) else None]
    for c in candidates:
        try:
            p = tuple(float(v) for v in c)
            if len(p) == 3:
                return p
        except (TypeError, ValueError):
            continue
    return None


def _title(key: str) -> str:
    words = key.replace("_", " ").replace("-", " ").strip()
    return words[:1].upper() + words[1:]


def _scene_from_files(key: str, folder: Path, files: list[Path]) -> Example | None:
    desc = _read_description(folder, files)
    clip = _pick(desc, "clip", folder) or next((p for p in files if p.suffix.lower() in CLIP_SUFFIXES), None)
    if clip is None and (folder / "frames").is_dir():
        clip = folder / "frames"
    cameras = _pick(desc, "cameras", folder) or next(
        (p for p in files if p.suffix.lower() in (".json", ".txt") and _is_camera_file(p)), None)
    preview = _pick(desc, "preview", folder) or next((p for p in files if p.suffix.lower() in MESH_SUFFIXES), None)
    if clip is None and preview is None:
        return None
    poster = _pick(desc, "poster", folder) or next((p for p in files if p.stem == "poster"), None)
    title = str(desc.get("title") or _title(str(desc.get("name") or key)))
    return Example(f"scene:{key}", title, str(desc.get("description", "")), clip, cameras, preview, "scene",
                   poster, _look_at(desc))


def scene_examples(scenes_dir: Path) -> list[Example]:
    if not scenes_dir.is_dir():
        return []
    out: list[Example] = []
    loose: dict[str, list[Path]] = {}
    for entry in sorted(scenes_dir.iterdir()):
        if entry.is_dir():
            ex = _scene_from_files(entry.name, entry, sorted(p for p in entry.iterdir() if p.is_file()))
            if ex is not None:
                out.append(ex)
        elif entry.is_file():
            loose.setdefault(entry.stem.split(".")[0], []).append(entry)
    for stem, files in sorted(loose.items()):
        ex = _scene_from_files(stem, scenes_dir, files)
        if ex is not None:
            out.append(ex)
    return out


def clip_examples(dirs: tuple[Path, ...]) -> list[Example]:
    """RealEstate10K-layout clips: ``ID.mp4`` beside ``ID.txt``."""
    out, seen = [], set()
    for d in dirs:
        if not d.is_dir():
            continue
        for video in sorted(d.glob("*.mp4")):
            poses = video.with_suffix(".txt")
            if video.stem in seen or not poses.exists():
                continue
            seen.add(video.stem)
            out.append(Example(f"clip:{video.stem}", f"RealEstate10K {video.stem[:8]}",
                               "A real clip with its RealEstate10K camera poses (out of the tiny model's domain).",
                               video, poses, None, "clip"))
    return out


def discover_examples(config: StudioConfig) -> list[Example]:
    """Scene examples first, then real clips."""
    return scene_examples(config.scenes_dir) + clip_examples(config.clip_dirs)
