"""benchmarks.engine: the GPU owner's throughput / MFU check also runs on the CPU at the smallest sizes."""

from __future__ import annotations

import math

import pytest
import torch

from benchmarks import engine as bench

SMALLEST = ["--device", "cpu", "--preset", "tiny", "--batch", "1", "--num-frames", "5", "--size", "32",
            "--layers", "1", "--repeats", "1", "--no-tasks"]


def test_cpu_run_prints_finite_throughput_and_flops(capsys):
    result = bench.main(SMALLEST)
    out = capsys.readouterr().out
    for label in ("forward", "train_step"):
        m = result[label]
        for field in ("ms", "tokens_per_s", "gflop", "tflops"):
            assert math.isfinite(m[field]) and m[field] > 0, (label, field, m[field])
        assert m["mfu"] is None  # a CPU has no entry in the peak table: no guessed percentage
        assert label in out
    assert result["train_step"]["gflop"] > result["forward"]["gflop"]  # the backward is counted too
    assert "MFU: peak unknown for cpu" in out
    assert "GFLOP" in out and "tokens/s" in out


@pytest.mark.parametrize("name, peak", [("NVIDIA H200", 989.0), ("NVIDIA H100 80GB HBM3", 989.0),
                                        ("NVIDIA A100-SXM4-80GB", 312.0), ("NVIDIA L4", 121.0),
                                        ("NVIDIA GeForce RTX 4090", 165.0), ("NVIDIA L40S", 362.0),
                                        ("Some Future GPU", None)])
def test_peak_table_matches_device_names_and_never_guesses(monkeypatch, name, peak):
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: name)
    assert bench.device_peak_tflops(torch.device("cuda")) == (name, peak)


def test_cuda_without_a_gpu_is_a_one_line_error(monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(SystemExit) as exc:
        bench.main(["--device", "cuda"])
    assert exc.value.code == 2
    assert "--device cuda: torch sees no CUDA device here" in capsys.readouterr().err
