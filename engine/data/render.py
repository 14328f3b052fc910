"""CPU ray-casting renderer: RGB and depth of a scene for any ``geometry.Cameras``, exact to the
camera model.

One ray per sample through the pixel position ``(x + 0.5, y + 0.5)`` (``geometry.world_rays``, the
same function the raxel encoding uses), so a rendered clip and its ray images agree to rounding.
With ``supersample = s`` each pixel is the mean of an s x s grid of rays at ``(x + (i + 0.5) / s,
y + (j + 0.5) / s)``, i.e. exactly the render at s times the size with ``Cameras.resized``, box
filtered: anti-aliasing without changing the camera. Depth is always taken at the pixel centres.

Scenes are anything with ``trace(origins, directions) -> Hits``, ``background(directions)`` and
``light`` (``scenes.BoxScene``: exact slab intersection; ``meshes.MeshScene``: trimesh ray queries).

Depth is the z coordinate of the hit point in the camera frame (OpenCV: distance along the optical
axis, what a depth sensor reports), ``inf`` where the ray hits nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from geometry import Cameras, world_rays

_PER_CAMERA_MIN_RAYS = 1024   # trace camera by camera from this many rays per image


@dataclass
class RenderResult:
    """``rgb`` (..., 3, H, W) float32 in [0, 1]; ``depth`` (..., H, W) float32 z-depth (``inf`` on a
    miss) or None when not asked for. Leading dims are the cameras' batch shape."""

    rgb: torch.Tensor
    depth: torch.Tensor | None

    def uint8(self) -> torch.Tensor:
        """(..., H, W, 3) uint8 frames, as video files and ``engine.media`` take them."""
        return (self.rgb.movedim(-3, -1) * 255 + 0.5).clamp(0, 255).to(torch.uint8)


def render(scene, cameras: Cameras, *, height: int | None = None, width: int | None = None,
           supersample: int = 1, depth: bool = True, dtype: torch.dtype = torch.float32) -> RenderResult:
    """Render ``scene`` from every camera.

    Args:
        scene: a ``BoxScene``, ``MeshScene`` or anything with ``trace`` / ``background`` / ``light``.
        cameras: batch (...,) of cameras; ``K`` refers to ``cameras.width`` x ``cameras.height``.
        height, width: output size (default the cameras' own); K is rescaled to it, as for ray grids.
        supersample: rays per pixel side (1: one ray through each pixel centre).
        depth: also return the depth map (one more trace when ``supersample > 1``).
        dtype: precision of the ray casting (float32 is exact to ~1e-6 relative and twice as fast).
    """
    H = cameras.height if height is None else int(height)
    W = cameras.width if width is None else int(width)
    s = int(supersample)
    if s < 1 or s != supersample:
        raise ValueError(f"render: supersample must be a positive integer, got {supersample}")
    if not cameras.batch_shape:
        cameras = cameras[None]
        squeeze = True
    else:
        squeeze = False
    batch = cameras.batch_shape
    flat = Cameras(cameras.c2w.reshape(-1, 4, 4), cameras.K.reshape(-1, 3, 3), cameras.width, cameras.height)
    rgb, dist = _cast(scene, flat, H * s, W * s, dtype, shade=True)
    if s > 1:
        rgb = F.avg_pool2d(rgb, s)
        if depth:
            _, dist = _cast(scene, flat, H, W, dtype, shade=False)
    rgb = rgb.reshape(*batch, 3, H, W).float()
    z = dist.reshape(*batch, H, W).float() if depth else None
    if squeeze:
        rgb, z = rgb[0], None if z is None else z[0]
    return RenderResult(rgb, z)


def _cast(scene, cameras: Cameras, H: int, W: int, dtype: torch.dtype,
          shade: bool) -> tuple[torch.Tensor | None, torch.Tensor]:
    """Colour (N, 3, H, W) (None unless ``shade``) and z-depth (N, H, W) of N cameras."""
    o, d = world_rays(cameras, H, W)                                   # (N, 3, H, W), unit d
    N = o.shape[0]
    o = o.permute(0, 2, 3, 1).reshape(-1, 3).to(dtype)
    d = d.permute(0, 2, 3, 1).reshape(-1, 3).to(dtype)
    if H * W >= _PER_CAMERA_MIN_RAYS:
        # One camera at a time: its rays share an origin, which lets a scene cull what it cannot see.
        per_frame = [scene.trace(oi, di) for oi, di in zip(o.split(H * W), d.split(H * W))]
        hits = type(per_frame[0])(*(torch.cat(x) for x in zip(*((h.t, h.normal, h.albedo) for h in per_frame))))
    else:  # tiny images (probes): one call, the per-call overhead would dominate
        hits = scene.trace(o, d)
    # z-depth = t * cos(angle to the optical axis): the ray's component along the camera's z axis.
    axis = cameras.R[..., :, 2].to(dtype)                              # (N, 3)
    cos = (d.reshape(N, -1, 3) * axis[:, None]).sum(-1).reshape(-1)
    z = (hits.t * cos).reshape(N, H, W)
    if not shade:
        return None, z
    hit = torch.isfinite(hits.t)[:, None]
    colour = torch.where(hit, scene.light.shade(hits.albedo, hits.normal), scene.background(d))
    rgb = colour.clamp(0, 1).reshape(N, H, W, 3).permute(0, 3, 1, 2)
    return rgb, z
