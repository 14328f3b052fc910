"""FID / FVD: the Fréchet distance, the reference-layout extractors and their safe loading."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from camera_strategies import small_random_engine
from engine.evaluate import load_benchmark, run_evaluation
from engine.evaluate.frechet import frechet_distance, image_features, load_extractor, video_features
from engine.evaluate.i3d import I3D
from engine.evaluate.inception_fid import InceptionFID


def test_frechet_distance_of_a_shifted_set_is_the_squared_shift():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(200, 5)) @ rng.normal(size=(5, 5))
    shift = np.array([1.0, -2.0, 0.5, 0.0, 3.0])
    # Same covariance, so the trace terms cancel exactly and only |mu_a - mu_b|^2 remains.
    assert frechet_distance(a, a + shift) == pytest.approx((shift ** 2).sum(), rel=1e-6)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)


def test_frechet_distance_of_1d_gaussians_matches_the_closed_form():
    rng = np.random.default_rng(1)
    a, b = rng.normal(0.0, 1.0, size=(500, 1)), rng.normal(2.0, 3.0, size=(400, 1))
    va, vb = a.var(ddof=1), b.var(ddof=1)
    expected = (a.mean() - b.mean()) ** 2 + va + vb - 2 * np.sqrt(va * vb)
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-9)


def test_frechet_distance_with_fewer_samples_than_dimensions_is_finite():
    rng = np.random.default_rng(2)
    assert np.isfinite(frechet_distance(rng.normal(size=(6, 50)), rng.normal(size=(7, 50))))


@pytest.mark.parametrize("a, b, message", [
    (np.zeros((1, 3)), np.zeros((4, 3)), "at least 2 samples"),
    (np.zeros((4, 3)), np.zeros((4, 2)), "need (N, D)"),
    (np.full((4, 3), np.nan), np.zeros((4, 3)), "NaN"),
])
def test_frechet_distance_rejects_bad_features(a, b, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        frechet_distance(a, b)


def test_inception_has_the_reference_architecture():
    net = InceptionFID()
    # torchvision's Inception-v3 has 27,161,264 parameters; without its auxiliary head (3,326,696) and
    # 1000-way classifier (2,049,000) that leaves 21,785,568, the FID feature network.
    assert sum(p.numel() for p in net.parameters()) == 21_785_568
    shapes = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    assert shapes["Conv2d_1a_3x3.conv.weight"] == (32, 3, 3, 3)
    assert shapes["Mixed_6e.branch7x7dbl_5.conv.weight"] == (192, 192, 1, 7)
    assert shapes["Mixed_7c.branch_pool.conv.weight"] == (192, 2048, 1, 1)
    assert shapes["Mixed_7c.branch3x3dbl_1.bn.running_var"] == (448,)


def test_i3d_has_the_reference_layout():
    shapes = {k: tuple(v.shape) for k, v in I3D().state_dict().items()}
    assert shapes["Conv3d_1a_7x7.conv3d.weight"] == (64, 3, 7, 7, 7)
    assert shapes["Mixed_3b.b1b.conv3d.weight"] == (128, 96, 3, 3, 3)
    assert shapes["Mixed_5c.b3b.bn.running_mean"] == (128,)
    assert shapes["logits.conv3d.weight"] == (400, 1024, 1, 1, 1) and shapes["logits.conv3d.bias"] == (400,)


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    """Randomly initialised reference-layout weights in safetensors, with the heads FID does not use."""
    folder = tmp_path_factory.mktemp("extractors")
    torch.manual_seed(0)
    nets = {"fid": InceptionFID().eval(), "fvd": I3D().eval()}
    for net in nets.values():  # He init keeps the signal alive through ~50 layers (torch's default fades it)
        for m in net.modules():
            if isinstance(m, (torch.nn.Conv2d, torch.nn.Conv3d)):
                torch.nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
    paths = {}
    for kind, net in nets.items():
        state = {k: v.contiguous() for k, v in net.state_dict().items()}
        if kind == "fid":  # the published file also holds the 1008-way classifier
            state |= {"fc.weight": torch.zeros(1008, 2048), "fc.bias": torch.zeros(1008)}
        paths[kind] = folder / f"{kind}.safetensors"
        save_file(state, str(paths[kind]))
    return nets, paths


def test_loaded_extractors_reproduce_the_saved_networks(weights):
    nets, paths = weights
    rng = np.random.default_rng(3)
    images = rng.integers(0, 256, size=(3, 20, 24, 3), dtype=np.uint8)
    clips = [rng.integers(0, 256, size=(9, 16, 16, 3), dtype=np.uint8) for _ in range(2)]
    got = image_features(load_extractor(paths["fid"], "fid"), images)
    assert got.shape == (3, 2048) and np.allclose(got, image_features(nets["fid"], images), atol=1e-5)
    got = video_features(load_extractor(paths["fvd"], "fvd"), clips)
    assert got.shape == (2, 400) and np.allclose(got, video_features(nets["fvd"], clips), atol=1e-5)


def test_features_tell_corrupted_clips_from_clean_ones(weights):
    nets, _ = weights
    rng = np.random.default_rng(4)
    clips = [rng.integers(0, 256, size=(3, 16, 16, 3), dtype=np.uint8) for _ in range(2)]
    noisy = [np.clip(c.astype(int) + rng.integers(-80, 80, size=c.shape), 0, 255).astype(np.uint8) for c in clips]
    clean_i, noisy_i = image_features(nets["fid"], np.concatenate(clips)), image_features(nets["fid"], np.concatenate(noisy))
    assert frechet_distance(clean_i, clean_i) == pytest.approx(0.0, abs=1e-3)
    assert frechet_distance(noisy_i, clean_i) > 1e-3
    clean_v, noisy_v = video_features(nets["fvd"], clips), video_features(nets["fvd"], noisy)
    assert frechet_distance(clean_v, clean_v) == pytest.approx(0.0, abs=1e-6)
    assert frechet_distance(noisy_v, clean_v) > 1e-6


def test_bad_weight_files_are_refused_by_name(weights, tmp_path):
    nets, paths = weights
    with pytest.raises(ValueError, match="no such file"):
        load_extractor(tmp_path / "missing.safetensors", "fid")
    pth = tmp_path / "inception.pth"
    pth.write_bytes(b"\x80\x04pickle")
    with pytest.raises(ValueError, match="never loaded"):
        load_extractor(pth, "fid")
    corrupt = tmp_path / "corrupt.safetensors"
    corrupt.write_bytes(b"\x00" * 64)
    with pytest.raises(ValueError, match="not a readable safetensors"):
        load_extractor(corrupt, "fvd")
    with pytest.raises(ValueError, match="not the reference I3D layout"):
        load_extractor(paths["fid"], "fvd")                         # the wrong network's file
    state = {k: v.contiguous() for k, v in nets["fvd"].state_dict().items()}
    bad = tmp_path / "bad.safetensors"
    save_file(state | {"logits.conv3d.bias": torch.zeros(401)}, str(bad))
    with pytest.raises(ValueError, match=r"logits.conv3d.bias has shape \(401,\)"):
        load_extractor(bad, "fvd")
    save_file(state | {"Mixed_3b.b0.bn.weight": torch.full((64,), float("nan"))}, str(bad))
    with pytest.raises(ValueError, match="Mixed_3b.b0.bn.weight contains NaN"):
        load_extractor(bad, "fvd")


def test_harness_reports_fid_and_fvd_with_local_weights(weights, tmp_path):
    _, paths = weights
    eng = small_random_engine(9, 16)
    clips = load_benchmark("procedural", eng.config.clip, 2)
    report = run_evaluation(eng, clips, tmp_path, steps=(1,), cycle=False, video_steps=1, pose_steps=1,
                            fid_weights=str(paths["fid"]), fvd_weights=str(paths["fvd"]))
    text = report.read_text()
    assert "- FID: " in text and "16 generated vs 16 ground-truth frames" in text
    assert "- FVD: " in text and "2 generated vs 2 ground-truth clips" in text
    row = (tmp_path / "frechet.csv").read_text().splitlines()
    assert row[0] == "FID,FVD" and all(np.isfinite(float(v)) and float(v) >= 0 for v in row[1].split(","))


def test_harness_refuses_bad_weights_before_sampling(tmp_path):
    eng = small_random_engine(9, 16)
    clips = load_benchmark("procedural", eng.config.clip, 1)
    with pytest.raises(ValueError, match="FVD weights .* no such file"):
        run_evaluation(eng, clips, tmp_path / "run", fvd_weights=str(tmp_path / "nope.safetensors"))
    assert not (tmp_path / "run").exists()
