"""The trainer: end to end on a synthetic stream, exact resume, EMA, LR schedule, config errors, accumulation.

Everything runs a very small model on 5-frame 16x16 clips, so the whole file takes well under a
minute on two cores. ``SyntheticClips`` stands in for ``engine.data``: random smooth frames and
random smooth camera paths encoded with ``engine.camera_codec.encode_cameras``.
"""

from __future__ import annotations

import json
import math
import textwrap
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from torch.utils.data import IterableDataset, get_worker_info

from engine import Engine
from engine.camera_codec import encode_cameras
from engine.config import EngineConfig
from engine.train import (EMA, RunConfig, StreamBatchSampler, load_run_config, lr_factor, make_loader,
                          parse_run_config, train)
from engine.train.curves import read_curves
from geometry import Cameras
from geometry.transforms import axis_angle_to_matrix, make_pose

REPO = Path(__file__).resolve().parent.parent

# A model small enough for CPU tests: 2 layers of width 32, 5-frame 16x16 clips (PatchVAE 4 -> 2x4x4 grid).
TINY_TOML = """
[engine]
preset = "tiny"
[engine.model]
dim = 32
num_heads = 2
num_layers = 2
ffn_dim = 64
[engine.clip]
num_frames = 5
height = 16
width = 16
num_cond = 3

[train]
seed = 3
steps = 4
batch_size = 2
lr = 1e-3
warmup_steps = 1
ema_decay = 0.9
checkpoint_every = 2
log_every = 1
progress = false
torch_threads = 1

[data]
source = "custom"
factory = "test_train:synthetic_source"
num_workers = 0

[eval]
at_end = false
num_clips = 2
pose_clips = 1
batch_size = 2
"""


# --------------------------------------------------------------------------------------
# A synthetic example stream (the engine.data interface)
# --------------------------------------------------------------------------------------

