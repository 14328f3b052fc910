"""Procedural scenes, deterministic from a seed, in metres: ``make_scene(seed, kind)``.

``indoor``
    A room (the inside faces of one box: walls, floor, ceiling, 3.5-8 x 3.5-9 x 2.5-3.5 m) with
    furniture-like boxes (cabinets, tables on legs, open shelves with planks, sofas / beds), pillars,
    a rug and framed pictures on the walls; free space at eye height (0.9-2.1 m), 0.45 m off the walls.
``outdoor``
    A ground slab with rows of buildings (3-16 m tall) around a plaza of 14-28 m, with crates,
    benches, kiosks, posts and car-sized blocks, under a sky gradient; free space 1.2-3 m high over
    the plaza.

Textures come from ``textures.random_texture`` (scikit-image's bundled photos and procedural
patterns); each scene gets a directional light with a random direction and tint, plus ambient light.
The floor / ground is the plane y = 0 and everything stands at y < 0 (up is -y). ``metric_scale`` is
1: scene units are metres, so rendered clips have a known metric scale.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import torch

from .scenes import UV_AXES, BoxScene, Lighting
from .textures import random_texture, texture_atlas

SceneKind = Literal["indoor", "outdoor"]
SCENE_KINDS: tuple[str, ...] = ("indoor", "outdoor")


class _Builder:
    """Collects boxes with their per-face materials, then packs them into a ``BoxScene``."""

    def __init__(self, rng: np.random.Generator, num_textures: int):
        self.rng = rng
        self.textures = [random_texture(rng) for _ in range(num_textures)]
        self.boxes: list[tuple[np.ndarray, np.ndarray, bool, np.ndarray, np.ndarray, np.ndarray, str]] = []
        self.targets: list[np.ndarray] = []

    def material(self) -> tuple[int, np.ndarray]:
        tint = self.rng.uniform(0.75, 1.0, 3) if self.rng.random() < 0.5 else np.ones(3)
        return int(self.rng.integers(len(self.textures))), tint

    def add(self, lo, hi, label: str, *, inside: bool = False, tile: float | None = None,
            faces: dict[int, tuple[int, np.ndarray, tuple[float, float]]] | None = None,
            material: tuple[int, np.ndarray] | None = None) -> None:
        """A box [lo, hi] with one material on every face (``material``, default random), except
        ``faces`` {face: (texture, tint, (tile_u, tile_v))} given explicitly."""
        lo, hi = np.asarray(lo, float), np.asarray(hi, float)
        if np.any(hi <= lo):
            raise ValueError(f"box {label}: empty extent lo={lo.tolist()} hi={hi.tolist()}")
        tex, tint = material if material is not None else self.material()
        tile = float(tile if tile is not None else self.rng.uniform(0.4, 1.5))
        face_tex = np.full(6, tex)
        face_tint = np.tile(tint, (6, 1))
        face_tile = np.full((6, 2), tile)
        for f, (t, c, size) in (faces or {}).items():
            face_tex[f], face_tint[f], face_tile[f] = t, c, size
        self.boxes.append((lo, hi, inside, face_tex, face_tint, face_tile, label))

    def picture(self, lo, hi, face: int) -> None:
        """A thin framed photo whose ``face`` shows one whole texture, once."""
        lo, hi = np.asarray(lo, float), np.asarray(hi, float)
        axis = face // 2
        u, v = UV_AXES[axis]
        tex = int(self.rng.integers(len(self.textures)))
        frame = self.material()
        self.add(lo, hi, "picture", material=frame, tile=0.3,
                 faces={face: (tex, np.ones(3), (hi[u] - lo[u], hi[v] - lo[v]))})
        centre = (lo + hi) / 2
        centre[axis] = hi[axis] if face % 2 else lo[axis]
        self.targets.append(centre)

    def build(self, *, kind: str, seed: int, light: Lighting, sky, bounds, free_space, name: str) -> BoxScene:
        lo, hi, inside, tex, tint, tile, labels = zip(*self.boxes)
        f32 = lambda a: torch.tensor(np.asarray(a), dtype=torch.float32)  # noqa: E731
        return BoxScene(lo=f32(lo), hi=f32(hi), inside=torch.tensor(inside, dtype=torch.bool),
                        face_texture=torch.tensor(np.asarray(tex), dtype=torch.long),
                        face_tint=f32(tint), face_tile=f32(tile), atlas=texture_atlas(self.textures),
                        light=light, sky=None if sky is None else f32(sky),
                        bounds=torch.tensor(np.asarray(bounds), dtype=torch.float64),
                        free_space=torch.tensor(np.asarray(free_space), dtype=torch.float64),
                        targets=torch.tensor(np.asarray(self.targets), dtype=torch.float64),
                        kind=kind, seed=seed, name=name, box_labels=list(labels))


def make_scene(seed: int, kind: SceneKind | None = None) -> BoxScene:
    """The procedural scene of ``seed`` (same seed and kind, same scene, bit for bit).

    ``kind`` None picks indoor (70%) or outdoor from the seed.
    """
    if isinstance(seed, bool) or int(seed) != seed or seed < 0:
        raise ValueError(f"make_scene: seed must be a non-negative integer, got {seed!r}")
    rng = np.random.default_rng([int(seed), 0x5CE7E])
    if kind is None:
        kind = "indoor" if rng.random() < 0.7 else "outdoor"
    if kind == "indoor":
        return _indoor(rng, int(seed))
    if kind == "outdoor":
        return _outdoor(rng, int(seed))
    raise ValueError(f"make_scene: kind must be one of {SCENE_KINDS}, got {kind!r}")


def _unit(v) -> np.ndarray:
    v = np.asarray(v, float)
    return v / np.linalg.norm(v)


def _lighting(rng: np.random.Generator, *, elevation_deg: tuple[float, float], warm: bool) -> Lighting:
    """A directional light from a random azimuth and elevation with a random tint, and an ambient term."""
    az, el = rng.uniform(0, 2 * np.pi), np.radians(rng.uniform(*elevation_deg))
    # Light travels downward (+y) from elevation el above the horizon.
    direction = _unit([-np.cos(el) * np.cos(az), np.sin(el), -np.cos(el) * np.sin(az)])
    tint = _unit(rng.uniform([0.9, 0.8, 0.6], [1.0, 1.0, 0.9]) if warm else rng.uniform(0.7, 1.0, 3)) * math.sqrt(3)
    strength = rng.uniform(0.45, 0.75)
    ambient = rng.uniform(0.3, 0.5) * _unit(rng.uniform(0.8, 1.0, 3)) * math.sqrt(3)
    t = lambda a: torch.tensor(a, dtype=torch.float32)  # noqa: E731
    return Lighting(t(direction), t(strength * tint), t(ambient))


def _indoor(rng: np.random.Generator, seed: int) -> BoxScene:
    W, D, H = rng.uniform(3.5, 8.0), rng.uniform(3.5, 9.0), rng.uniform(2.5, 3.5)
    b = _Builder(rng, num_textures=int(rng.integers(6, 11)))
    x0, x1, z0, z1 = -W / 2, W / 2, -D / 2, D / 2
    # Room shell: walls share one material per wall, floor and ceiling their own.
    walls = {f: (*b.material(), (t, t)) for f, t in ((0, rng.uniform(0.5, 1.5)), (1, rng.uniform(0.5, 1.5)),
                                                     (4, rng.uniform(0.5, 1.5)), (5, rng.uniform(0.5, 1.5)))}
    if rng.random() < 0.5:  # often all walls alike, as in most rooms
        walls = {f: walls[0] for f in walls}
    floor_tile, ceil_tile = rng.uniform(0.4, 1.2), rng.uniform(0.8, 2.0)
    faces = {**walls, 3: (*b.material(), (floor_tile, floor_tile)), 2: (*b.material(), (ceil_tile, ceil_tile))}
    b.add([x0, -H, z0], [x1, 0.0, z1], "room", inside=True, faces=faces)

    occupied: list[tuple[float, float, float, float]] = []  # footprints (x0, x1, z0, z1) of floor objects

    def place(w: float, d: float, against_wall: bool) -> tuple[float, float] | None:
        """Lower-left corner (x, z) of a w x d footprint inside the room that overlaps nothing placed."""
        for _ in range(20):
            if against_wall:
                wall = int(rng.integers(4))
                if wall in (0, 1):
                    w, d = min(w, d), max(w, d)
                    x = x0 + 0.02 if wall == 0 else x1 - 0.02 - w
                    z = rng.uniform(z0 + 0.1, z1 - 0.1 - d)
                else:
                    w, d = max(w, d), min(w, d)
                    z = z0 + 0.02 if wall == 2 else z1 - 0.02 - d
                    x = rng.uniform(x0 + 0.1, x1 - 0.1 - w)
            else:
                x, z = rng.uniform(x0 + 0.6, x1 - 0.6 - w), rng.uniform(z0 + 0.6, z1 - 0.6 - d)
            fp = (x, x + w, z, z + d)
            if all(fp[1] < o[0] or fp[0] > o[1] or fp[3] < o[2] or fp[2] > o[3] for o in occupied):
                occupied.append(fp)
                return fp
        return None

    for _ in range(int(rng.integers(3, 8))):
        what = rng.choice(["cabinet", "table", "shelf", "sofa"], p=[0.35, 0.25, 0.2, 0.2])
        if what == "cabinet":
            fp = place(rng.uniform(0.5, 1.6), rng.uniform(0.4, 0.7), True)
            if fp:
                h = rng.uniform(0.5, 2.1)
                b.add([fp[0], -h, fp[2]], [fp[1], 0.0, fp[3]], "cabinet")
                b.targets.append(np.array([(fp[0] + fp[1]) / 2, -h / 2, (fp[2] + fp[3]) / 2]))
        elif what == "table":
            fp = place(rng.uniform(0.8, 1.8), rng.uniform(0.6, 1.2), False)
            if fp:
                h, top, leg = rng.uniform(0.45, 0.8), rng.uniform(0.03, 0.06), rng.uniform(0.04, 0.08)
                mat = b.material()
                b.add([fp[0], -h, fp[2]], [fp[1], -h + top, fp[3]], "table", material=mat)
                for lx in (fp[0], fp[1] - leg):
                    for lz in (fp[2], fp[3] - leg):
                        b.add([lx, -h + top, lz], [lx + leg, 0.0, lz + leg], "table leg", material=mat)
                b.targets.append(np.array([(fp[0] + fp[1]) / 2, -h, (fp[2] + fp[3]) / 2]))
        elif what == "shelf":
            fp = place(rng.uniform(0.7, 1.5), rng.uniform(0.3, 0.4), True)
            if fp:
                h, mat = rng.uniform(1.4, 2.2), b.material()
                thick = 0.03
                # Back panel + side panels + planks: an open shelf with depth cues.
                wide_x = fp[1] - fp[0] >= fp[3] - fp[2]
                for s in (0, 1):
                    if wide_x:
                        xs = (fp[0], fp[0] + thick) if s == 0 else (fp[1] - thick, fp[1])
                        b.add([xs[0], -h, fp[2]], [xs[1], 0.0, fp[3]], "shelf side", material=mat)
                    else:
                        zs = (fp[2], fp[2] + thick) if s == 0 else (fp[3] - thick, fp[3])
                        b.add([fp[0], -h, zs[0]], [fp[1], 0.0, zs[1]], "shelf side", material=mat)
                for k in range(int(rng.integers(3, 6))):
                    y = -h + k * h / 4 if k < 4 else -thick
                    b.add([fp[0], y, fp[2]], [fp[1], y + thick, fp[3]], "shelf plank", material=mat)
                b.targets.append(np.array([(fp[0] + fp[1]) / 2, -h / 2, (fp[2] + fp[3]) / 2]))
        else:  # sofa / bed: a low block with a back
            fp = place(rng.uniform(1.4, 2.2), rng.uniform(0.8, 1.6), True)
            if fp:
                h, mat = rng.uniform(0.35, 0.5), b.material()
                b.add([fp[0], -h, fp[2]], [fp[1], 0.0, fp[3]], "sofa", material=mat)
                b.targets.append(np.array([(fp[0] + fp[1]) / 2, -h, (fp[2] + fp[3]) / 2]))
    for _ in range(int(rng.integers(0, 3))):  # pillars, floor to ceiling
        s = rng.uniform(0.25, 0.5)
        fp = place(s, s, False)
        if fp:
            b.add([fp[0], -H, fp[2]], [fp[1], 0.0, fp[3]], "pillar")
            b.targets.append(np.array([(fp[0] + fp[1]) / 2, -1.4, (fp[2] + fp[3]) / 2]))
    if rng.random() < 0.6:  # rug: a few mm thick so it shows its own texture
        rw, rd = rng.uniform(1.0, min(3.0, W - 1)), rng.uniform(1.0, min(3.0, D - 1))
        rx, rz = rng.uniform(x0 + 0.3, x1 - 0.3 - rw), rng.uniform(z0 + 0.3, z1 - 0.3 - rd)
        b.add([rx, -0.005, rz], [rx + rw, 0.0, rz + rd], "rug", tile=max(rw, rd))
    for _ in range(int(rng.integers(1, 5))):  # pictures on the walls
        pw, ph = rng.uniform(0.4, 1.2), rng.uniform(0.3, 0.9)
        y = -rng.uniform(1.2, min(2.0, H - 0.2)) - ph / 2
        wall = int(rng.integers(4))
        if wall in (0, 1):
            z = rng.uniform(z0 + 0.2, z1 - 0.2 - pw)
            x = x0 if wall == 0 else x1 - 0.03
            b.picture([x, y, z], [x + 0.03, y + ph, z + pw], face=1 if wall == 0 else 0)
        else:
            x = rng.uniform(x0 + 0.2, x1 - 0.2 - pw)
            z = z0 if wall == 2 else z1 - 0.03
            b.picture([x, y, z], [x + pw, y + ph, z + 0.03], face=5 if wall == 2 else 4)
    for _ in range(3):  # points on the walls at eye height: there is always something to look at
        wall = int(rng.integers(4))
        y = -rng.uniform(0.8, 1.8)
        if wall in (0, 1):
            b.targets.append(np.array([x0 if wall == 0 else x1, y, rng.uniform(z0 + 0.5, z1 - 0.5)]))
        else:
            b.targets.append(np.array([rng.uniform(x0 + 0.5, x1 - 0.5), y, z0 if wall == 2 else z1]))

    margin = 0.45
    free = [[x0 + margin, -min(2.1, H - 0.35), z0 + margin], [x1 - margin, -0.9, z1 - margin]]
    light = _lighting(rng, elevation_deg=(25, 80), warm=rng.random() < 0.6)
    return b.build(kind="indoor", seed=seed, light=light, sky=None, bounds=[[x0, -H, z0], [x1, 0.0, z1]],
                   free_space=free, name=f"indoor-{seed}")


def _outdoor(rng: np.random.Generator, seed: int) -> BoxScene:
    R = rng.uniform(7.0, 14.0)                 # plaza half-size: buildings stand beyond it
    extent = R + 25.0
    b = _Builder(rng, num_textures=int(rng.integers(6, 11)))
    ground_tile = rng.uniform(0.8, 3.0)
    b.add([-extent, 0.0, -extent], [extent, 2.0, extent], "ground", tile=ground_tile)
    tallest = 0.0
    for side in range(4):                      # a row of buildings along each side of the plaza
        along = -R - rng.uniform(0, 4)
        while along < R:
            w = rng.uniform(3.0, 10.0)
            depth, h = rng.uniform(4.0, 10.0), rng.uniform(3.0, 16.0)
            set_back = R + rng.uniform(0.5, 3.0)
            if rng.random() < 0.85:
                tile = rng.uniform(2.0, 5.0)
                mat = b.material()
                if side in (0, 1):
                    x = -set_back - depth if side == 0 else set_back
                    lo, hi = [x, -h, along], [x + depth, 0.0, min(along + w, extent)]
                else:
                    z = -set_back - depth if side == 2 else set_back
                    lo, hi = [along, -h, z], [min(along + w, extent), 0.0, z + depth]
                b.add(lo, hi, "building", material=mat, tile=tile)
                facade = (np.asarray(lo) + np.asarray(hi)) / 2
                facade[1] = -rng.uniform(1.5, min(h, 6.0))
                axis = 0 if side in (0, 1) else 2
                facade[axis] = hi[axis] if side in (0, 2) else lo[axis]
                b.targets.append(facade)
                tallest = max(tallest, h)
            along += w + rng.uniform(0.3, 3.0)
    for _ in range(int(rng.integers(4, 12))):  # crates, benches, kiosks, car-sized blocks, posts
        what = rng.choice(["crate", "bench", "car", "post", "kiosk"])
        w, d, h = {"crate": (rng.uniform(0.5, 1.2),) * 2 + (rng.uniform(0.5, 1.2),),
                   "bench": (rng.uniform(1.2, 2.0), 0.5, 0.45),
                   "car": (1.8, rng.uniform(3.8, 4.6), rng.uniform(1.3, 1.6)),
                   "post": (0.15, 0.15, rng.uniform(2.5, 4.5)),
                   "kiosk": (rng.uniform(1.5, 3.0), rng.uniform(1.5, 3.0), rng.uniform(2.2, 3.0))}[what]
        if rng.random() < 0.5:
            w, d = d, w
        x, z = rng.uniform(-R + 0.5, R - 0.5 - w), rng.uniform(-R + 0.5, R - 0.5 - d)
        b.add([x, -h, z], [x + w, 0.0, z + d], what)
        b.targets.append(np.array([x + w / 2, -h / 2, z + d / 2]))

    margin = 0.5
    free = [[-R + margin, -3.0, -R + margin], [R - margin, -1.2, R - margin]]
    light = _lighting(rng, elevation_deg=(20, 70), warm=True)
    horizon = rng.uniform([0.7, 0.75, 0.8], [0.95, 0.95, 1.0])
    zenith = rng.uniform([0.2, 0.35, 0.6], [0.45, 0.6, 0.95])
    top = max(tallest, 5.0)
    return b.build(kind="outdoor", seed=seed, light=light, sky=[horizon, zenith],
                   bounds=[[-extent, -top, -extent], [extent, 0.0, extent]], free_space=free,
                   name=f"outdoor-{seed}")
