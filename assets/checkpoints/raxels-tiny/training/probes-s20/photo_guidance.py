"""Session 20, one-off: photo guidance for the joint path. Inference only, no training.

Cameras-first joint generation (``sampler.joint_order``) samples the path with the video at pure noise and the
photo in conditioning slot 0. Session 19 found that the ray stream's velocity reads the photo a little (1-2 deg in
its one-step estimate) while the sampled paths do not show it. Guidance in the manner of classifier-free guidance
amplifies that part: each step the ray velocities are ``v_null + w (v_photo - v_null)``, where ``v_null`` is the
same call with slot 0 not given (held at its noise, time 0, as every other slot is). w = 1 is the engine's own
sampler, drawn with the same noise (checked against ``kind_joint.py``'s figure for the shipped model).

For the 48 kind-tied clips of ``probes-s18/kind_joint.py`` (same construction, same noise seed per clip),
reports joint own/other and the own and other errors for each w.

--ray-steps N (default: the checkpoint's ``sampler.joint_ray_steps``, 20) samples the path in N steps instead; with
few steps the path is nearer the model's mean answer for the photo than a sample from its distribution.
--standard uses the standard generator's held-out clips instead (``procedural_clips``, as ``engine.evaluate.probe``'s
joint figures with seed 0: the same clips, photos and noise). Beside the model, answers that cannot read the photo:
the identity (never turns) and a fixed path (clip 0's truth for every clip).

    OMP_NUM_THREADS=1 python assets/checkpoints/raxels-tiny/training/probes-s20/photo_guidance.py OUT.json FIRST COUNT W1,W2,.. CK [CK ...] \
        [--ray-steps N] [--standard]
"""
import json, sys, time
import numpy as np, torch
from engine import Engine
from engine.config import ClipConfig
from engine.data import HELDOUT_SEEDS, KIND_STYLES, make_scene, render, sample_trajectory
from engine.evaluate.probe import own_other_ratio
from engine.sampler import sample_steps, time_schedule
from engine.tasks import conditioning_slots, _decode_poses, _ray_latent_like
from geometry import identity_baseline

ray_steps = None
if "--ray-steps" in sys.argv:
    i = sys.argv.index("--ray-steps"); ray_steps = int(sys.argv[i + 1]); del sys.argv[i:i + 2]
standard = "--standard" in sys.argv
if standard:
    sys.argv.remove("--standard")
out_path, first, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
weights, checkpoints = [float(w) for w in sys.argv[4].split(",")], sys.argv[5:]
clip = ClipConfig()
truths, photos = [], []
if standard:
    from engine.evaluate.benchmarks import procedural_clips
    for c in procedural_clips(clip, count, first_seed=first):
        truths.append(c.cameras); photos.append(c.frames[0])
else:
    for n in range(first, first + count):        # the clips of kind_joint.py, built the same way
        seed, style = HELDOUT_SEEDS[n], ("re10k", "dl3dv")[n % 2]
        kind = "indoor" if style in KIND_STYLES["indoor"] else "outdoor"
        scene = make_scene(seed, kind)
        path = sample_trajectory(scene, clip.num_frames, rng=np.random.default_rng([seed, 0xE7A1]), style=style,
                                 width=clip.width, height=clip.height)
        truths.append(path.cameras.to(torch.float64))
        photos.append(render(scene, path.cameras[:1], supersample=2, depth=False).uint8().numpy()[0])

@torch.inference_mode()
def guided_path(eng, photo, seed, w):
    """The ray stage of ``generate_joint_events`` (order cameras_first), noise drawn in the same order."""
    pipe = eng.pipe
    T = clip.num_frames
    images = torch.from_numpy(photo[None]).permute(0, 3, 1, 2).float() / 127.5 - 1
    slots = conditioning_slots(T, pipe.cfg.clip.num_cond, [0])
    M = len(slots)
    z_src = pipe.encode_frames(images[None])
    gen = torch.Generator().manual_seed(seed)
    C, h, wd = z_src.shape[2:]
    F_ = 1 + (T - 1) // pipe.temporal_factor
    z_video = torch.randn(1, C, F_, h, wd, generator=gen)
    z_cond = torch.randn(1, M, C, h, wd, generator=gen)
    slot0_noise = z_cond[:, :1].clone()
    z_cond[:, :1] = z_src
    z_rays = torch.randn(_ray_latent_like(pipe, z_video).shape, generator=gen)
    z_cond_rays = torch.randn(_ray_latent_like(pipe, z_cond, slots=M).shape, generator=gen)
    steps = ray_steps or pipe.cfg.sampler.joint_ray_steps
    r_sched = time_schedule(steps, shift=pipe.cfg.sampler.shift)
    v_sched = torch.zeros(steps + 1)
    fixed = {"cond_video": torch.arange(M)[None] < 1}
    cond_pos = pipe.cond_positions(torch.tensor([slots] * 2))

    def velocity(s, t):
        if w == 1.0:
            return pipe.model(s, t, cond_pos=cond_pos[:1])
        both = {k: torch.cat([v, v]) for k, v in s.items()}
        both["cond_video"][1:, :1] = slot0_noise                      # the second half: no photo
        tb = {k: torch.cat([v, v]) for k, v in t.items()}
        tb["cond_video"][1:, 0] = 0.0
        out = pipe.model(both, tb, cond_pos=cond_pos)
        res = {k: v[:1] for k, v in out.items()}
        for k in ("rays", "cond_rays"):
            res[k] = out[k][1:] + w * (out[k][:1] - out[k][1:])
        return res

    state = {"video": z_video, "cond_video": z_cond, "rays": z_rays, "cond_rays": z_cond_rays}
    final = state
    for step in sample_steps(velocity, state, schedules={"video": v_sched, "cond_video": v_sched, "rays": r_sched,
                                                         "cond_rays": r_sched},
                             fixed=fixed, method=pipe.cfg.sampler.method, time_dims={"cond_video": 2, "cond_rays": 2}):
        final = step.state
    return _decode_poses(pipe, final["rays"], 0).cameras.to(torch.float64)


result = {"clips": count, "first_seed": first, "weights": weights, "ray_steps": ray_steps, "standard": standard}
for name, answer in (("identity", [identity_baseline(t) for t in truths]),
                     ("fixed_path", [truths[0]] * count)):
    own, other, ratio = own_other_ratio(answer, truths)
    result[name] = {"own": own, "other": other, "own_other": ratio}
    print(name, result[name], flush=True)
for ck in checkpoints:
    eng = Engine.from_checkpoint(ck, device="cpu")
    result[ck] = {}
    for w in weights:
        t0 = time.time()
        predicted = [guided_path(eng, p, i, w) for i, p in enumerate(photos)]
        own, other, ratio = own_other_ratio(predicted, truths)
        result[ck][str(w)] = {"own": own, "other": other, "own_other": ratio, "seconds": round(time.time() - t0)}
        print(ck, w, result[ck][str(w)], flush=True)
        json.dump(result, open(out_path, "w"), indent=1)
