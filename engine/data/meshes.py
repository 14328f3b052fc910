"""User meshes (glb / gltf / obj / ply / stl / off ...) as renderable scenes, via trimesh.

``MeshScene.load(path)`` reads any format ``trimesh.load`` reads, flattening a multi-part scene
into one mesh. Ray queries go through ``mesh.ray`` (trimesh): with the ``embreex`` package installed
trimesh uses Intel Embree (about 0.1 s for a 9-frame 64 x 64 clip of a 20k-triangle mesh); without
it trimesh falls back to its pure-Python intersector, which needs ``rtree`` and is far slower
(a minute for the same clip), fine only for small meshes and tests.

Surface colour, best first: the texture image sampled at the hit's interpolated UV; interpolated
vertex colours; face colours; else a neutral grey. Shading is Lambert with the face normal turned
toward the viewer (meshes from scans are often not consistently oriented), under a fixed light
from above and behind the default camera, plus ambient.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .scenes import Hits, Lighting

MAX_MESH_BYTES = 512 * 1024 * 1024
_GREY = 0.7


def _default_light() -> Lighting:
    d = torch.tensor([0.3, 1.0, 0.5])  # travelling down (+y) and away from a camera at -z
    return Lighting(d / d.norm(), torch.full((3,), 0.6), torch.full((3,), 0.4))


class MeshScene:
    """A triangle mesh with colours, in the same interface as ``scenes.BoxScene`` for ``render``.

    Attributes:
        mesh: the ``trimesh.Trimesh`` (scene units: whatever the file uses).
        light: ``Lighting``.
        bounds: (2, 3) float64 axis-aligned bounds of the mesh.
        free_space: (2, 3) the bounds grown by half their size on every side (cameras around the object).
        targets: (1, 3) the bounds' centre.
    """

    def __init__(self, mesh, *, light: Lighting | None = None, background=(0.0, 0.0, 0.0), name: str = "mesh"):
        import trimesh

        if not isinstance(mesh, trimesh.Trimesh):
            raise ValueError(f"MeshScene: expected a trimesh.Trimesh, got {type(mesh).__name__}")
        if len(mesh.faces) == 0:
            raise ValueError(f"MeshScene {name}: the mesh has no triangles")
        self.mesh = mesh
        self.name = name
        self.light = light or _default_light()
        self.background_colour = torch.tensor(background, dtype=torch.float32)
        self.bounds = torch.tensor(mesh.bounds, dtype=torch.float64)
        size = self.bounds[1] - self.bounds[0]
        self.free_space = torch.stack([self.bounds[0] - 0.5 * size, self.bounds[1] + 0.5 * size])
        self.targets = self.bounds.mean(0, keepdim=True)
        self._colour = _surface_colour(mesh)

    @classmethod
    def load(cls, path: str | Path, **kwargs) -> "MeshScene":
        """Read a mesh file; a file trimesh cannot read, or one without triangles, raises ``ValueError``
        naming it."""
        import trimesh

        path = Path(path)
        if not path.is_file():
            raise ValueError(f"{path}: mesh file not found")
        if path.stat().st_size > MAX_MESH_BYTES:
            raise ValueError(f"{path}: mesh file is over the {MAX_MESH_BYTES // 2**20} MiB limit")
        try:
            mesh = trimesh.load(path, force="mesh", process=False)
        except Exception as exc:  # trimesh raises many types for bad files
            raise ValueError(f"{path}: cannot be read as a mesh ({type(exc).__name__}: {exc})") from exc
        if not isinstance(mesh, trimesh.Trimesh) or len(mesh.faces) == 0:
            raise ValueError(f"{path}: holds no triangles (point clouds and empty scenes cannot be rendered)")
        return cls(mesh, name=path.stem, **kwargs)

    def trace(self, origins: torch.Tensor, directions: torch.Tensor) -> Hits:
        """First hits of rays (P, 3) with the mesh (see ``scenes.Hits``)."""
        P = origins.shape[0]
        o = origins.detach().cpu().double().numpy()
        d = directions.detach().cpu().double().numpy()
        try:
            locations, ray_idx, tri_idx = self.mesh.ray.intersects_location(o, d, multiple_hits=False)
        except ModuleNotFoundError as exc:
            raise RuntimeError("rendering meshes needs trimesh's ray backend: install 'embreex' (fast) or "
                               f"'rtree' (slow fallback) ({exc})") from exc
        t = np.full(P, np.inf)
        normal = np.zeros((P, 3))
        albedo = np.zeros((P, 3))
        if len(ray_idx):
            # Distance along the (possibly non-unit) direction, like BoxScene's t.
            t[ray_idx] = ((locations - o[ray_idx]) * d[ray_idx]).sum(1) / (d[ray_idx] ** 2).sum(1)
            n = self.mesh.face_normals[tri_idx]
            facing = np.sign((n * d[ray_idx]).sum(1, keepdims=True))
            normal[ray_idx] = -np.where(facing == 0, 1.0, facing) * n   # toward the viewer
            albedo[ray_idx] = self._colour(tri_idx, locations)
        as_t = lambda a: torch.from_numpy(a).to(origins.dtype)  # noqa: E731
        return Hits(as_t(t), as_t(normal), as_t(albedo))

    def background(self, directions: torch.Tensor) -> torch.Tensor:
        return self.background_colour.to(directions).expand(directions.shape[0], 3)


def _surface_colour(mesh):
    """A function (triangle ids (n,), hit points (n, 3)) -> colours (n, 3) in [0, 1] for the mesh's visual."""
    import trimesh

    visual = mesh.visual
    uv = getattr(visual, "uv", None)
    material = getattr(visual, "material", None)
    image = None
    if uv is not None and material is not None:
        image = getattr(material, "image", None) or getattr(material, "baseColorTexture", None)
    if image is not None and len(uv) == len(mesh.vertices):
        tex = torch.from_numpy(np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0).permute(2, 0, 1)
        uv = np.asarray(uv, dtype=np.float64)

        def textured(tri, points):
            bary = trimesh.triangles.points_to_barycentric(mesh.triangles[tri], points)
            coords = (uv[mesh.faces[tri]] * bary[:, :, None]).sum(1)             # (n, 2)
            # Repeat outside [0, 1] (glTF's default wrap); inside, 1.0 stays the right / top edge.
            coords = np.where((coords < 0) | (coords > 1), coords - np.floor(coords), coords)
            # UV (0, 0) is the image's bottom-left corner; grid_sample's (-1, -1) its top-left.
            grid = torch.from_numpy(np.stack([2 * coords[:, 0] - 1, 1 - 2 * coords[:, 1]], -1)).float()
            out = F.grid_sample(tex[None], grid[None, None], mode="bilinear", padding_mode="border",
                                align_corners=False)
            return out[0, :, 0].T.double().numpy()
        return textured
    if isinstance(visual, trimesh.visual.ColorVisuals) and visual.defined:
        if visual.kind == "vertex":
            vc = np.asarray(visual.vertex_colors[:, :3], dtype=np.float64) / 255.0

            def per_vertex(tri, points):
                bary = trimesh.triangles.points_to_barycentric(mesh.triangles[tri], points)
                return (vc[mesh.faces[tri]] * bary[:, :, None]).sum(1).clip(0, 1)
            return per_vertex
        fc = np.asarray(visual.face_colors[:, :3], dtype=np.float64) / 255.0
        return lambda tri, points: fc[tri]
    if material is not None and getattr(material, "main_color", None) is not None:
        colour = np.asarray(material.main_color[:3], dtype=np.float64) / 255.0
        return lambda tri, points: np.broadcast_to(colour, (len(tri), 3))
    return lambda tri, points: np.full((len(tri), 3), _GREY)
