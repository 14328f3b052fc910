"""Flow matching (engine/flow.py) and the multi-stream ODE sampler (engine/sampler.py).

Convention throughout: t = 1 is data, t = 0 is noise, z_t = t z1 + (1 - t) z0, v = z1 - z0.
"""

import math

import pytest
import torch
import torch.nn as nn

from engine.config import FlowConfig
from engine.flow import (flow_loss, interpolate, make_noise, noise_streams, sample_train_times,
                         shift_time, slot_times, velocity_target)
from engine.sampler import sample, time_schedule


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# --------------------------------------------------------------------------------------
# Time, interpolation, schedules
# --------------------------------------------------------------------------------------

def test_interpolation_endpoints_and_target():
    g = _gen()
    z1, z0 = torch.randn(3, 4, 2, 5, 5, generator=g), torch.randn(3, 4, 2, 5, 5, generator=g)
    assert torch.equal(interpolate(z1, z0, torch.ones(3)), z1)
    assert torch.equal(interpolate(z1, z0, torch.zeros(3)), z0)
    t = torch.tensor([0.0, 0.25, 1.0])
    zt = interpolate(z1, z0, t)
    assert torch.allclose(zt[1], 0.25 * z1[1] + 0.75 * z0[1])
    # (B, M) times broadcast over a conditioning stream (B, M, C, h, w)
    tm = torch.tensor([[1.0, 0.5], [0.0, 1.0]])
    c1, c0 = torch.randn(2, 2, 3, 4, 4, generator=g), torch.randn(2, 2, 3, 4, 4, generator=g)
    cm = interpolate(c1, c0, tm)
    assert torch.equal(cm[0, 0], c1[0, 0]) and torch.equal(cm[1, 0], c0[1, 0])
    assert torch.allclose(cm[0, 1], 0.5 * (c1[0, 1] + c0[0, 1]))
    # d z_t / dt is the target velocity
    assert torch.allclose(velocity_target(z1, z0), (interpolate(z1, z0, 0.7) - interpolate(z1, z0, 0.3)) / 0.4,
                          atol=1e-5)


def test_shift_identity_monotone_inverse_and_sigma_form():
    t = torch.linspace(0, 1, 101, dtype=torch.float64)
    assert torch.equal(shift_time(t, 1.0), t)
    for s in (0.5, 3.0, 5.0):
        ts = shift_time(t, s)
        assert ts[0] == 0 and ts[-1] == 1
        assert (ts[1:] > ts[:-1]).all()
        assert torch.allclose(shift_time(ts, 1 / s), t)
        sigma = 1 - t
        assert torch.allclose(1 - ts, s * sigma / (1 + (s - 1) * sigma))
    assert (shift_time(t[1:-1], 3.0) < t[1:-1]).all()     # shift > 1: towards noise
    assert shift_time(0.5, 3.0) == pytest.approx(0.25)


@pytest.mark.parametrize("shift,start", [(1.0, 0.0), (3.0, 0.0), (5.0, 0.2), (0.5, 0.6)])
@pytest.mark.parametrize("steps", [1, 2, 20])
def test_time_schedule(steps, shift, start):
    s = time_schedule(steps, shift=shift, start=start)
    assert s.shape == (steps + 1,)
    assert s[0].item() == pytest.approx(start) and s[-1].item() == 1.0
    assert (s[1:] > s[:-1]).all()
    if start == 0.0:     # the uniform grid, shifted
        assert torch.allclose(s, shift_time(torch.linspace(0, 1, steps + 1), shift), atol=1e-6)


# --------------------------------------------------------------------------------------
# Training times and noising
# --------------------------------------------------------------------------------------

def test_train_times_frequencies_exclusive_and_seeded():
    cfg = FlowConfig(p_video_clean=0.3, p_ray_clean=0.2)
    n = 40_000
    tv, tr = sample_train_times(n, cfg=cfg, generator=_gen(7))
    assert tv.shape == tr.shape == (n,)
    v_clean, r_clean = tv == 1, tr == 1
    tol = 4 * math.sqrt(0.25 / n)      # 4 sigma of a Bernoulli frequency
    assert abs(v_clean.float().mean().item() - 0.3) < tol
    assert abs(r_clean.float().mean().item() - 0.2) < tol
    assert not (v_clean & r_clean).any()
    # the noised ones are uniform (shift 1): mean 1/2, inside [0, 1)
    noised = tv[~v_clean]
    assert (noised >= 0).all() and (noised < 1).all()
    assert abs(noised.mean().item() - 0.5) < 0.01
    # independence of the two noise levels where both are noised
    both = ~v_clean & ~r_clean
    assert abs(torch.corrcoef(torch.stack([tv[both], tr[both]]))[0, 1].item()) < 0.03
    tv2, tr2 = sample_train_times(n, cfg=cfg, generator=_gen(7))
    assert torch.equal(tv, tv2) and torch.equal(tr, tr2)
    tv3, _ = sample_train_times(n, cfg=cfg, generator=_gen(8))
    assert not torch.equal(tv, tv3)