class SyntheticClips(IterableDataset):
    """Endless clips; example ``i`` is a pure function of ``(seed, i)``.

    Worker-aware iteration (worker w of n yields i = start + w, start + w + n, ...) and resumable
    (``start``); the trainer uses ``example(i)``.
    """

    def __init__(self, cfg: EngineConfig, *, seed: int = 0, start: int = 0, num_sources: int | None = None):
        self.cfg, self.seed, self.start, self.num_sources = cfg, seed, start, num_sources

    def example(self, i: int) -> dict[str, torch.Tensor]:
        c = self.cfg.clip
        T, H, W, M = c.num_frames, c.height, c.width, c.num_cond
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + i)
        # Frames: a coarse random pattern drifting smoothly over time.
        base = torch.rand(3, 1, 4, 4, generator=g) * 2 - 1
        drift = torch.rand(3, 1, 4, 4, generator=g) * 2 - 1
        ts = torch.linspace(0, 1, T).view(1, T, 1, 1)
        coarse = (base + 0.5 * ts * drift).clamp(-1, 1)                       # (3, T, 4, 4)
        video = torch.nn.functional.interpolate(coarse, size=(H, W), mode="bilinear", align_corners=False)
        # Cameras: constant angular and linear velocity (a smooth path), 50-70 degree FOV.
        w = (torch.rand(3, generator=g, dtype=torch.float64) - 0.5) * 0.3
        v = (torch.rand(3, generator=g, dtype=torch.float64) - 0.5) * 0.4
        k = torch.arange(T, dtype=torch.float64)[:, None]
        c2w = make_pose(axis_angle_to_matrix(k * w), k * v)
        fov = 50 + 20 * float(torch.rand(1, generator=g))
        cams = Cameras.from_fov(c2w, fov_y_deg=fov, width=W, height=H)
        order = torch.randperm(T, generator=g)[:M]
        cond_idx = order.long()
        ns = self.num_sources or int(torch.randint(1, M, (1,), generator=g))
        ds = self.cfg.model.raxel_downsample
        rays, _ = encode_cameras(cams, ref=int(cond_idx[0]), grid=(H // ds, W // ds),
                                 encoding=self.cfg.model.camera_encoding)
        return {"video": video.float(), "rays": rays.float(), "cond_idx": cond_idx,
                "num_sources": torch.tensor(ns)}

    def __iter__(self):
        info = get_worker_info()
        w, n = (info.id, info.num_workers) if info is not None else (0, 1)
        i = self.start + w
        while True:
            yield self.example(i)
            i += n


def synthetic_source(cfg: EngineConfig, seed: int, split: str, num_sources: int | None = None) -> SyntheticClips:
    """The ``data.factory`` of the test configs (held-out split: another seed range)."""
    return SyntheticClips(cfg, seed=seed + (10_000 if split == "heldout" else 0), num_sources=num_sources)


def _run_config(tmp_path: Path, name: str, *overrides: str) -> RunConfig:
    return parse_run_config(_toml(TINY_TOML), where="test", overrides=[f'train.output_dir="{tmp_path / name}"',
                                                                         *overrides])


def _toml(text: str) -> dict:
    import tomllib

    return tomllib.loads(text)


# --------------------------------------------------------------------------------------
# End to end
# --------------------------------------------------------------------------------------

def test_run_writes_checkpoint_curves_summary_and_loads_into_engine(tmp_path):
    run = _run_config(tmp_path, "e2e", "train.steps=3", "eval.at_end=true")
    result = train(run)
    d = result.run_dir
    final = d / "final"
    assert result.checkpoint == final and result.step == 3 and len(result.losses) == 3
    assert all(math.isfinite(x) for x in result.losses)
    for f in ("curves.csv", "curves.png", "summary.json", "run_config.json", "final/model.safetensors",
              "final/config.json", "final/training_state/state.json", "final/training_state/optimizer.safetensors"):
        assert (d / f).is_file(), f
    assert (d / "checkpoints" / "step-0000002").is_dir()                      # checkpoint_every = 2
    rows = read_curves(d / "curves.csv")
    assert [r["step"] for r in rows] == [1, 2, 3]
    assert all(math.isfinite(r[k]) for r in rows for k in ("loss", "lr", "grad_norm", "step_s"))
    assert [r["loss"] for r in rows] == pytest.approx(result.losses)
    summary = json.loads((d / "summary.json").read_text())
    assert summary["completed"] and 0 <= summary["data_to_step_ratio"] < 1
    assert {"heldout_loss", "pose_rot_err_deg", "identity_rot_err_deg", "pose_rot_err_median_deg",
            "pose_beats_identity"} <= set(summary["eval"])
    assert 0 <= summary["eval"]["pose_beats_identity"] <= 1
    # The checkpoint holds the EMA weights, is what users load, and knows its training domain.
    ema_w = load_file(str(final / "model.safetensors"))
    raw_w = load_file(str(final / "training_state" / "model.safetensors"))
    assert any(not torch.equal(ema_w[k], raw_w[k]) for k in ema_w)
    eng = Engine.from_checkpoint(final, device="cpu")
    assert eng.trained and eng.meta["steps"] == 3 and eng.meta["weights"] == "ema"
    assert eng.info()["training_domain"] == "custom" and "eval" in eng.meta
    clip = SyntheticClips(run.engine, seed=99).example(0)
    frames = ((clip["video"].permute(1, 2, 3, 0) + 1) * 127.5).round().to(torch.uint8).numpy()   # (T, H, W, 3)
    cams = eng.estimate_poses(frames, steps=2)
    assert cams.batch_shape == (5,) and torch.isfinite(cams.c2w).all()


# --------------------------------------------------------------------------------------
# Exact resume
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("workers", [0, 1])
def test_resume_equals_uninterrupted_run(tmp_path, workers):
    w = f"data.num_workers={workers}"
    straight = train(_run_config(tmp_path, "straight", w))
    first = train(_run_config(tmp_path, "split", w), stop_at=2)
    assert first.step == 2 and first.checkpoint.name == "step-0000002"
    second = train(_run_config(tmp_path, "split", w), resume=tmp_path / "split")
    assert first.losses + second.losses == straight.losses                    # bit-identical
    for f in ("model.safetensors", "training_state/model.safetensors", "training_state/optimizer.safetensors"):
        a, b = load_file(str(straight.checkpoint / f)), load_file(str(second.checkpoint / f))
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), f
    rows_a, rows_b = read_curves(straight.run_dir / "curves.csv"), read_curves(second.run_dir / "curves.csv")
    assert [r["loss"] for r in rows_a] == [r["loss"] for r in rows_b]
    sa = json.loads((straight.checkpoint / "training_state" / "state.json").read_text())
    sb = json.loads((second.checkpoint / "training_state" / "state.json").read_text())
    assert sa["counters"]["examples"] == sb["counters"]["examples"] == 8
    assert sa["scheduler"] == sb["scheduler"] and sa["ema"] == sb["ema"]


