"""Session 19, one-off: in joint generation, does the ray stream's *velocity* use the photo, even where the
sampled paths do not show it (``kind_paths.py``)?

For the 48 kind-tied clips of ``kind_joint.py`` / ``kind_paths.py`` (consecutive clips differ in kind), the
clip's true raxels are noised to ray time t (one noise per clip, shared by both photos: common random numbers),
the video is pure noise (t = 0) as in cameras-first sampling, conditioning slot 0 holds a photo, and the error
of the predicted clean raxel latents (target grid and slots) is measured with the clip's own first frame and
with its neighbour's (the other kind). A stream that reads the photo denoises with its own photo better.
Beside the squared error, the rotation error (degrees) of the cameras recovered from that one-step clean estimate,
since the ray loss also has terms (centred raxels, Procrustes pose) that a squared error in latents does not see.

    OMP_NUM_THREADS=1 python assets/checkpoints/raxels-tiny/training/probes-s19/joint_photo_use.py OUT.json FIRST COUNT CK [CK ...]
"""
import json, sys, time
import numpy as np, torch
from engine import Engine
from engine.camera_codec import encode_cameras
from engine.config import ClipConfig
from engine.data import HELDOUT_SEEDS, KIND_STYLES, make_scene, render, sample_trajectory
from engine.objective import predicted_clean
from engine.evaluate.probe import own_other_ratio
from engine.tasks import conditioning_slots, _decode_poses

TIMES = (0.05, 0.2, 0.4, 0.6, 0.8)
out_path, first, count, checkpoints = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]
clip = ClipConfig()
truths, photos, outdoor = [], [], []
for n in range(first, first + count):            # the clips of kind_joint.py, built the same way
    seed, style = HELDOUT_SEEDS[n], ("re10k", "dl3dv")[n % 2]
    kind = "indoor" if style in KIND_STYLES["indoor"] else "outdoor"
    scene = make_scene(seed, kind)
    path = sample_trajectory(scene, clip.num_frames, rng=np.random.default_rng([seed, 0xE7A1]), style=style,
                             width=clip.width, height=clip.height)
    truths.append(path.cameras.to(torch.float64)); outdoor.append(kind == "outdoor")
    photos.append(render(scene, path.cameras[:1], supersample=2, depth=False).uint8().numpy()[0])
outdoor = np.array(outdoor)
partner = [i ^ 1 for i in range(count)]           # the neighbour, of the other kind
assert all(outdoor[i] != outdoor[partner[i]] for i in range(count))


@torch.inference_mode()
def errors(pipe, cams, photo_own, photo_other, seed) -> np.ndarray:
    """-> (2 photos, len(TIMES), 2): mean squared error of the predicted clean raxel latents, and the rotation
    error (deg) of the cameras recovered from them."""
    T = cams.c2w.shape[0]
    slots = conditioning_slots(T, pipe.cfg.clip.num_cond, [0])
    M = len(slots)
    r, _ = encode_cameras(cams, ref=0, grid=pipe.ray_grid, encoding=pipe.encoding)
    r = r.float()[None]
    zr, zcr = pipe.encode_rays(r), pipe.encode_ray_frames(r[:, slots])
    imgs = torch.from_numpy(np.stack([photo_own, photo_other])).permute(0, 3, 1, 2).float() / 127.5 - 1
    z_src = pipe.encode_frames(imgs[:, None])                                   # (2, 1, c, h, w)
    gen = torch.Generator().manual_seed(seed)
    c, h, w = z_src.shape[2:]
    F_ = 1 + (T - 1) // pipe.temporal_factor
    zv = torch.randn(1, c, F_, h, w, generator=gen).expand(2, -1, -1, -1, -1)
    zc = torch.randn(1, M, c, h, w, generator=gen).expand(2, -1, -1, -1, -1).clone()
    zc[:, :1] = z_src
    features = pipe.features(cond_frames=imgs[:, None], num_slots=M)
    n_r, n_c = torch.randn(zr.shape, generator=gen), torch.randn(zcr.shape, generator=gen)
    out = np.zeros((2, len(TIMES), 2))
    for j, t in enumerate(TIMES):
        tr = torch.full((2,), t)
        state = {"video": zv, "cond_video": zc, "rays": (t * zr + (1 - t) * n_r).expand(2, -1, -1, -1, -1),
                 "cond_rays": (t * zcr + (1 - t) * n_c).expand(2, -1, -1, -1, -1)}
        tc = torch.zeros(2, M); tc[:, 0] = 1.0
        tt = {"video": torch.zeros(2), "cond_video": tc, "rays": tr, "cond_rays": torch.full((2, M), t)}
        pred = pipe.model(state, tt, cond_pos=pipe.cond_positions(torch.tensor([slots] * 2)), features=features)
        x = predicted_clean(pred["rays"], state["rays"], tr)
        xc = predicted_clean(pred["cond_rays"].flatten(0, 1), state["cond_rays"].flatten(0, 1), tr.repeat_interleave(M))
        e = ((x - zr) ** 2).flatten(1).sum(1) + ((xc.unflatten(0, (2, M)) - zcr) ** 2).flatten(1).sum(1)
        out[:, j, 0] = (e / (zr[0].numel() + zcr[0].numel())).numpy()
        for b in range(2):
            cams_b = _decode_poses(pipe, x[b:b + 1], 0).cameras.to(torch.float64)
            out[b, j, 1] = own_other_ratio([cams_b], [cams])[0]
    return out


result = {"clips": count, "first_seed": first, "times": TIMES}
for ck in checkpoints:
    t0 = time.time()
    pipe = Engine.from_checkpoint(ck, device="cpu").pipe
    e = np.stack([errors(pipe, truths[i], photos[i], photos[partner[i]], seed=i) for i in range(count)])  # (n, 2, T, 2)
    own, other = e[:, 0, :, 0], e[:, 1, :, 0]
    rot_own, rot_other = e[:, 0, :, 1], e[:, 1, :, 1]
    result[ck] = {"own": own.mean(0).tolist(), "other": other.mean(0).tolist(),
                  "other_over_own": (other.mean(0) / own.mean(0)).tolist(),
                  "own_better_clips": (own < other).sum(0).tolist(),
                  "other_over_own_indoor": (other[~outdoor].mean(0) / own[~outdoor].mean(0)).tolist(),
                  "other_over_own_outdoor": (other[outdoor].mean(0) / own[outdoor].mean(0)).tolist(),
                  "rot_own_deg": rot_own.mean(0).tolist(), "rot_other_deg": rot_other.mean(0).tolist(),
                  "rot_own_better_clips": (rot_own < rot_other).sum(0).tolist(),
                  "seconds": round(time.time() - t0)}
    print(ck, json.dumps(result[ck]), flush=True)
json.dump(result, open(out_path, "w"), indent=1)
