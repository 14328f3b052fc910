import torch, numpy as np
torch.set_num_threads(1)
import torch.nn.functional as F
from engine.config import ClipConfig
from engine.evaluate.benchmarks import procedural_clips
from engine.data import HELDOUT_SEEDS, make_scene, render
from engine.model.xfeat import frame_descriptors
clips = procedural_clips(ClipConfig(), 12, styles=("re10k", "dl3dv"))
g = 8
ys, xs = torch.meshgrid(torch.arange(g) + 0.5, torch.arange(g) + 0.5, indexing="ij")
pos = torch.stack([xs, ys], -1).reshape(-1, 2).double()            # cell units
for temp in (0.02, 0.05, 0.1):
  E, Z, H = [], [], []
  for n, c in enumerate(clips):
    scene = make_scene(HELDOUT_SEEDS[n])
    cams = c.cameras
    depth = render(scene, cams, height=g, width=g, depth=True).depth.double()   # (T, g, g)
    fr = torch.from_numpy(c.frames).permute(0, 3, 1, 2).float() / 127.5 - 1
    d = frame_descriptors(fr, (g, g)).flatten(2)                       # (T, 64, 64 cells)
    K = cams.K.double().clone(); K[:, :2] *= g / cams.width
    for t in range(1, len(fr)):
        sim = torch.einsum("ci,cj->ij", d[t].double(), d[t - 1].double())       # cell i of t vs cell j of t-1
        w = torch.softmax(sim / temp, -1)
        est = w @ pos - pos
        hard = pos[sim.argmax(-1)] - pos
        # truth: unproject cell centres of frame t, project into t-1
        z = depth[t].reshape(-1)
        pix = torch.cat([pos, torch.ones(64, 1, dtype=torch.float64)], 1)
        cam = (torch.linalg.inv(K[t]) @ pix.T).T * z[:, None]
        world = (cams.c2w[t, :3, :3].double() @ cam.T).T + cams.c2w[t, :3, 3].double()
        w2c = torch.linalg.inv(cams.c2w[t - 1].double())
        pc = (w2c[:3, :3] @ world.T).T + w2c[:3, 3]
        pp = (K[t - 1] @ pc.T).T; uv = pp[:, :2] / pp[:, 2:3]
        ok = torch.isfinite(z) & (pc[:, 2] > 0) & (uv >= 0).all(1) & (uv <= g).all(1)
        gt = uv - pos
        E.append((est - gt)[ok].norm(dim=1)); Z.append(gt[ok].norm(dim=1)); H.append((hard - gt)[ok].norm(dim=1))
  E, Z, H = torch.cat(E), torch.cat(Z), torch.cat(H)
  print(f"temp {temp}: EPE soft {E.mean():.3f} hard {H.mean():.3f} zero-flow {Z.mean():.3f} cells (n={len(E)}); median soft {E.median():.3f} zero {Z.median():.3f}")
