"""End to end: tiny models overfit on one or two (video, cameras) pairs recover trajectories from video.

This runs every part of the engine for real (camera codec, PatchVAE, JointDiT, flow loss, sampler,
Procrustes recovery), so a sign error anywhere in the chain shows up as a large rotation error. One
clip can be memorised without looking at the video; two mirrored clips cannot, so the second test
fails for a model whose ray output ignores the video (what the velocity-weighted loss produced).
"""

import dataclasses

import numpy as np
import torch
import torch.nn.functional as F
from skimage import data as skdata

import geometry as g
from engine import Engine
from engine.camera_codec import encode_cameras
from engine.checkpoint import save_checkpoint
from engine.config import ClipConfig, FlowConfig, ModelConfig, SamplerConfig, preset
from engine.objective import training_loss
from engine.pipeline import JointPipeline

SIZE = 16


def render_textured_plane(cams: g.Cameras, texture: torch.Tensor, depth: float = 3.0, extent: float = 4.0):
    """Exact render of the plane z = depth (world) textured over [-extent, extent]^2: (T, H, W, 3) uint8."""
    o, d = g.world_rays(cams, cams.height, cams.width)                       # (T, 3, H, W)
    s = (depth - o[:, 2]) / d[:, 2]
    hit = o + s[:, None] * d
    grid = torch.stack([hit[:, 0], hit[:, 1]], -1) / extent                 # (T, H, W, 2) in [-1, 1]
    img = F.grid_sample(texture[None].expand(len(cams), -1, -1, -1), grid.float(), align_corners=False,
                        padding_mode="reflection")
    return (img.permute(0, 2, 3, 1).clamp(0, 1) * 255).round().to(torch.uint8).numpy()


def _clip(angles=np.linspace(-0.35, 0.35, 9), sign=1.0):
    # An arc of 9 frames looking at the plane's centre: rotations up to ~25 degrees from the first frame.
    eyes = [(sign * 2.0 * np.sin(a), -0.3 * np.sin(2 * a), 3.0 - 2.0 * np.cos(a) - 1.2) for a in angles]
    c2w = torch.stack([g.look_at(torch.tensor(e, dtype=torch.float64),
                                 torch.tensor([0.0, 0.0, 3.0], dtype=torch.float64)) for e in eyes])
    cams = g.Cameras.from_fov(c2w, fov_y_deg=55.0, width=SIZE, height=SIZE)
    tex = torch.from_numpy(skdata.astronaut()).permute(2, 0, 1).float() / 255.0
    tex = F.interpolate(tex[None], size=(128, 128), mode="area")[0]
    return render_textured_plane(cams, tex), cams


def _config(loss_weighting="velocity"):
    cfg = preset("tiny")
    return dataclasses.replace(
        cfg,
        model=ModelConfig(dim=64, num_heads=4, num_layers=2, ffn_dim=128, latent_channels=192),
        flow=FlowConfig(cos_weight=0.5, p_video_clean=1.0, p_ray_clean=0.0, loss_weighting=loss_weighting),
        sampler=SamplerConfig(pose_steps=2),
        clip=ClipConfig(num_frames=9, height=SIZE, width=SIZE, num_cond=3),
        preset="overfit-test",
    )


def pose_batch(pipe: JointPipeline, clips, batch_size: int = 4) -> dict[str, torch.Tensor]:
    """A pose-estimation batch cycling through ``clips`` ((frames, cameras) pairs): source slot 0 at frame 0."""
    videos = [torch.from_numpy(f).float().permute(3, 0, 1, 2) / 127.5 - 1 for f, _ in clips]
    rays = [encode_cameras(c, ref=0, grid=pipe.ray_grid, encoding=pipe.cfg.model.camera_encoding)[0].float()
            for _, c in clips]
    pick = [i % len(clips) for i in range(batch_size)]
    return {"video": torch.stack([videos[i] for i in pick]), "rays": torch.stack([rays[i] for i in pick]),
            "cond_idx": torch.tensor([[0, 4, 8]]).expand(batch_size, -1),
            "num_sources": torch.ones(batch_size, dtype=torch.long)}