def test_train_times_shift_and_bad_probabilities():
    tv, _ = sample_train_times(20_000, cfg=FlowConfig(shift=3.0, p_video_clean=0, p_ray_clean=0),
                               generator=_gen(1))
    assert (tv < 1).all() and tv.mean().item() < 0.4       # shifted towards noise
    with pytest.raises(ValueError):
        sample_train_times(4, cfg=FlowConfig(p_video_clean=0.6, p_ray_clean=0.5), generator=_gen())


def test_noise_streams_pins_clean_elements():
    g = _gen(3)
    clean = {"video": torch.randn(2, 4, 3, 5, 5, generator=g), "cond": torch.randn(2, 3, 4, 5, 5, generator=g)}
    is_source = torch.tensor([[True, False, False], [True, True, False]])
    times = {"video": torch.tensor([1.0, 0.4]), "cond": slot_times(torch.tensor([1.0, 0.4]), is_source)}
    assert torch.equal(times["cond"], torch.tensor([[1.0, 1.0, 1.0], [1.0, 1.0, 0.4]]))
    noised, target, mask = noise_streams(clean, times, _gen(9))
    assert torch.equal(mask["video"], torch.tensor([False, True]))
    assert torch.equal(mask["cond"], torch.tensor([[False, False, False], [False, False, True]]))
    assert torch.equal(noised["video"][0], clean["video"][0])
    assert torch.equal(noised["cond"][1, :2], clean["cond"][1, :2])
    z0 = clean["video"][1] - target["video"][1]                 # the noise that was used
    assert torch.allclose(noised["video"][1], 0.4 * clean["video"][1] + 0.6 * z0, atol=1e-6)
    assert abs(z0.std().item() - 1) < 0.2
    again = noise_streams(clean, times, _gen(9))
    assert all(torch.equal(again[0][k], noised[k]) for k in clean)


# --------------------------------------------------------------------------------------
# Loss
# --------------------------------------------------------------------------------------

def _loss_case(seed=0):
    g = _gen(seed)
    target = torch.randn(4, 6, 3, 5, 5, generator=g)
    pred = target + 0.5 * torch.randn(target.shape, generator=g)
    mask = torch.tensor([True, False, True, True])
    return pred, target, mask


def test_loss_zero_for_perfect_prediction():
    _, target, mask = _loss_case()
    loss, parts = flow_loss(target.clone(), target, mask, cos_weight=0.5)
    assert loss.item() == pytest.approx(0.0, abs=1e-6)
    assert parts["mse"] == pytest.approx(0.0, abs=1e-9) and parts["cos"] == pytest.approx(1.0, abs=1e-6)
    assert parts["tokens"] == 3 * 3 * 5 * 5


def test_cos_term_vanishes_for_right_direction_wrong_magnitude():
    _, target, mask = _loss_case()
    scale = torch.rand(4, 1, 3, 5, 5, generator=_gen(1)) * 2 + 0.5     # per token, > 0
    pred = target * scale
    loss, parts = flow_loss(pred, target, mask, cos_weight=0.5)
    mse = ((pred - target) ** 2)[mask].mean()
    assert parts["cos"] == pytest.approx(1.0, abs=1e-5)
    assert loss.item() == pytest.approx(mse.item(), rel=1e-5)
    # opposite direction: cos = -1, term = 2 lambda
    loss_neg, parts_neg = flow_loss(-target, target, mask, cos_weight=0.5)
    assert parts_neg["cos"] == pytest.approx(-1.0, abs=1e-5)
    assert loss_neg.item() == pytest.approx(((2 * target) ** 2)[mask].mean().item() + 1.0, rel=1e-5)


