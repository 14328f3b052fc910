"""``SceneContext``: what the viewport shows around the path: an example scene's mesh or point cloud."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

MAX_PREVIEW_POINTS = 200_000


@dataclass
class SceneContext:
    """A mesh (vertices, faces, vertex colours) or a point cloud (points, colours), world units."""

    name: str
    vertices: np.ndarray | None = None      # (V, 3) float32
    faces: np.ndarray | None = None         # (F, 3) int32
    points: np.ndarray | None = None        # (P, 3) float32
    colors: np.ndarray | None = None        # (V or P, 3) uint8
    mesh: object | None = None              # the trimesh object, kept for ray picking and textured drawing

    face_colors: np.ndarray | None = None   # (F, 3) uint8, when the file colours faces

    def face_groups(self, max_groups: int = 48) -> list[tuple[tuple[int, int, int], np.ndarray]]:
        """Faces grouped by colour (quantised if there are many), so each group draws as one plain mesh with
        single-sided faces: a room whose walls face inward stays see-through from outside."""
        if self.faces is None:
            return []
        cols = self.face_colors
        if cols is None and self.colors is not None:
            cols = self.colors[self.faces].mean(axis=1).astype(np.uint8)
        if cols is None:
            return [((180, 180, 190), self.faces)]
        step = 1
        while len(np.unique(cols // step * step, axis=0)) > max_groups:
            step *= 2
        q = cols // step * step
        keys, inverse = np.unique(q, axis=0, return_inverse=True)
        return [(tuple(int(c) for c in keys[i]), self.faces[inverse.ravel() == i]) for i in range(len(keys))]

    @property
    def bounds(self) -> np.ndarray | None:
        pts = self.vertices if self.vertices is not None else self.points
        if pts is None or not len(pts):
            return None
        return np.stack([pts.min(0), pts.max(0)])

    def pick(self, origin: np.ndarray, direction: np.ndarray) -> np.ndarray | None:
        """First point of the scene hit by a ray (mesh: exact; points: nearest point to the ray)."""
        if self.mesh is not None and hasattr(self.mesh, "ray"):
            locs, idx_ray, _ = self.mesh.ray.intersects_location(origin[None], direction[None], multiple_hits=False)
            if len(locs):
                return np.asarray(locs[np.argmin(np.linalg.norm(locs - origin, axis=1))], dtype=np.float64)
        if self.points is not None and len(self.points):
            d = direction / np.linalg.norm(direction)
            rel = self.points.astype(np.float64) - origin
            along = rel @ d
            dist = np.linalg.norm(rel - along[:, None] * d, axis=1)
            ok = along > 0
            if ok.any():
                dist = np.where(ok, dist / np.maximum(along, 1e-9), np.inf)   # angular distance
                return self.points[int(np.argmin(dist))].astype(np.float64)
        return None


def load_scene_context(path: str | Path, name: str | None = None) -> SceneContext:
    """Read a .ply / .glb / .obj ... with trimesh into a ``SceneContext``; raises ValueError if unreadable."""
    import trimesh

    path = Path(path)
    try:
        loaded = trimesh.load(path, force=None)
    except Exception as exc:
        raise ValueError(f"{path.name}: cannot read the scene preview ({type(exc).__name__})") from exc
    name = name or path.stem
    if isinstance(loaded, trimesh.Scene):
        geoms = [g for g in loaded.dump() if hasattr(g, "vertices")] if hasattr(loaded, "dump") else []
        meshes = [g for g in geoms if isinstance(g, trimesh.Trimesh)]
        if meshes:
            loaded = trimesh.util.concatenate(meshes)
        elif geoms:
            loaded = geoms[0]
    if isinstance(loaded, trimesh.Trimesh) and len(loaded.faces):
        colors = face_colors = None
        try:
            visual = loaded.visual.to_color()
            if visual.kind == "face":
                face_colors = np.asarray(visual.face_colors)[:, :3].astype(np.uint8)
            elif visual.kind == "vertex":
                colors = np.asarray(visual.vertex_colors)[:, :3].astype(np.uint8)
        except Exception:
            pass
        return SceneContext(name, np.asarray(loaded.vertices, np.float32), np.asarray(loaded.faces, np.int32),
                            colors=colors, mesh=loaded, face_colors=face_colors)
    if hasattr(loaded, "vertices") and len(loaded.vertices):
        pts = np.asarray(loaded.vertices, np.float32)
        cols = getattr(loaded, "colors", None)
        cols = np.asarray(cols)[:, :3].astype(np.uint8) if cols is not None and len(cols) == len(pts) else None
        if len(pts) > MAX_PREVIEW_POINTS:
            keep = np.random.default_rng(0).choice(len(pts), MAX_PREVIEW_POINTS, replace=False)
            pts, cols = pts[keep], (cols[keep] if cols is not None else None)
        return SceneContext(name, points=pts, colors=cols)
    raise ValueError(f"{path.name}: holds no mesh or points")
