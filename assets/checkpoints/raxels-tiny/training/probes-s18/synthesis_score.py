"""Session 18, one-off: can the shipped model's own video half check a pose estimate? (analysis by synthesis)

    OMP_NUM_THREADS=1 python assets/checkpoints/raxels-tiny/training/probes-s18/synthesis_score.py FIRST COUNT OUT.npz \
        [--gains 0,0.5,...] [--times 0.2,0.4,0.6,0.8] [--noises 2]

For each held-out clip: the shipped pose ensemble's cameras (the engine's, 2 ray steps x 4 passes), then candidate
paths made from them by scaling every frame's rotation angle (relative to frame 0) by a gain, plus the true path
(a diagnostic only: it is never a candidate an answer may pick). Each candidate is scored by the model's
camera-conditioned video denoising error: the clip's own video latents noised to time t with one fixed noise
(the same for every candidate: common random numbers), frame 0 given clean as the source, the candidate's raxels
and warped reference given clean, and the mean squared error of the predicted clean video latents. A path the
video agrees with should be easier to denoise along.

OUT holds truth (n, T, 4, 4), ensemble (n, T, 4, 4), gains (G,), scores (n, G + 1, len(times), noises) (the last
candidate is the truth), styles (n,).
"""
import sys, time
import numpy as np, torch
from engine import Engine
from engine.camera_codec import encode_cameras
from engine.evaluate.benchmarks import procedural_clips
from engine.objective import predicted_clean
from engine.tasks import conditioning_slots
from geometry import Cameras, canonicalize


def option(flag, cast, default):
    if flag not in sys.argv:
        return default
    i = sys.argv.index(flag); value = cast(sys.argv[i + 1]); del sys.argv[i:i + 2]
    return value


floats = lambda s: [float(x) for x in s.split(",")]  # noqa: E731
gains = option("--gains", floats, [0.0, 0.5, 0.75, 0.9, 1.0, 1.1, 1.25, 1.5, 2.0])
times = option("--times", floats, [0.2, 0.4, 0.6, 0.8])
noises = option("--noises", int, 2)
stream = option("--stream", str, "video")       # "rays": score each candidate's raxels denoised given the clean video
assert stream in ("video", "rays"), stream
first, count, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
ck = sys.argv[4] if len(sys.argv) > 4 else "assets/checkpoints/raxels-tiny"
eng = Engine.from_checkpoint(ck, device="cpu")
pipe = eng.pipe
clips = procedural_clips(eng.config.clip, count, first_seed=first)


def scaled(c2w: torch.Tensor, g: float) -> torch.Tensor:
    """c2w (T, 4, 4) canonical to frame 0 with each rotation's angle scaled by g (same axis)."""
    from scipy.spatial.transform import Rotation
    rv = Rotation.from_matrix(c2w[:, :3, :3].numpy()).as_rotvec() * g
    out = c2w.clone()
    out[:, :3, :3] = torch.from_numpy(Rotation.from_rotvec(rv).as_matrix())
    return out