def test_cos_is_per_token_along_channels():
    # Each token's channel vector is rotated 90 degrees: per-token cos = 0 although a flattened
    # cosine over the whole element would not be.
    target = torch.zeros(1, 2, 3)
    target[0, 0] = torch.tensor([1.0, 2.0, 3.0])
    pred = torch.zeros(1, 2, 3)
    pred[0, 1] = torch.tensor([1.0, 2.0, 3.0])
    _, parts = flow_loss(pred + target, target, torch.tensor([True]), cos_weight=1.0)
    assert parts["cos"] == pytest.approx(math.sqrt(0.5), abs=1e-6)
    _, parts = flow_loss(pred, target, torch.tensor([True]), cos_weight=1.0)
    assert parts["cos"] == pytest.approx(0.0, abs=1e-6)


def test_masked_elements_are_ignored():
    pred, target, mask = _loss_case()
    loss, _ = flow_loss(pred, target, mask, cos_weight=0.5)
    p2, t2 = pred.clone(), target.clone()
    p2[1] = 1e6
    t2[1] = float("nan")
    loss2, _ = flow_loss(p2, t2, mask, cos_weight=0.5)
    assert loss2.item() == loss.item()
    only = flow_loss(pred[mask], target[mask], torch.ones(3, dtype=torch.bool), cos_weight=0.5)[0]
    assert only.item() == pytest.approx(loss.item(), rel=1e-6)


def test_all_false_mask_gives_zero_without_nan():
    pred, target, _ = _loss_case()
    pred.requires_grad_(True)
    loss, parts = flow_loss(pred, target, torch.zeros(4, dtype=torch.bool), cos_weight=0.5)
    assert loss.item() == 0.0 and not math.isnan(parts["mse"]) and not math.isnan(parts["cos"])
    loss.backward()
    assert torch.equal(pred.grad, torch.zeros_like(pred))


def test_loss_gradient_flows_only_to_supervised_elements():
    pred, target, mask = _loss_case()
    pred.requires_grad_(True)
    loss, _ = flow_loss(pred, target, mask, cos_weight=0.5)
    loss.backward()
    assert torch.isfinite(pred.grad).all()
    assert pred.grad[mask].abs().sum() > 0 and pred.grad[~mask].abs().sum() == 0
    # a gradient step lowers the loss
    with torch.no_grad():
        stepped = pred - 0.5 * pred.grad / pred.grad.norm()
    assert flow_loss(stepped, target, mask, cos_weight=0.5)[0] < loss


def test_loss_pools_dict_streams_like_one_sequence():
    g = _gen(5)
    a_t, b_t = torch.randn(2, 3, 4, generator=g), torch.randn(2, 3, 4, generator=g)
    a_p, b_p = a_t + torch.randn(2, 3, 4, generator=g), b_t + torch.randn(2, 3, 4, generator=g)
    m = torch.ones(2, dtype=torch.bool)
    loss, parts = flow_loss({"a": a_p, "b": b_p}, {"a": a_t, "b": b_t}, {"a": m, "b": m}, cos_weight=0.5)
    cat = flow_loss(torch.cat([a_p, b_p], 2), torch.cat([a_t, b_t], 2), m, cos_weight=0.5)[0]
    assert loss.item() == pytest.approx(cat.item(), rel=1e-6)
    assert parts["tokens"] == 16


# --------------------------------------------------------------------------------------
# Sampler against an analytic velocity field
# --------------------------------------------------------------------------------------
# Data z1 ~ N(mu, s^2 I): z_t = t z1 + (1 - t) z0 is N(t mu, sig_t^2 I), sig_t^2 = t^2 s^2 + (1 - t)^2,
# and E[z1 - z0 | z_t] = mu + (t s^2 - (1 - t)) / sig_t^2 * (z_t - t mu). The ODE maps noise eps
# exactly to mu + s * eps.

MU, S = 1.5, 0.5


