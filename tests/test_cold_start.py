"""Cold start (issue 13): the CLI's parser and --help import no heavy library, and the lazy public names
of ``engine`` and ``engine.baselines`` still resolve. Import-graph checks in a fresh interpreter, not timings."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "diffusers", "gradio", "viser", "pycolmap", "cv2", "geometry", "scipy", "accelerate")

_RUN_CLI = """
import json, runpy, sys
argv, watched = json.loads(sys.argv[1]), json.loads(sys.argv[2])
sys.argv = ["engine", *argv]
code = 0
try:
    runpy.run_module("engine", run_name="__main__")
except SystemExit as exc:
    code = exc.code
print(json.dumps({"code": code, "heavy": [m for m in watched if m in sys.modules]}), file=sys.stderr)
"""


def _fresh(code: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=600, env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"})


@pytest.mark.parametrize("argv", [["--help"], ["estimate-poses", "--help"], ["generate", "--help"],
                                  ["cycle", "--help"]])
def test_cli_help_imports_no_heavy_module(argv):
    proc = _fresh(_RUN_CLI, json.dumps(argv), json.dumps(HEAVY))
    result = json.loads(proc.stderr.strip().splitlines()[-1])
    assert result["code"] == 0, proc.stderr
    assert result["heavy"] == [], f"`python -m engine {' '.join(argv)}` imported {result['heavy']}"
    assert "usage: python -m engine" in proc.stdout


def test_top_level_help_still_lists_every_command():
    proc = _fresh(_RUN_CLI, json.dumps(["--help"]), json.dumps(HEAVY))
    for command in ("estimate-poses", "generate", "generate-joint", "cycle", "train", "evaluate", "compare"):
        assert command in proc.stdout
    assert "--method" in _fresh(_RUN_CLI, json.dumps(["estimate-poses", "--help"]), "[]").stdout


def test_deferred_command_gets_its_full_parser_when_named():
    proc = _fresh(_RUN_CLI, json.dumps(["evaluate", "--help"]), "[]")
    assert "--benchmark" in proc.stdout, proc.stdout + proc.stderr


def test_import_engine_is_lazy_and_every_public_name_resolves():
    code = """
import sys, engine
heavy = [m for m in ("torch", "diffusers", "geometry") if m in sys.modules]
from engine import Engine, ProgressEvent, preset
missing = [n for n in engine.__all__ if getattr(engine, n, None) is None]
import engine.baselines as b
names = [b.BASELINE_METHODS, b.baseline_pose_events, b.two_view_pose_events, b.ColmapPoseResult]
print(heavy, missing, Engine.__name__, callable(preset), "Engine" in dir(engine))
"""
    proc = _fresh(code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["[]", "[]", "Engine", "True", "True"]


def test_unknown_name_is_an_attribute_error():
    import engine

    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        engine.Nope


def test_loading_a_checkpoint_does_not_import_the_trainer():
    code = """
import sys
from engine.checkpoint import load_checkpoint
from engine.engine import DEFAULT_CHECKPOINT
cfg, state, meta = load_checkpoint(DEFAULT_CHECKPOINT)
from engine.train import RunConfig, lr_factor
print(sorted(m for m in ("engine.train.trainer", "engine.train.data", "accelerate") if m in sys.modules), len(state) > 0)
"""
    proc = _fresh(code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["[]", "True"]