@torch.inference_mode()
def scores(video: torch.Tensor, cams: list[Cameras]) -> np.ndarray:
    """video (T, 3, H, W) in [-1, 1]; cams: candidate paths (T,) canonical to frame 0. -> (C, len(times), noises)"""
    T = video.shape[0]
    clip = pipe.cfg.clip
    slots = conditioning_slots(T, clip.num_cond if stream == "video" else (clip.pose_num_cond or clip.num_cond), [0])
    M, C = len(slots), len(cams)
    z_video = pipe.encode_video(video.permute(1, 0, 2, 3)[None])            # (1, c, F, h, w)
    z_cond = pipe.encode_frames(video[slots][None])                        # (1, M, c, h, w)
    rays, zr, zcr, guides = [], [], [], []
    for cam in cams:
        r, _ = encode_cameras(cam.to(torch.float64), ref=0, grid=pipe.ray_grid, encoding=pipe.encoding)
        r = r.float()[None]
        zr.append(pipe.encode_rays(r)); zcr.append(pipe.encode_ray_frames(r[:, slots]))
        guides.append(pipe.reference_warp_along(video[0], cam, 0))
    zr, zcr, guides = torch.cat(zr), torch.cat(zcr), torch.cat(guides)
    if stream == "rays":
        return ray_scores(z_video, z_cond, zr, zcr, slots)
    gen = torch.Generator().manual_seed(1234)
    out = np.zeros((C, len(times), noises))
    for k in range(noises):
        n_v = torch.randn(z_video.shape, generator=gen)
        n_c = torch.randn(z_cond.shape, generator=gen)
        for j, t in enumerate(times):
            tv = torch.full((C,), t)
            tc = torch.full((C, M), t); tc[:, 0] = 1.0
            zv = (t * z_video + (1 - t) * n_v).expand(C, -1, -1, -1, -1)
            zc = (t * z_cond + (1 - t) * n_c).expand(C, -1, -1, -1, -1).clone()
            zc[:, 0] = z_cond[:, 0]
            state = {"video": zv, "cond_video": zc, "rays": zr, "cond_rays": zcr}
            tt = {"video": tv, "cond_video": tc, "rays": torch.ones(C), "cond_rays": torch.ones(C, M)}
            pred = pipe.model(state, tt, cond_pos=pipe.cond_positions(torch.tensor([slots] * C)), guide=guides)
            x = predicted_clean(pred["video"], zv, tv)
            out[:, j, k] = ((x - z_video) ** 2).mean(dim=(1, 2, 3, 4)).numpy()
    return out


def ray_scores(z_video, z_cond, zr, zcr, slots):
    """The pose task's likelihood proxy: candidates' raxel latents noised to t (one fixed noise for all), the clip's
    video clean, and the error of the predicted clean raxel latents (target grid and slots)."""
    C, M = zr.shape[0], len(slots)
    gen = torch.Generator().manual_seed(1234)
    out = np.zeros((C, len(times), noises))
    zv, zc = z_video.expand(C, -1, -1, -1, -1), z_cond.expand(C, -1, -1, -1, -1)
    for k in range(noises):
        n_r = torch.randn(zr.shape[1:], generator=gen)[None]
        n_c = torch.randn(zcr.shape[1:], generator=gen)[None]
        for j, t in enumerate(times):
            tr = torch.full((C,), t)
            state = {"video": zv, "cond_video": zc, "rays": t * zr + (1 - t) * n_r, "cond_rays": t * zcr + (1 - t) * n_c}
            tt = {"video": torch.ones(C), "cond_video": torch.ones(C, M), "rays": tr, "cond_rays": torch.full((C, M), t)}
            pred = pipe.model(state, tt, cond_pos=pipe.cond_positions(torch.tensor([slots] * C)))
            x = predicted_clean(pred["rays"], state["rays"], tr)
            xc = predicted_clean(pred["cond_rays"].flatten(0, 1), state["cond_rays"].flatten(0, 1), tr.repeat_interleave(M))
            e = ((x - zr) ** 2).flatten(1).sum(1) + ((xc.unflatten(0, (C, M)) - zcr) ** 2).flatten(1).sum(1)
            out[:, j, k] = (e / (zr[0].numel() + zcr[0].numel())).numpy()
    return out


truth_all, ens_all, sc_all, styles = [], [], [], []
t0 = time.time()
for i, c in enumerate(clips):
    ens = eng.estimate_poses(c.frames, steps=2, seed=0, ensemble="mirror_reverse").to(torch.float64)
    ens = ens.with_poses(canonicalize(ens.c2w, 0))
    truth = canonicalize(c.cameras.c2w.to(torch.float64), 0)
    cands = [ens.with_poses(scaled(ens.c2w, g)) for g in gains] + [ens.with_poses(truth)]
    video = torch.from_numpy(np.asarray(c.frames)).permute(0, 3, 1, 2).float() / 127.5 - 1
    sc_all.append(scores(video, cands)); truth_all.append(truth.numpy()); ens_all.append(ens.c2w.numpy())
    styles.append(c.label)
    if i % 10 == 0:
        print(i, f"{time.time() - t0:.0f}s", flush=True)
np.savez_compressed(out, truth=np.stack(truth_all), ensemble=np.stack(ens_all), gains=np.array(gains),
                    times=np.array(times), scores=np.stack(sc_all), styles=np.array(styles))
print("saved", out, f"{time.time() - t0:.0f}s")
