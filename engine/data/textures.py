"""Image textures for procedural scenes: photos shipped inside scikit-image plus procedural patterns.

Every texture is a float32 tensor (3, S, S) in [0, 1], tileable or not (photos tile with a seam,
which only shows as an edge on a wall, like a real poster or panel). Nothing is downloaded: the
photos are the ones scikit-image installs in ``skimage.data.data_dir`` (``PHOTO_NAMES``).

``random_texture(rng)`` draws one: a random crop of a photo, or a checker / stripes / smooth
noise / gradient pattern, then a random colour tint and contrast, so grey photos (brick, gravel,
grass) become coloured materials. Same generator state, same texture.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage

TEXTURE_SIZE = 64   # texels per side; 64 is plenty at the 32-128 px frames the data is rendered at

# skimage.data images that ship with the wheel (no download), and read as a material or a picture.
PHOTO_NAMES: tuple[str, ...] = ("astronaut", "brick", "camera", "chelsea", "coffee", "coins", "grass", "gravel",
                                "moon", "rocket", "hubble_deep_field", "immunohistochemistry", "retina", "page",
                                "text", "colorwheel", "clock", "cell", "horse", "logo")
PATTERN_NAMES: tuple[str, ...] = ("checker", "stripes", "noise", "gradient")


@lru_cache(maxsize=None)
def _photo_source(name: str) -> torch.Tensor:
    """The whole photo, (3, h, w) float32 in [0, 1], downscaled so its short side is 4 * TEXTURE_SIZE
    (enough for crops; keeps the cache a few MB)."""
    import skimage.data

    if name not in PHOTO_NAMES:
        raise ValueError(f"unknown photo {name!r}; choose one of {', '.join(PHOTO_NAMES)}")
    img = np.asarray(getattr(skimage.data, name)())
    if img.dtype == bool:
        img = img.astype(np.float32)
    elif img.dtype == np.uint8:
        img = img.astype(np.float32) / 255.0
    else:
        img = img.astype(np.float32) / float(img.max() or 1)
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, -1)
    if img.shape[-1] == 4:  # RGBA logo: composite over white
        img = img[..., :3] * img[..., 3:] + (1.0 - img[..., 3:])
    x = torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)
    short = min(x.shape[1:])
    target = 4 * TEXTURE_SIZE
    if short > target:
        size = (round(x.shape[1] * target / short), round(x.shape[2] * target / short))
        x = F.interpolate(x[None], size=size, mode="area")[0]
    return x.contiguous()


def photo_texture(name: str, rng: np.random.Generator | None = None, size: int = TEXTURE_SIZE) -> torch.Tensor:
    """A square crop (3, size, size) of a bundled photo: random position and scale with ``rng``,
    else the centred largest square."""
    src = _photo_source(name)
    _, h, w = src.shape
    side = min(h, w)
    if rng is not None:
        side = int(side * rng.uniform(0.35, 1.0))
        y0, x0 = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
    else:
        y0, x0 = (h - side) // 2, (w - side) // 2
    crop = src[:, y0:y0 + side, x0:x0 + side]
    return F.interpolate(crop[None], size=(size, size), mode="area" if side >= size else "bilinear",
                         **({} if side >= size else {"align_corners": False}))[0].clamp(0, 1)


def pattern_texture(name: str, rng: np.random.Generator, size: int = TEXTURE_SIZE) -> torch.Tensor:
    """A tileable procedural pattern (3, size, size): two random colours mixed by a mask in [0, 1]."""
    yy, xx = np.meshgrid(np.arange(size) + 0.5, np.arange(size) + 0.5, indexing="ij")
    if name == "checker":
        cells = int(rng.choice([2, 4, 8]))  # divides the size, so the pattern tiles
        mask = ((np.floor(xx * cells / size) + np.floor(yy * cells / size)) % 2).astype(np.float32)
    elif name == "stripes":
        period = int(rng.choice([1, 2, 3, 4]))
        angle = rng.choice([0.0, 0.5, 1.0]) * np.pi  # only angles that tile
        coord = xx if angle == 0.0 else (yy if angle == 0.5 * np.pi else xx + yy)
        mask = 0.5 + 0.5 * np.sin(2 * np.pi * period * coord / size)
        mask = (mask > rng.uniform(0.3, 0.7)).astype(np.float32) if rng.random() < 0.5 else mask
    elif name == "noise":
        sigma = rng.uniform(1.5, 6.0)
        mask = ndimage.gaussian_filter(rng.random((size, size)), sigma, mode="wrap")  # wrap: tileable
        mask = (mask - mask.min()) / max(float(np.ptp(mask)), 1e-6)
    elif name == "gradient":
        mask = 0.5 - 0.5 * np.cos(2 * np.pi * (yy if rng.random() < 0.5 else xx) / size)  # periodic ramp
    else:
        raise ValueError(f"unknown pattern {name!r}; choose one of {', '.join(PATTERN_NAMES)}")
    a, b = rng.uniform(0.05, 0.95, 3), rng.uniform(0.05, 0.95, 3)
    m = torch.from_numpy(np.asarray(mask, dtype=np.float32))[None]
    return (torch.from_numpy(a.astype(np.float32))[:, None, None] * (1 - m)
            + torch.from_numpy(b.astype(np.float32))[:, None, None] * m)


def random_texture(rng: np.random.Generator, size: int = TEXTURE_SIZE, *, photo_prob: float = 0.6) -> torch.Tensor:
    """One random texture (3, size, size) in [0, 1]: a photo crop (probability ``photo_prob``) or a
    pattern, with a random tint and contrast so the same source looks like different materials."""
    if rng.random() < photo_prob:
        tex = photo_texture(str(rng.choice(PHOTO_NAMES)), rng, size)
        if rng.random() < 0.5:  # recolour: luminance times a random colour, like a painted surface
            tint = torch.from_numpy(rng.uniform(0.3, 1.0, 3).astype(np.float32))[:, None, None]
            tex = tex.mean(0, keepdim=True) * tint / tint.max()
    else:
        tex = pattern_texture(str(rng.choice(PATTERN_NAMES)), rng, size)
    contrast = float(rng.uniform(0.6, 1.2))
    mean = tex.mean((1, 2), keepdim=True)
    return ((tex - mean) * contrast + mean).clamp(0, 1)


def texture_atlas(textures: list[torch.Tensor]) -> torch.Tensor:
    """Textures (n of (3, S, S)) side by side in one image (3, S + 2, n * (S + 2)), each padded by one
    texel of its own opposite edge, so bilinear sampling near a tile edge wraps within the texture
    instead of bleeding into its neighbour (see ``sample_atlas``)."""
    if not textures:
        raise ValueError("texture_atlas: no textures")
    sizes = {tuple(t.shape) for t in textures}
    if len(sizes) != 1 or len(next(iter(sizes))) != 3 or next(iter(sizes))[0] != 3:
        raise ValueError(f"texture_atlas: textures must all be (3, S, S), got shapes {sorted(sizes)}")
    padded = [F.pad(t[None], (1, 1, 1, 1), mode="circular")[0] for t in textures]
    return torch.cat(padded, dim=2).contiguous()


def sample_atlas(atlas: torch.Tensor, index: torch.Tensor, uv: torch.Tensor) -> torch.Tensor:
    """Bilinear colour of texture ``index`` at repeating coordinates ``uv``.

    Args:
        atlas: (3, S + 2, n * (S + 2)) from ``texture_atlas``.
        index: (P,) long texture index per sample.
        uv: (P, 2) texture coordinates; one unit is one tile, any real value (the texture repeats).
    Returns:
        (P, 3) colours.
    """
    _, hp, wp = atlas.shape
    s = hp - 2
    frac = uv - torch.floor(uv)                                 # position inside the tile, [0, 1)
    # Texel k of tile i has its centre at atlas column i * (S + 2) + 1 + k; grid_sample with
    # align_corners=False puts column j's centre at normalised (2 j + 1) / W - 1.
    col = index.to(uv.dtype) * hp + 1 + frac[:, 0] * s - 0.5
    row = 1 + frac[:, 1] * s - 0.5
    grid = torch.stack([(2 * col + 1) / wp - 1, (2 * row + 1) / hp - 1], -1)
    out = F.grid_sample(atlas[None].to(uv.dtype), grid[None, None], mode="bilinear", align_corners=False)
    return out[0, :, 0].T                                       # (P, 3)