def _gauss_v(z: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    t = t.reshape(t.shape + (1,) * (z.ndim - t.ndim)).to(z.dtype)
    return MU + (t * S**2 - (1 - t)) / (t**2 * S**2 + (1 - t) ** 2) * (z - t * MU)


def _gauss_fn(calls=None):
    def fn(state, times):
        if calls is not None:
            calls.append({k: v.clone() for k, v in times.items()})
        return {k: _gauss_v(state[k], times[k]) for k in state}
    return fn


def test_euler_many_steps_lands_on_the_distribution():
    z0 = make_noise(torch.zeros(4000, 3), _gen(0))
    out = sample(_gauss_fn(), {"x": z0}, schedules={"x": time_schedule(200)})["x"]
    assert abs(out.mean().item() - MU) < 0.03
    assert abs(out.std().item() - S) < 0.03
    assert (out - (MU + S * z0)).abs().max().item() < 0.02
    assert torch.equal(z0, make_noise(torch.zeros(4000, 3), _gen(0)))   # input not modified


def test_heun_beats_euler_at_equal_steps():
    z0 = make_noise(torch.zeros(2000, 2), _gen(1))
    exact = MU + S * z0
    err = {}
    for method in ("euler", "heun"):
        for steps in (8, 16):
            calls = []
            out = sample(_gauss_fn(calls), {"x": z0}, schedules={"x": time_schedule(steps)}, method=method)["x"]
            err[method, steps] = (out - exact).abs().max().item()
            assert len(calls) == (steps if method == "euler" else 2 * steps - 1)
            assert all((c["x"] < 1).all() for c in calls)       # never evaluated at t = 1
    assert err["heun", 8] < 0.3 * err["euler", 8]
    # orders: halving the step halves Euler's error and quarters Heun's (its last step is Euler,
    # whose O(h^2) local error keeps the method second order)
    assert 1.6 < err["euler", 8] / err["euler", 16] < 2.5
    assert err["heun", 8] / err["heun", 16] > 3.2


@pytest.mark.parametrize("method", ["euler", "heun"])
def test_singular_point_mass_field_is_exact(method):
    # Data = a single point c: v = (c - z) / (1 - t) is singular at t = 1; every step is exact.
    c = torch.tensor([2.0, -1.0])
    z0 = make_noise(torch.zeros(5, 2), _gen(2))
    out = sample(lambda st, tt: {"x": (c - st["x"]) / (1 - tt["x"][:, None])}, {"x": z0},
                 schedules={"x": time_schedule(4, shift=3.0)}, method=method)["x"]
    assert torch.isfinite(out).all()
    assert torch.allclose(out, c.expand(5, 2), atol=1e-5)


@pytest.mark.parametrize("method", ["euler", "heun"])
def test_fixed_elements_and_clean_streams_never_change(method):
    g = _gen(4)
    B, M = 2, 3
    cond = torch.randn(B, M, 4, 2, 2, generator=g)
    clean_stream = torch.randn(B, 4, 2, 2, generator=g)
    fixed = torch.tensor([[True, False, True], [False, True, False]])
    calls = []
    out = sample(_gauss_fn(calls), {"cond": cond, "rays": clean_stream},
                 schedules={"cond": time_schedule(5), "rays": None}, fixed={"cond": fixed}, method=method)
    assert torch.equal(out["cond"][fixed], cond[fixed])
    assert not torch.isclose(out["cond"][~fixed], cond[~fixed]).any()
    assert torch.equal(out["rays"], clean_stream)
    sched = time_schedule(5)
    for c in calls:
        assert c["cond"].shape == (B, M) and c["rays"].shape == (B,)
        assert (c["cond"][fixed] == 1).all() and (c["rays"] == 1).all()
        free = c["cond"][~fixed]
        assert (free == free[0]).all() and torch.isclose(sched, free[0]).any()


def test_per_stream_step_counts():
    g = _gen(6)
    state = {"video": torch.randn(2, 3, 2, 4, 4, generator=g), "rays": torch.randn(2, 3, 2, 4, 4, generator=g)}
    sv, sr = time_schedule(6), time_schedule(2)
    calls, ray_states, progress = [], [state["rays"]], []

    def cb(i, n, st, times):
        progress.append((i, n, times["video"][0].item(), times["rays"][0].item()))
        ray_states.append(st["rays"])

    out = sample(_gauss_fn(calls), state, schedules={"video": sv, "rays": sr}, callback=cb)
    assert len(calls) == 6
    changes = sum(not torch.equal(a, b) for a, b in zip(ray_states, ray_states[1:]))
    assert changes == 2
    # rays sit at 0 for three iterations, step to 0.5 at the third, to 1 at the sixth
    assert [c["rays"][0].item() for c in calls] == [0.0, 0.0, 0.0, 0.5, 0.5, 0.5]
    assert [c["video"][0].item() for c in calls] == pytest.approx(sv[:-1].tolist())
    assert [p[:2] for p in progress] == [(i, 6) for i in range(1, 7)]
    assert progress[-1][2:] == (1.0, 1.0)
    assert torch.equal(ray_states[-1], out["rays"])


def test_callback_count_and_cancellation():
    z0 = torch.randn(3, 2, generator=_gen(7))
    seen = []
    sample(_gauss_fn(), {"x": z0}, schedules={"x": time_schedule(7)}, method="heun",
           callback=lambda i, n, st, tt: seen.append((i, n)))
    assert seen == [(i, 7) for i in range(1, 8)]

    class Cancelled(Exception):
        pass

    err = Cancelled("stop")
    calls = []

    def cancel(i, n, st, tt):
        if i == 3:
            raise err

    with pytest.raises(Cancelled) as info:
        sample(_gauss_fn(calls), {"x": z0}, schedules={"x": time_schedule(7)}, callback=cancel)
    assert info.value is err and len(calls) == 3


def test_sampling_is_deterministic_given_the_noise():
    z0 = make_noise({"x": torch.zeros(64, 2), "y": torch.zeros(64, 2)}, _gen(8))
    z0b = make_noise({"x": torch.zeros(64, 2), "y": torch.zeros(64, 2)}, _gen(8))
    run = lambda z: sample(_gauss_fn(), z, schedules={"x": time_schedule(5), "y": time_schedule(3)},
                           method="heun")
    a, b = run(z0), run(z0b)
    assert all(torch.equal(a[k], b[k]) for k in a)


# --------------------------------------------------------------------------------------
# End to end: learn and sample a 2-D mixture of Gaussians
# --------------------------------------------------------------------------------------

MEANS = torch.tensor([[-4.0, 0.0], [4.0, 0.0], [0.0, 4.0]])
WEIGHTS = torch.tensor([0.5, 0.3, 0.2])
STD = 0.3


class _ToyVelocity(nn.Module):
    def __init__(self, width: int = 128):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(3, width), nn.SiLU(), nn.Linear(width, width), nn.SiLU(),
                                 nn.Linear(width, width), nn.SiLU(), nn.Linear(width, 2))

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([x, t[:, None]], dim=1))


