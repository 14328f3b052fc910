"""A two-process CPU ``accelerate launch`` run trains, and resumes exactly (the issue's distributed check).

Without GPUs, ``accelerate launch --multi_gpu --num_processes 2`` starts two CPU processes on the gloo
backend: the same code path as a multi-GPU run, minus the devices.
"""

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from engine.train.curves import read_curves
from test_train import TINY_TOML

REPO = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _launch(config: Path, *extra: str) -> None:
    accelerate = Path(sys.executable).with_name("accelerate")
    cmd = [str(accelerate), "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
           "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", str(_free_port()),
           "-m", "engine", "train", *extra]
    env = {**os.environ, "PYTHONPATH": str(REPO / "tests"), "CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]


@pytest.mark.skipif(not Path(sys.executable).with_name("accelerate").exists(), reason="accelerate CLI missing")
def test_two_process_accelerate_run_resumes_exactly(tmp_path):
    config = tmp_path / "run.toml"
    config.write_text(TINY_TOML)
    straight, split = tmp_path / "straight", tmp_path / "split"
    _launch(config, "--config", str(config), "--set", f'train.output_dir="{straight}"')
    _launch(config, "--config", str(config), "--set", f'train.output_dir="{split}"', "--stop-at", "2")
    _launch(config, "--resume", str(split))

    import json

    summary = json.loads((straight / "summary.json").read_text())
    assert summary["world_size"] == 2 and summary["completed"]
    losses_a = [r["loss"] for r in read_curves(straight / "curves.csv")]
    losses_b = [r["loss"] for r in read_curves(split / "curves.csv")]
    assert len(losses_a) == 4 and losses_a == losses_b                      # loss after resume = uninterrupted
    for name in ("model.safetensors", "training_state/model.safetensors"):
        a, b = load_file(str(straight / "final" / name)), load_file(str(split / "final" / name))
        assert all(torch.equal(a[k], b[k]) for k in a), name