def test_packed_state_is_smaller_and_resumes_closely(tmp_path, capsys):
    from engine.cli import main

    straight = train(_run_config(tmp_path, "straight"))
    first = train(_run_config(tmp_path, "split"), stop_at=2)
    packed = tmp_path / "packed"
    assert main(["pack-state", str(tmp_path / "split"), "--out", str(packed)]) == 0
    assert "--resume" in capsys.readouterr().out
    full, small = first.checkpoint / "training_state", packed / "training_state"
    for f in ("model.safetensors", "optimizer.safetensors"):
        assert (small / f).stat().st_size < 0.6 * (full / f).stat().st_size, f
    # Inference reads the packed checkpoint's weights unchanged.
    a, b = load_file(str(first.checkpoint / "model.safetensors")), load_file(str(packed / "model.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)
    # Resuming continues the run: the raw weights come back to ~1e-5 and the next step's loss matches closely.
    from engine.train.state import _raw_weights, read_state_doc

    raw = load_file(str(full / "model.safetensors"))
    back = _raw_weights(packed, read_state_doc(packed))
    for k in raw:
        assert torch.allclose(back[k], raw[k], rtol=0, atol=1e-5 * (1 + raw[k].abs().max().item())), k
    run = _run_config(tmp_path, "from-packed")
    second = train(run, resume=packed)
    assert second.step == straight.step == 4 and len(second.losses) == 2
    assert second.losses == pytest.approx(straight.losses[2:], rel=1e-3)
    # Packing twice, or into an existing directory, is refused with the reason.
    with pytest.raises(ValueError, match="already packed"):
        main(["--debug", "pack-state", str(packed), "--out", str(tmp_path / "again")])
    with pytest.raises(ValueError, match="exists"):
        main(["--debug", "pack-state", str(tmp_path / "split"), "--out", str(packed)])


def test_cli_stop_and_resume_with_stored_config(tmp_path):
    from engine.cli import main

    cfg_file = tmp_path / "run.toml"
    cfg_file.write_text(TINY_TOML)
    out = tmp_path / "cli"
    args = ["train", "--config", str(cfg_file), "--set", f'train.output_dir="{out}"', "--set", "train.steps=2"]
    assert main(args + ["--stop-at", "1"]) == 0
    assert (out / "checkpoints" / "step-0000001").is_dir() and not (out / "final").exists()
    assert main(["train", "--resume", str(out)]) == 0                         # the run's own config
    assert (out / "final" / "model.safetensors").is_file()
    assert [r["step"] for r in read_curves(out / "curves.csv")] == [1, 2]
    assert main(["train", "--config", str(cfg_file), "--set", f'train.output_dir="{out}"']) == 2  # exists


# --------------------------------------------------------------------------------------
# Pieces
# --------------------------------------------------------------------------------------

def test_ema_math():
    model = torch.nn.Linear(2, 1)
    model.register_buffer("counter", torch.tensor(7.0))
    w0 = model.weight.detach().clone()
    ema = EMA(model, 0.9, warmup=False)
    with torch.no_grad():
        model.weight.fill_(1.0)
    ema.update(model)
    assert torch.allclose(ema.shadow["weight"], 0.9 * w0 + 0.1)
    ema.update(model)
    assert torch.allclose(ema.shadow["weight"], 0.81 * w0 + 0.19)
    sd = ema.state_dict(model)
    assert set(sd) == {"weight", "bias", "counter"} and float(sd["counter"]) == 7.0
    # Warmup: d_k = min(decay, (1 + k) / (10 + k)): 0.1, then 2/11, ...
    warm = EMA(model, 0.999, warmup=True)
    assert warm.current_decay() == pytest.approx(0.1)
    e0 = warm.shadow["bias"].clone()
    with torch.no_grad():
        model.bias.fill_(-2.0)
    warm.update(model)
    assert torch.allclose(warm.shadow["bias"], 0.1 * e0 + 0.9 * -2.0)
    assert warm.current_decay() == pytest.approx(2 / 11)
    with pytest.raises(ValueError):
        EMA(model, 1.0)
    # Names as wrappers spell them (DDP, activation checkpointing) map to checkpoint names.
    from engine.train.ema import clean_name

    assert clean_name("module.blocks.0._checkpoint_wrapped_module.video.ffn.w") == "blocks.0.video.ffn.w"
    assert clean_name("a.submodule.w") == "a.submodule.w"


def test_lr_schedule():
    kw = dict(total_steps=110, warmup_steps=10, min_lr_ratio=0.1)
    assert lr_factor(0, schedule="cosine", **kw) == pytest.approx(0.1)
    assert lr_factor(9, schedule="cosine", **kw) == pytest.approx(1.0)
    assert lr_factor(10, schedule="cosine", **kw) == pytest.approx(1.0)
    assert lr_factor(109, schedule="cosine", **kw) == pytest.approx(0.1)
    assert lr_factor(59, schedule="cosine", **kw) == pytest.approx(0.55, abs=0.01)
    assert lr_factor(500, schedule="constant", **kw) == 1.0


def test_stream_sampler_shards_and_resumes():
    a = iter(StreamBatchSampler(batch_size=2, rank=0, world_size=2))
    b = iter(StreamBatchSampler(batch_size=2, rank=1, world_size=2))
    assert [next(a), next(b), next(a), next(b)] == [[0, 1], [2, 3], [4, 5], [6, 7]]
    r = iter(StreamBatchSampler(batch_size=2, start=4, rank=0, world_size=2))
    assert next(r) == [4, 5]
    # The loader gives the same batches with or without a worker process.
    cfg = _run_config(Path("/tmp"), "unused").engine
    src = SyntheticClips(cfg, seed=1)
    b0 = next(iter(make_loader(src, batch_size=2, start=3, num_workers=0)))
    b1 = next(iter(make_loader(src, batch_size=2, start=3, num_workers=1)))
    assert all(torch.equal(b0[k], b1[k]) for k in b0) and b0["video"].shape == (2, 3, 5, 16, 16)
    assert torch.equal(b0["video"][0], src.example(3)["video"])


def test_gradient_accumulation_matches_larger_batch(tmp_path, monkeypatch):
    """accum 2 x batch 1 == batch 2 when the loss is a mean over equally many tokens per example:
    times and noise are made per-example deterministic, so both runs see the same targets."""
    import engine.flow
    import engine.objective

    def fixed_times(batch, *, cfg, generator=None, device=None, step=None):
        t = torch.full((batch,), 0.4)
        return t.to(device), (t + 0.2).to(device)

    def fixed_noise(like, generator=None):
        if isinstance(like, dict):
            return {k: fixed_noise(v) for k, v in like.items()}
        g = torch.Generator().manual_seed(5)
        return torch.randn(like.shape[1:], generator=g).expand_as(like).to(like)

    monkeypatch.setattr(engine.objective, "sample_train_times", fixed_times)
    monkeypatch.setattr(engine.flow, "make_noise", fixed_noise)
    common = ["train.steps=1", "train.grad_clip=0.0", "train.checkpoint_every=0", "data.options={num_sources=1}"]
    big = train(_run_config(tmp_path, "big", "train.batch_size=2", *common))
    acc = train(_run_config(tmp_path, "acc", "train.batch_size=1", "train.grad_accum=2", *common))
    assert acc.losses[0] == pytest.approx(big.losses[0], rel=1e-5)
    m_big = load_file(str(big.checkpoint / "training_state" / "optimizer.safetensors"))
    m_acc = load_file(str(acc.checkpoint / "training_state" / "optimizer.safetensors"))
    moments = [k for k in m_big if k.endswith("/exp_avg")]
    assert moments and all(torch.allclose(m_acc[k], m_big[k], rtol=1e-4, atol=1e-9) for k in moments)


# --------------------------------------------------------------------------------------
# Config files
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["tiny", "small", "wan-1.3b"])
def test_shipped_configs_parse(name):
    run = load_run_config(REPO / "configs" / f"{name}.toml")
    assert run.engine.preset == name
    round_trip = RunConfig.from_dict(json.loads(json.dumps(run.to_dict())))
    assert round_trip.to_dict() == run.to_dict()


@pytest.mark.parametrize("text, message", [
    ("[train]\nlrr = 1e-3", r"\[train\] unknown key 'lrr' \(did you mean 'lr'\?\)"),
    ("[train]\nlr = \"3e-4\"", r"\[train\] lr: expected a number, got str '3e-4'"),
    ("[train]\nsteps = 1.5", r"\[train\] steps: expected an integer, got float 1.5"),
    ("[train]\nschedule = \"linear\"", r"\[train\] schedule: expected one of 'cosine', 'constant'"),
    ("[train]\nbetas = [0.9]", r"\[train\] betas: expected a list of 2"),
    ("[engine.model]\ndimm = 3", r"\[engine.model\] unknown key 'dimm' \(did you mean 'dim'\?\)"),
    ("[engine.model]\nattention = \"local\"", r"\[engine.model\] attention: expected one of 'dsca', 'global'"),
    ("[engine]\npreset = \"huge\"", r"unknown preset 'huge'"),
    ("[trian]\nsteps = 3", r"unknown section 'trian' \(did you mean 'train'\?\)"),
    ("[data]\nsource = \"re10k\"", r"data.source = 're10k' needs data.path"),
    ("[train]\nema_decay = 1.0", r"train.ema_decay must be in \[0, 1\)"),
    ("[train]\nsteps = 0", r"train.steps must be >= 1"),
    ("[train]\nlr = 3e-4 3", r"not valid TOML"),
])
def test_config_errors_are_clear(tmp_path, text, message):
    f = tmp_path / "bad.toml"
    f.write_text(textwrap.dedent(text))
    with pytest.raises(ValueError, match=message) as info:
        load_run_config(f)
    assert str(f) in str(info.value)


def test_init_checkpoint_may_differ_only_in_switches_that_add_no_tensor(tmp_path):
    from engine.checkpoint import save_checkpoint
    from engine.train import build_pipeline

    base = _run_config(tmp_path, "base")
    saved = build_pipeline(base)
    save_checkpoint(tmp_path / "ck", saved.model, base.engine)
    ok = _run_config(tmp_path, "residual", f'train.init_checkpoint="{tmp_path / "ck"}"',
                     "engine.model.video_residual=true")
    pipe = build_pipeline(ok)
    assert pipe.cfg.model.video_residual
    assert all(torch.equal(v, saved.model.state_dict()[k]) for k, v in pipe.model.state_dict().items())
    wider = _run_config(tmp_path, "wider", f'train.init_checkpoint="{tmp_path / "ck"}"', "engine.model.ffn_dim=96")
    with pytest.raises(ValueError, match=r"differs .* in \['ffn_dim'\]"):
        build_pipeline(wider)
    # Switching XFeat features on adds a zero-initialised input: the rest is loaded, the new layer is zero.
    feats = build_pipeline(_run_config(tmp_path, "xfeat", f'train.init_checkpoint="{tmp_path / "ck"}"',
                                       "engine.model.xfeat_features=true"))
    state = feats.model.state_dict()
    assert all(torch.equal(v, state[k]) for k, v in saved.model.state_dict().items())
    assert not state["video_io.feature_embedding.weight"].any()
    save_checkpoint(tmp_path / "ck-xfeat", feats.model, feats.cfg)
    back = _run_config(tmp_path, "back", f'train.init_checkpoint="{tmp_path / "ck-xfeat"}"')
    with pytest.raises(ValueError, match=r"xfeat_features"):         # switching it off would drop tensors
        build_pipeline(back)
    # So does the warped reference.
    guided = build_pipeline(_run_config(tmp_path, "warp", f'train.init_checkpoint="{tmp_path / "ck"}"',
                                        "engine.model.warped_reference=true"))
    state = guided.model.state_dict()
    assert all(torch.equal(v, state[k]) for k, v in saved.model.state_dict().items())
    assert not state["video_io.guide_embedding.weight"].any() and not state["video_io.guide_embedding.bias"].any()
    # A change of what the video head predicts (preconditioned residual) may restart that head from zero;
    # everything else is loaded as it was.
    with torch.no_grad():
        saved.model.video_io.proj_out.bias.fill_(0.5)
    save_checkpoint(tmp_path / "ck-head", saved.model, base.engine)
    fresh_head = build_pipeline(_run_config(tmp_path, "head", f'train.init_checkpoint="{tmp_path / "ck-head"}"',
                                            "engine.model.video_residual=true", "engine.model.video_prior_std=0.1",
                                            "train.reset_video_head=true"))
    state = fresh_head.model.state_dict()
    head = {"video_io.proj_out.weight", "video_io.proj_out.bias"}
    assert all(not state[k].any() for k in head)
    assert all(torch.equal(v, state[k]) for k, v in saved.model.state_dict().items() if k not in head)
    with pytest.raises(ValueError, match="reset_video_head needs train.init_checkpoint"):
        _run_config(tmp_path, "nohead", "train.reset_video_head=true")


def test_init_video_stream_takes_the_video_stream_and_builds_rays_and_dsca_from_it(tmp_path):
    from engine.checkpoint import save_checkpoint
    from engine.train import build_pipeline

    base = _run_config(tmp_path, "base")
    saved = build_pipeline(base)
    with torch.no_grad():                       # a trained model: its streams and cross-attention differ
        for p in saved.model.parameters():
            p.add_(0.01 * torch.randn_like(p))
    save_checkpoint(tmp_path / "ck", saved.model, base.engine)
    old = saved.model.state_dict()
    for arm in ([], ['engine.model.camera_encoding="plucker"'], ['engine.model.attention="global"']):
        pipe = build_pipeline(_run_config(tmp_path, "arm", f'train.init_checkpoint="{tmp_path / "ck"}"',
                                          "train.init_video_stream=true", *arm))
        state = pipe.model.state_dict()
        for k, v in state.items():
            if ".video." in k and ".cross." not in k and ".norm_cross." not in k:
                assert torch.equal(v, old[k]), k                                  # the video stream, as saved
                assert torch.equal(state[k.replace(".video.", ".ray.")], v), k   # the ray stream copies it
        for block in pipe.model.blocks:
            for stream in (block.video, block.ray):
                if hasattr(stream, "cross"):                                      # DSCA: zero output at start
                    assert not stream.cross.to_out[0].weight.any()
                    assert torch.equal(stream.cross.to_q.weight, stream.attn1.to_q.weight)
        assert torch.equal(state["video_io.proj_out.weight"], old["video_io.proj_out.weight"])
    wider = _run_config(tmp_path, "wider", f'train.init_checkpoint="{tmp_path / "ck"}"', "train.init_video_stream=true",
                        "engine.model.ffn_dim=96")
    with pytest.raises(ValueError, match=r"only \['attention', 'camera_encoding'\]"):
        build_pipeline(wider)
    with pytest.raises(ValueError, match="init_video_stream needs train.init_checkpoint"):
        _run_config(tmp_path, "alone", "train.init_video_stream=true")


def test_freeze_video_stream_trains_the_ray_side_only(tmp_path):
    from engine.checkpoint import save_checkpoint
    from engine.train import build_pipeline

    base = _run_config(tmp_path, "base")
    save_checkpoint(tmp_path / "ck", build_pipeline(base).model, base.engine)
    before = load_file(str(tmp_path / "ck" / "model.safetensors"))
    result = train(_run_config(tmp_path, "frozen", f'train.init_checkpoint="{tmp_path / "ck"}"',
                               "train.freeze_video_stream=true", "train.steps=2"))
    for weights in ("model.safetensors", "training_state/model.safetensors"):     # EMA and raw
        after = load_file(str(result.checkpoint / weights))
        video = [k for k in after if k.startswith("video_io.") or ".video." in k]
        ray = [k for k in after if k.startswith("ray_io.") or ".ray." in k]
        assert video and ray and len(video) + len(ray) == len(after)
        assert all(torch.equal(after[k], before[k]) for k in video)
        assert sum(not torch.equal(after[k], before[k]) for k in ray) > len(ray) // 2
    with pytest.raises(ValueError, match="freeze_video_stream needs train.init_checkpoint"):
        _run_config(tmp_path, "alone", "train.freeze_video_stream=true")


def test_average_checkpoints_writes_the_mean_that_the_engine_loads(tmp_path):
    from engine.cli import main

    result = train(_run_config(tmp_path, "run"))
    a, b = result.run_dir / "checkpoints" / "step-0000002", result.checkpoint
    assert main(["average-checkpoints", str(a), str(b), "--out", str(tmp_path / "swa")]) == 0
    wa, wb = load_file(str(a / "model.safetensors")), load_file(str(b / "model.safetensors"))
    mean = load_file(str(tmp_path / "swa" / "model.safetensors"))
    assert mean.keys() == wa.keys() and any(not torch.equal(wa[k], wb[k]) for k in wa)
    assert all(torch.allclose(mean[k], (wa[k].double() + wb[k].double()).div(2).float(), atol=1e-7) for k in wa)
    eng = Engine.from_checkpoint(tmp_path / "swa", device="cpu")
    assert eng.meta["averaged"] == [str(a), str(b)] and eng.meta["steps"] == 4
    other = train(_run_config(tmp_path, "wider", "engine.model.ffn_dim=96", "train.steps=1"))
    with pytest.raises(ValueError, match="model config differs"):
        main(["--debug", "average-checkpoints", str(b), str(other.checkpoint), "--out", str(tmp_path / "bad")])
    with pytest.raises(ValueError, match="exists"):
        main(["--debug", "average-checkpoints", str(a), str(b), "--out", str(tmp_path / "swa")])


def test_overrides():
    run = parse_run_config({}, overrides=["train.steps=7", "engine.model.dim=64", "data.path=/data/x",
                                          "train.betas=[0.8, 0.9]"])
    assert run.train.steps == 7 and run.engine.model.dim == 64 and run.data.path == "/data/x"
    assert run.train.betas == (0.8, 0.9)
    with pytest.raises(ValueError, match="expected section.key=value"):
        parse_run_config({}, overrides=["steps"])


# --------------------------------------------------------------------------------------
# engine.data sources
# --------------------------------------------------------------------------------------

def test_sources_from_engine_data(tmp_path):
    from engine.train.data import build_source, fetch_example

    small = {"engine": {"clip": {"num_frames": 5, "height": 16, "width": 16}}}
    run = parse_run_config({**small, "data": {"source": "re10k", "path": str(REPO / "tests" / "data" / "re10k")}})
    with pytest.warns(UserWarning, match="skipping clip"):                  # two clips lack their video
        src = build_source(run.data, run.engine, seed=0, split="train")
    ex = fetch_example(src, 0)
    assert ex["video"].shape == (3, 5, 16, 16) and ex["rays"].shape == (5, 3, 16, 16)
    run = parse_run_config({**small, "data": {"source": "procedural", "options": {"supersample": 1}}})
    held = build_source(run.data, run.engine, seed=0, split="heldout")
    assert torch.equal(fetch_example(held, 0)["video"], fetch_example(held, 0)["video"])
    bad = parse_run_config({**small, "data": {"source": "procedural", "options": {"supersampl": 1}}})
    with pytest.raises(ValueError, match="data.options"):
        build_source(bad.data, bad.engine, seed=0, split="train")


def test_unusable_examples_get_deterministic_substitutes():
    from engine.train.data import SUBSTITUTE_STRIDE, fetch_example

    class Gappy:
        def example(self, n):
            return None if n % 2 else {"n": n}

    assert fetch_example(Gappy(), 4) == {"n": 4}
    assert fetch_example(Gappy(), 3) == {"n": 3 + SUBSTITUTE_STRIDE}

    class Empty:
        def example(self, n):
            return None

    with pytest.raises(RuntimeError, match="no usable example"):
        fetch_example(Empty(), 0)


def test_fine_tuning_from_a_wan_checkpoint(tmp_path):
    """The configs/wan-1.3b.toml path with tiny random Wan weights: transformer + VAE from local folders."""
    from diffusers import AutoencoderKLWan, WanTransformer3DModel

    torch.manual_seed(0)
    WanTransformer3DModel(patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12, in_channels=16,
                          out_channels=16, text_dim=32, freq_dim=256, ffn_dim=32, num_layers=2, cross_attn_norm=True,
                          qk_norm="rms_norm_across_heads", rope_max_seq_len=32).save_pretrained(tmp_path / "transformer")
    AutoencoderKLWan(base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
                     temperal_downsample=[False, True, True]).save_pretrained(tmp_path / "vae")
    run = load_run_config(REPO / "configs" / "wan-1.3b.toml", [
        f'train.wan_transformer="{tmp_path / "transformer"}"', f'engine.vae.path="{tmp_path / "vae"}"',
        "engine.model.text_len=4", "engine.clip.num_frames=5", "engine.clip.height=32", "engine.clip.width=32",
        "train.steps=1", "train.batch_size=1", "train.grad_accum=1", "train.mixed_precision=\"no\"",
        f'train.output_dir="{tmp_path / "run"}"', "train.progress=false", "train.torch_threads=1",
        'data.source="custom"', 'data.factory="test_train:synthetic_source"', "data.num_workers=0",
        "eval.at_end=false"])
    result = train(run)
    assert math.isfinite(result.losses[0])
    eng = Engine.from_checkpoint(result.checkpoint, device="cpu")
    assert eng.config.model.dim == 24 and eng.config.vae.kind == "wan" and eng.config.model.text_dim == 32


def test_the_video_anchor_trains_against_the_init_checkpoint_and_checks_its_settings(tmp_path):
    from engine.checkpoint import save_checkpoint
    from engine.train import build_pipeline

    base = _run_config(tmp_path, "base")
    save_checkpoint(tmp_path / "ck", build_pipeline(base).model, base.engine)
    before = load_file(str(tmp_path / "ck" / "model.safetensors"))
    ck = f'train.init_checkpoint="{tmp_path / "ck"}"'
    result = train(_run_config(tmp_path, "anchored", ck, "train.video_anchor_weight=1.0", "train.steps=2"))
    after = load_file(str(result.checkpoint / "training_state" / "model.safetensors"))
    video = [k for k in after if k.startswith("video_io.") or ".video." in k]
    assert sum(not torch.equal(after[k], before[k]) for k in video) > len(video) // 4   # the video trains
    with pytest.raises(ValueError, match="video_anchor_weight needs train.init_checkpoint"):
        _run_config(tmp_path, "alone", "train.video_anchor_weight=1.0")
    with pytest.raises(ValueError, match="video_anchor_weight with train.freeze_video_stream"):
        _run_config(tmp_path, "both", ck, "train.video_anchor_weight=1.0", "train.freeze_video_stream=true")
    with pytest.raises(ValueError, match="video_anchor_weight must be >= 0"):
        _run_config(tmp_path, "negative", ck, "train.video_anchor_weight=-1.0")


def test_the_gpu_burst_config_starts_from_the_shipped_checkpoint_exactly():
    # configs/gpu-burst.sh FROM=assets/checkpoints/raxels-tiny must load the shipped weights as they are: its
    # config has to carry the shipped model's switches, or the trainer refuses the checkpoint.
    from engine.checkpoint import load_checkpoint
    from engine.train.trainer import build_pipeline

    shipped = REPO / "assets" / "checkpoints" / "raxels-tiny"
    run = load_run_config(REPO / "configs" / "gpu-burst.toml", [f'train.init_checkpoint="{shipped}"'])
    pipe = build_pipeline(run)
    _, state, _ = load_checkpoint(str(shipped))
    own = pipe.model.state_dict()
    assert set(own) == set(state)
    assert all(torch.equal(own[k], state[k].to(own[k].dtype)) for k in own)


def test_loader_workers_leave_ctrl_c_to_the_trainer():
    # Ctrl-C in a terminal (and `timeout --signal=INT`, which configs/gpu-burst.sh uses) reaches the whole
    # process group. The trainer's handler then finishes the step and saves; a worker that died of the same
    # signal would instead crash the next batch ("DataLoader worker exited unexpectedly").
    import os
    import signal
    import time

    src = SyntheticClips(_run_config(Path("/tmp"), "unused").engine, seed=1)
    it = iter(make_loader(src, batch_size=2, num_workers=1))
    next(it)
    for worker in it._workers:
        os.kill(worker.pid, signal.SIGINT)
    time.sleep(0.5)
    assert all(worker.is_alive() for worker in it._workers)
    assert torch.equal(next(it)["video"][0], src.example(2)["video"])