def _mixture(n: int, g: torch.Generator) -> torch.Tensor:
    k = torch.multinomial(WEIGHTS, n, replacement=True, generator=g)
    return MEANS[k] + STD * torch.randn(n, 2, generator=g)


def test_toy_2d_mixture_is_learnt_and_sampled():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)           # a tiny MLP runs fastest (and reproducibly) on one thread
    try:
        with torch.random.fork_rng():
            torch.manual_seed(0)
            model = _ToyVelocity()
        g = _gen(0)
        steps = 800
        opt = torch.optim.Adam(model.parameters(), lr=2e-3)
        lr = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
        for _ in range(steps):
            x1 = _mixture(512, g)
            t = torch.rand(512, generator=g)
            noised, target, mask = noise_streams({"x": x1}, {"x": t}, g)
            loss, parts = flow_loss(model(noised["x"], t), target["x"], mask["x"], cos_weight=0.5)
            opt.zero_grad()
            loss.backward()
            opt.step()
            lr.step()
        assert parts["cos"] > 0.6

        z0 = make_noise(torch.zeros(4000, 2), g)
        out = sample(lambda st, tt: {"x": model(st["x"], tt["x"])}, {"x": z0},
                     schedules={"x": time_schedule(50)})["x"]
    finally:
        torch.set_num_threads(threads)

    dist = torch.cdist(out, MEANS)
    nearest, d = dist.argmin(1), dist.min(1).values
    near = d < 1.0                                    # > 3 std from every mode counts as far
    assert (~near).float().mean().item() < 0.08
    for k in range(3):
        sel = near & (nearest == k)
        assert abs(sel.float().mean().item() - WEIGHTS[k].item()) < 0.07
        assert (out[sel].mean(0) - MEANS[k]).norm().item() < 0.25
        assert 0.15 < out[sel].std(0).mean().item() < 0.45


def test_data_weighting_turns_velocity_errors_into_clean_latent_errors():
    from engine.model.dit import data_to_velocity
    from engine.objective import data_weighted

    gen = torch.Generator().manual_seed(0)
    x1, z0, x_hat = (torch.randn(3, 5, 4, generator=gen) for _ in range(3))
    t = torch.tensor([0.0, 0.4, 0.9])
    z_t = t[:, None, None] * x1 + (1 - t[:, None, None]) * z0
    pred = {"rays": data_to_velocity(x_hat, z_t, t)}
    target = {"rays": x1 - z0}
    p, q = data_weighted(pred, target, {"rays": t})
    assert torch.allclose(p["rays"] - q["rays"], x_hat - x1, atol=1e-5)
    # Unweighted, the same clean-latent error costs 1 / (1 - t)^2 times more near the data.
    raw = (pred["rays"] - target["rays"]).square().mean((1, 2))
    assert torch.allclose(raw * (1 - t) ** 2, (x_hat - x1).square().mean((1, 2)), rtol=1e-4)