def _train(pipe: JointPipeline, batch: dict[str, torch.Tensor], steps: int, *, warmup_decay: bool, seed: int = 0,
           probe=None, probe_every: int = 50) -> None:
    """AdamW at 3e-3 on one fixed batch; optionally a 20-step warmup and a linear decay to 0.

    ``probe(step)``, when given, is called before every ``probe_every``-th update and after the last.
    """
    opt = torch.optim.AdamW(pipe.model.parameters(), lr=3e-3, weight_decay=0.0)
    sched = (torch.optim.lr_scheduler.LambdaLR(opt, lambda i: min(1.0, (i + 1) / 20) * (1 - i / steps))
             if warmup_decay else None)
    gen = torch.Generator().manual_seed(seed)
    for i in range(steps):
        if probe is not None and i % probe_every == 0:
            probe(i)
        loss, _ = training_loss(pipe, batch, generator=gen)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if sched is not None:
            sched.step()
    if probe is not None:
        probe(steps)


def own_and_other_errors(eng: Engine, clips) -> tuple[list[float], list[float]]:
    """Per clip, the 2-step mean rotation error against its own trajectory and against the other clip's."""
    truths = [g.canonicalize(c.c2w, 0)[..., :3, :3] for _, c in clips]
    own, other = [], []
    for k, (frames, _) in enumerate(clips):
        pred = eng.estimate_poses(frames, steps=2).R.double()
        own.append(float(g.relative_rotation_angle_deg(pred, truths[k]).mean()))
        other.append(float(g.relative_rotation_angle_deg(pred, truths[1 - k]).mean()))
    return own, other


def test_overfit_one_clip_then_recover_its_trajectory(tmp_path):
    torch.manual_seed(0)
    frames, cams = _clip()
    pipe = JointPipeline(_config())
    _train(pipe, pose_batch(pipe, [(frames, cams)]), 600, warmup_decay=True)

    eng = Engine(pipe, device=torch.device("cpu"), dtype=torch.float32, source="overfit", trained=True)
    # 10 ray steps: a few hundred steps teach the late (nearly clean) part of the flow well, the first
    # steps from pure noise less so (2 steps give ~7 degrees here); the trained checkpoint uses 2.
    pred = eng.estimate_poses(frames, steps=10)
    truth = cams.with_poses(g.canonicalize(cams.c2w, 0))
    err = g.relative_rotation_angle_deg(pred.R.double(), truth.R)
    identity_err = g.rotation_angle(truth.R).rad2deg()
    assert float(identity_err.mean()) > 8.0           # the trivial answer is far off ...
    assert float(err.mean()) < 5.0, err               # ... the model is not
    # The checkpoint round trip gives identical outputs.
    save_checkpoint(tmp_path / "ckpt", pipe.model, pipe.cfg, {"training_domain": "one test clip"})
    again = Engine.from_checkpoint(tmp_path / "ckpt", device="cpu").estimate_poses(frames, steps=10)
    assert torch.equal(again.c2w, pred.c2w) and torch.equal(again.K, pred.K)


def test_two_mirrored_clips_are_told_apart_by_their_video():
    torch.manual_seed(0)
    arc = np.linspace(0.0, 0.6, 9)                   # turns up to ~20 degrees, to the right or to the left
    clips = [_clip(arc, +1.0), _clip(arc, -1.0)]
    pipe = JointPipeline(_config(loss_weighting="data"))
    _train(pipe, pose_batch(pipe, clips), 300, warmup_decay=False)

    eng = Engine(pipe, device=torch.device("cpu"), dtype=torch.float32, source="overfit", trained=True)
    own, other = own_and_other_errors(eng, clips)
    for k in range(2):
        # A model that ignores the video gives both clips the same answer: closer to one clip's truth,
        # so wrong for the other.
        assert own[k] < 0.5 * other[k], (k, own[k], other[k])
