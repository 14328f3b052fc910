"""How much could a camera-following generator gain over the warp at infinity on these clips?

On the generation probe's clips (the first frame, the clip's own path), PSNR of:
    copy        the first frame repeated (the issue's baseline)
    warp_inf    the first frame warped with the scene at infinity (the classical baseline; the model's guide)
    warp_plane  the same warp through a fronto-parallel plane at one depth for all clips (the median true depth
                of the first frames: a prior any model could learn, no per-clip geometry)
    warp_depth  an oracle: each target pixel fetched from the first frame through its TRUE depth; where the
                source does not see that point (outside the frame, occluded, sky) it keeps warp_inf's pixel
The gap warp_depth - warp_inf bounds what the model's correction can add from geometry (parallax) alone; the
rest of the remaining error is content the first frame never saw.

    python warp_ceiling.py --clips 48 --first-seed 352 --out warp-ceiling-val48.json
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import torch
import torch.nn.functional as F

from engine.config import preset
from engine.data import render
from engine.evaluate.benchmarks import PROCEDURAL_STYLES, procedural_path
from engine.evaluate.probe import generated_psnr
from geometry import camera_ray_bundle, canonicalize, infinite_depth_warp, plane_warp


def _fetch(src_rgb, src_depth, K_src, c2w_src, K_dst, c2w_dst, dst_depth, occlusion_tol=0.03):
    """Target pixels (N, 3, H, W) fetched from the source through the target's depth (N, H, W), and the
    mask of those the source sees (N, 1, H, W)."""
    N, H, W = dst_depth.shape
    dirs = camera_ray_bundle(K_dst, H, W)                                       # (N, H, W, 3), unit length
    cam = dirs / dirs[..., 2:] * dst_depth[..., None]                                           # z-depth: X_cam = z * dir
    world = torch.einsum("nij,nhwj->nhwi", c2w_dst[:, :3, :3], cam) + c2w_dst[:, None, None, :3, 3]
    local = torch.einsum("ji,nhwj->nhwi", c2w_src[:3, :3], world - c2w_src[:3, 3])   # R^T (X - t)
    p = torch.einsum("ij,nhwj->nhwi", K_src, local)
    z = p[..., 2]
    ok = torch.isfinite(dst_depth) & (z > 1e-6)
    safe = torch.where(ok, z, torch.ones_like(z))
    x, y = p[..., 0] / safe, p[..., 1] / safe
    ok &= (x >= 0) & (x <= W) & (y >= 0) & (y <= H)
    grid = torch.stack([2 * x / W - 1, 2 * y / H - 1], -1)
    grid = torch.where(ok[..., None], grid, torch.zeros_like(grid))
    rgb = F.grid_sample(src_rgb[None].expand(N, -1, -1, -1), grid, mode="bilinear", padding_mode="border",
                        align_corners=False)
    seen_z = F.grid_sample(src_depth[None, None].expand(N, 1, H, W).nan_to_num(posinf=1e6), grid, mode="nearest",
                           padding_mode="border", align_corners=False)[:, 0]
    ok &= seen_z > z * (1 - occlusion_tol)                                      # not behind something the source sees
    return rgb, ok[:, None].to(rgb.dtype)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", type=int, default=48)
    ap.add_argument("--first-seed", type=int, default=352)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    clip_cfg = preset("tiny").clip
    geo = torch.float64
    rows, scenes = [], []
    for n in range(a.first_seed, a.first_seed + a.clips):
        scene, path = procedural_path(clip_cfg, n, styles=PROCEDURAL_STYLES)
        rgb = render(scene, path.cameras, supersample=2, depth=False).uint8().numpy()       # as the probe renders
        depth = render(scene, path.cameras, supersample=1, depth=True).depth.to(geo)          # (T, H, W)
        scenes.append((path, rgb, depth))
    finite = torch.cat([d[0][torch.isfinite(d[0])].flatten() for _, _, d in scenes])
    plane_depth = float(finite.median())
    for (path, rgb, depth) in scenes:
        cams = path.cameras.to(geo)
        c2w, K = canonicalize(cams.c2w, 0), cams.K
        src = torch.from_numpy(rgb[0]).permute(2, 0, 1).to(geo)                              # (3, H, W)
        inf, _ = infinite_depth_warp(src, K[0], c2w[0], K, c2w, unseen="source")
        fetched, seen = _fetch(src, depth[0], K[0], c2w[0], K, c2w, depth)
        oracle = seen * fetched + (1 - seen) * inf
        planed, pseen = plane_warp(src, K[0], c2w[0], K, c2w, depth=plane_depth)
        plane = pseen * planed + (1 - pseen) * inf

        def u8(x):
            return x.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()

        rows.append({"style": path.style,
                     "copy": generated_psnr(np.repeat(rgb[:1], len(rgb), 0), rgb),
                     "warp_inf": generated_psnr(u8(inf), rgb),
                     "warp_plane": generated_psnr(u8(plane), rgb),
                     "warp_depth": generated_psnr(u8(oracle), rgb),
                     "seen_fraction": float(seen[1:].mean())})
    keys = ("copy", "warp_inf", "warp_plane", "warp_depth", "seen_fraction")
    summary = {k: float(np.mean([r[k] for r in rows])) for k in keys}
    per_style = {s: {k: float(np.mean([r[k] for r in rows if r["style"] == s])) for k in keys}
                 for s in sorted({r["style"] for r in rows})}
    out = {"clips": a.clips, "first_seed": a.first_seed, "plane_depth": plane_depth, "mean": summary,
           "per_style": per_style, "rows": rows}
    json.dump(out, open(a.out, "w"), indent=1)
    print(json.dumps({k: out[k] for k in ("clips", "plane_depth", "mean", "per_style")}, indent=1))


if __name__ == "__main__":
    main()
