"""Scenes of axis-aligned boxes: exact ray tracing (slab method, batched torch) with textured,
Lambert-shaded faces. ``layouts.make_scene`` builds the procedural ones.

A scene exposes what trajectories and the renderer need:
    ``bounds`` (2, 3)        axis-aligned box around all geometry that can be seen (min, max);
    ``free_space`` (2, 3)    box for camera centres (inside the room / above the plaza, away from walls);
    ``targets`` (K, 3)       look-at points on content (furniture, pictures, facades);
    ``clearance(points)``    distance from points to the nearest solid box (negative inside one);
    ``trace(o, d)``          exact first hit of rays, with texture colour;
    ``background(d)``        what rays that miss see (a sky gradient, or black);
    ``light``                a directional light + ambient;
    ``to_trimesh()``         the geometry as one coloured mesh, for previews and the 3D viewer.

World axes follow ``geometry`` (up is -y, ``WORLD_UP``). Every box face has a texture (an index into
one texture atlas), a tint and a tile size in metres; faces are numbered ``2 * axis + side`` (side 0
= the min face, 1 = the max face). A room is the inside of a box (``inside=True``): rays hit its
far side, and its normals point inward.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from .textures import sample_atlas, texture_atlas

_T_MIN = 1e-6          # hits closer than this along a ray are ignored (a ray leaving a surface)
_TINY_DIR = 1e-12      # a zero direction component becomes this, so the slabs give +-inf, not NaN
_RAY_CHUNK = 32768     # rays per batch in ``trace``: (boxes, chunk) temporaries stay a few MB
# Texture axes (u, v) of a face perpendicular to x, y, z: walls use (horizontal, y) so photos stand
# upright (image rows grow with y, which points down); floors and ceilings use (x, z).
UV_AXES = ((2, 1), (0, 2), (0, 1))


@dataclass
class Lighting:
    """A directional light plus ambient light, RGB in [0, 1]-ish units.

    ``direction`` (3,) is the unit direction the light travels (from the light into the scene), so a
    face with normal ``n`` receives ``max(0, -n . direction) * colour``.
    """

    direction: torch.Tensor
    colour: torch.Tensor
    ambient: torch.Tensor

    def shade(self, albedo: torch.Tensor, normal: torch.Tensor) -> torch.Tensor:
        """Lambert shading: albedo (P, 3) x (ambient + colour * max(0, -n . l)), normals (P, 3) unit."""
        lambert = (-(normal * self.direction.to(normal)).sum(-1, keepdim=True)).clamp_min(0.0)
        return albedo * (self.ambient.to(albedo) + self.colour.to(albedo) * lambert)


@dataclass
class Hits:
    """First hits of P rays: ``t`` (P,) distance along the (unit) ray, ``inf`` on a miss; ``normal``
    (P, 3) unit surface normal facing the ray's side; ``albedo`` (P, 3) surface colour in [0, 1]."""

    t: torch.Tensor
    normal: torch.Tensor
    albedo: torch.Tensor


@dataclass
class BoxScene:
    """A scene of axis-aligned boxes (see the module docstring).

    Attributes:
        lo, hi: (B, 3) float32 box corners, metres.
        inside: (B,) bool; True for a room shell, which is seen from inside (rays hit its far side).
        face_texture: (B, 6) long index into the atlas, per face ``2 * axis + side``.
        face_tint: (B, 6, 3) colour multiplier per face.
        face_tile: (B, 6, 2) metres per texture repeat along the face's (u, v) axes.
        atlas: (3, S + 2, n (S + 2)) textures (``textures.texture_atlas``).
        light: ``Lighting``.
        sky: (2, 3) horizon and zenith colours seen by rays that miss, or None (closed room).
        bounds, free_space: (2, 3) float64 ``[min_xyz, max_xyz]``.
        targets: (K, 3) float64 look-at points on content.
        kind, seed, name: how it was made (``layouts.make_scene(seed, kind)`` rebuilds it).
    """

    lo: torch.Tensor
    hi: torch.Tensor
    inside: torch.Tensor
    face_texture: torch.Tensor
    face_tint: torch.Tensor
    face_tile: torch.Tensor
    atlas: torch.Tensor
    light: Lighting
    sky: torch.Tensor | None
    bounds: torch.Tensor
    free_space: torch.Tensor
    targets: torch.Tensor
    kind: str = "custom"
    seed: int | None = None
    name: str = "scene"
    metric_scale: float = 1.0      # metres per scene unit
    box_labels: list[str] = field(default_factory=list)

    @classmethod
    def from_boxes(cls, lo, hi, *, inside=None, colours=None, textures: list[torch.Tensor] | None = None,
                   tile: float = 1.0, light: Lighting | None = None, sky=None, free_space=None, targets=None,
                   name: str = "boxes") -> "BoxScene":
        """A scene from explicit boxes, for tests and hand-made layouts.

        Args:
            lo, hi: (B, 3) corners. inside: (B,) bool (room shells), default all solid.
            colours: (B, 3) plain colour per box (default light grey); ``textures``: optional list of B
                (3, S, S) textures, one per box, then ``colours`` tint them.
            light: default a white light straight down (+y) with ambient 0.3.
            free_space, targets: default the bounds and the box centres.
        """
        lo = torch.as_tensor(np.asarray(lo), dtype=torch.float32).reshape(-1, 3)
        hi = torch.as_tensor(np.asarray(hi), dtype=torch.float32).reshape(-1, 3)
        if lo.shape != hi.shape or lo.shape[0] == 0 or bool((hi <= lo).any()):
            raise ValueError(f"from_boxes: need (B, 3) corners with hi > lo, got {tuple(lo.shape)}, {tuple(hi.shape)}")
        B = lo.shape[0]
        inside_t = torch.zeros(B, dtype=torch.bool) if inside is None else torch.as_tensor(inside, dtype=torch.bool)
        tint = torch.full((B, 3), 0.8) if colours is None else torch.as_tensor(np.asarray(colours), dtype=torch.float32)
        if textures is None:
            textures = [torch.ones(3, 4, 4)]
            face_texture = torch.zeros(B, 6, dtype=torch.long)
        else:
            if len(textures) != B:
                raise ValueError(f"from_boxes: {len(textures)} textures for {B} boxes")
            face_texture = torch.arange(B)[:, None].expand(B, 6).clone()
        if light is None:
            light = Lighting(torch.tensor([0.0, 1.0, 0.0]), torch.full((3,), 0.7), torch.full((3,), 0.3))
        bounds = torch.stack([lo.min(0).values, hi.max(0).values]).double()
        return cls(lo=lo, hi=hi, inside=inside_t, face_texture=face_texture,
                   face_tint=tint[:, None].expand(B, 6, 3).clone(), face_tile=torch.full((B, 6, 2), float(tile)),
                   atlas=texture_atlas(textures), light=light,
                   sky=None if sky is None else torch.as_tensor(np.asarray(sky), dtype=torch.float32),
                   bounds=bounds, free_space=bounds.clone() if free_space is None else
                   torch.as_tensor(np.asarray(free_space), dtype=torch.float64),
                   targets=((lo + hi) / 2).double() if targets is None else
                   torch.as_tensor(np.asarray(targets), dtype=torch.float64).reshape(-1, 3), name=name)

    @property
    def num_boxes(self) -> int:
        return int(self.lo.shape[0])

    # ---- geometry queries ---------------------------------------------------------------------

    def clearance(self, points: torch.Tensor | np.ndarray) -> torch.Tensor:
        """Distance (N,) from points (N, 3) to the nearest solid box (negative inside one); room
        shells count from the inside (distance to the nearest wall, negative outside the room)."""
        p = torch.as_tensor(np.asarray(points), dtype=torch.float64).reshape(-1, 3)
        lo, hi = self.lo.double(), self.hi.double()
        centre, half = (lo + hi) / 2, (hi - lo) / 2
        q = (p[:, None] - centre).abs() - half                               # (N, B, 3)
        outside = q.clamp_min(0).norm(dim=-1) + q.amax(-1).clamp_max(0)      # signed distance to each box
        signed = torch.where(self.inside, -outside, outside)                 # a shell's free side is inside
        return signed.amin(-1) if signed.shape[-1] else torch.full((p.shape[0],), math.inf, dtype=p.dtype)

    def trace(self, origins: torch.Tensor, directions: torch.Tensor) -> Hits:
        """Exact first hit of rays with the boxes (slab method), with textured colour.

        Args:
            origins, directions: (P, 3) float; directions need not be unit (``t`` is then in units of
                the direction's length). Rays sharing one origin (a camera's) are traced faster: boxes
                outside their cone of directions are skipped.
        """
        dtype = origins.dtype if origins.dtype in (torch.float32, torch.float64) else torch.float32
        o, d = origins.to(dtype), directions.to(dtype)
        parts = []
        for i in range(0, o.shape[0], _RAY_CHUNK):
            oc, dc = o[i:i + _RAY_CHUNK], d[i:i + _RAY_CHUNK]
            parts.append(self._trace_chunk(oc, dc, self._candidate_boxes(oc, dc)))
        if not parts:
            empty = o.new_zeros((0, 3))
            return Hits(o.new_zeros(0), empty, empty)
        return Hits(*(torch.cat(x) for x in zip(*((h.t, h.normal, h.albedo) for h in parts))))

    def _candidate_boxes(self, o: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
        """Indices of the boxes any of these rays can hit. For rays from one origin: the boxes whose
        bounding sphere meets the cone around the rays' mean direction that holds every ray (a
        conservative test, so no hit is lost); otherwise all boxes."""
        everything = torch.arange(self.num_boxes)
        if o.shape[0] == 0 or float((o - o[0]).abs().max()) > 0:
            return everything
        unit = d / d.norm(dim=-1, keepdim=True).clamp_min(1e-30)
        axis = unit.mean(0)
        if float(axis.norm()) < 1e-3:                                       # rays all around: no cone
            return everything
        axis = axis / axis.norm()
        half_angle = torch.acos((unit @ axis).clamp(-1, 1).min())
        centre = (self.lo + self.hi).to(o) / 2
        radius = (self.hi - self.lo).to(o).norm(dim=-1) / 2
        offset = centre - o[0]
        dist = offset.norm(dim=-1)
        angle = torch.acos(((offset @ axis) / dist.clamp_min(1e-30)).clamp(-1, 1))
        spread = torch.asin((radius / dist.clamp_min(1e-30)).clamp(max=1.0))
        keep = (dist <= radius) | (angle <= half_angle + spread + 1e-4)
        return everything[keep]

    def _trace_chunk(self, o: torch.Tensor, d: torch.Tensor, boxes: torch.Tensor) -> Hits:
        """``trace`` for rays (P, 3) against the boxes ``boxes`` (K,) only."""
        if len(boxes) == 0:
            return Hits(torch.full((o.shape[0],), math.inf, dtype=o.dtype), torch.zeros_like(o), torch.zeros_like(o))
        lo, hi = self.lo[boxes].to(o), self.hi[boxes].to(o)                 # (K, 3)
        d_safe = torch.where(d.abs() < _TINY_DIR, torch.where(d < 0, -_TINY_DIR, _TINY_DIR), d)
        inv = 1.0 / d_safe                                                  # (P, 3)
        # Slabs per axis as (K, P) planes, rays contiguous: the reductions over the 3 axes become
        # element-wise min / max of three planes, which vectorise (a trailing dim of 3 does not).
        inv_t = inv.T.contiguous()                                          # (3, P)
        o_inv = -(o.T * inv_t)                                              # (3, P): t = x / d - o / d
        enter = leave = None
        for a in range(3):
            t_lo = torch.addcmul(o_inv[a], lo[:, a, None], inv_t[a])        # (K, P)
            t_hi = torch.addcmul(o_inv[a], hi[:, a, None], inv_t[a])
            near, far = torch.minimum(t_lo, t_hi), torch.maximum(t_lo, t_hi)
            enter = near if enter is None else torch.maximum(enter, near, out=enter)
            leave = far if leave is None else torch.minimum(leave, far, out=leave)
        # A solid box is hit where the ray enters it; a room shell where the ray leaves it.
        t = torch.where(self.inside[boxes, None], leave, enter)
        t = t.masked_fill_((enter > leave) | (t <= _T_MIN), math.inf)
        t_best, k = t.min(0)                                                # (P,)
        box = boxes[k]
        lo, hi = self.lo.to(o), self.hi.to(o)

        # The winning box's slabs again, per ray, to find the face that was crossed.
        inside = self.inside[box]
        t_lo, t_hi = (lo[box] - o) * inv, (hi[box] - o) * inv              # (P, 3)
        enter_axis = torch.minimum(t_lo, t_hi).argmax(-1)
        leave_axis = torch.maximum(t_lo, t_hi).argmin(-1)
        axis = torch.where(inside, leave_axis, enter_axis)                  # (P,)
        positive = d.gather(1, axis[:, None])[:, 0] > 0
        # Entering a solid box moving +axis crosses its min face; leaving a shell crosses its max face.
        side = (positive == inside).long()
        face = 2 * axis + side
        sign = torch.where(side == 1, 1.0, -1.0).to(o) * torch.where(inside, -1.0, 1.0).to(o)
        normal = torch.zeros_like(o).scatter_(1, axis[:, None], sign[:, None])  # outward, or inward for shells

        hit = torch.isfinite(t_best)
        point = o + torch.where(hit, t_best, 0.0)[:, None] * d
        uv_axes = torch.tensor(UV_AXES)[axis]                              # (P, 2)
        uv = (point.gather(1, uv_axes) - lo[box].gather(1, uv_axes)) / self.face_tile[box, face].to(o)
        albedo = sample_atlas(self.atlas, self.face_texture[box, face], uv) * self.face_tint[box, face].to(o)
        albedo = torch.where(hit[:, None], albedo, torch.zeros_like(albedo))
        return Hits(t_best, torch.where(hit[:, None], normal, torch.zeros_like(normal)), albedo)

    def background(self, directions: torch.Tensor) -> torch.Tensor:
        """Colour (P, 3) of rays (P, 3) that hit nothing: the sky gradient by elevation, else black."""
        if self.sky is None:
            return torch.zeros_like(directions)
        unit = directions / directions.norm(dim=-1, keepdim=True).clamp_min(1e-12)
        elevation = (-unit[:, 1]).clamp(0, 1)[:, None]                      # up is -y
        horizon, zenith = self.sky.to(directions).unbind(0)
        return horizon + (zenith - horizon) * elevation.sqrt()

    # ---- export -------------------------------------------------------------------------------

    def face_colours(self) -> torch.Tensor:
        """(B, 6, 3) mean shaded colour of each face (texture mean x tint x lighting): a preview palette."""
        s = self.atlas.shape[1]
        means = self.atlas.unflatten(2, (-1, s)).mean((1, 3)).T             # (n, 3)
        albedo = means[self.face_texture] * self.face_tint                  # (B, 6, 3)
        normals = torch.zeros(6, 3)
        for f in range(6):
            normals[f, f // 2] = 1.0 if f % 2 else -1.0
        normals = normals[None].expand(self.num_boxes, 6, 3) * torch.where(self.inside, -1.0, 1.0)[:, None, None]
        return self.light.shade(albedo.reshape(-1, 3), normals.reshape(-1, 3)).reshape(-1, 6, 3).clamp(0, 1)

    def to_trimesh(self):
        """All boxes as one ``trimesh.Trimesh`` with per-face colours (room shells face inward)."""
        import trimesh

        colours = (self.face_colours().numpy() * 255 + 0.5).astype(np.uint8)
        meshes = []
        for b in range(self.num_boxes):
            lo, hi = self.lo[b].double().numpy(), self.hi[b].double().numpy()
            box = trimesh.creation.box(bounds=np.stack([lo, hi]))
            # Each triangle's face index 2 * axis + side from its outward normal.
            axis = np.abs(box.face_normals).argmax(1)
            side = (box.face_normals[np.arange(len(axis)), axis] > 0).astype(int)
            face_rgb = colours[b, 2 * axis + side]
            if bool(self.inside[b]):
                box.invert()
            box.visual.face_colors = np.concatenate([face_rgb, np.full((len(axis), 1), 255, np.uint8)], 1)
            meshes.append(box)
        return trimesh.util.concatenate(meshes)

    def describe(self) -> dict:
        """JSON-able summary (kind, seed, sizes); ``make_scene(seed, kind)`` rebuilds the scene."""
        return {"kind": self.kind, "seed": self.seed, "name": self.name, "metric_scale": self.metric_scale,
                "num_boxes": self.num_boxes, "bounds": self.bounds.tolist(), "free_space": self.free_space.tolist(),
                "targets": self.targets.tolist(), "light_direction": self.light.direction.tolist()}
