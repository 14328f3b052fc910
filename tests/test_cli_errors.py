"""User errors at the CLI and the Engine API: one line, exit status 2, checked before any work;
real bugs keep their traceback. (The same cases through a real subprocess: test_bad_inputs.py.)"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine import Engine, cli
from engine.engine import pick_device


@pytest.fixture(scope="module")
def eng() -> Engine:
    return Engine.from_checkpoint("tiny", device="cpu")


@pytest.fixture
def no_engine(monkeypatch):
    """Fail the test if a command gets as far as building the engine (the slow part)."""
    def refuse(*a, **k):
        raise AssertionError("the engine was built before the bad argument was caught")
    monkeypatch.setattr(Engine, "from_checkpoint", refuse)


def run(argv, capsys) -> tuple[int, list[str]]:
    try:
        code = cli.main(argv)
    except SystemExit as exc:  # argparse
        code = exc.code
    err = capsys.readouterr().err
    return code, [line for line in err.splitlines() if line.strip()]


# ---- output paths are checked before anything runs -----------------------------------------------

@pytest.mark.parametrize("argv, expected", [
    (["generate", "--images", "a.png", "--cameras", "c.json", "--out", "{tmp}/x.png"], "unsupported video type .png"),
    (["generate", "--images", "a.png", "--cameras", "c.json", "--out", "{tmp}"], "{tmp}"),
    (["generate", "--images", "a.png", "--cameras", "c.json", "--out", "{tmp}/no/such/x.mp4"], "does not exist"),
    (["generate-joint", "--images", "a.png", "--out", "{tmp}/x.mp4", "--cameras-out", "{tmp}/c.xyz"],
     "--cameras-out: {tmp}/c.xyz: cannot tell the camera format"),
    (["generate-joint", "--images", "a.png", "--out", "{tmp}/x.mp4", "--cameras-out", "{tmp}/no/c.json"],
     "folder {tmp}/no does not exist"),
    (["estimate-poses", "clip.mp4", "--out", "{tmp}/cams.ply"], "cannot tell the camera format"),
    (["estimate-poses", "clip.mp4", "--out", "{tmp}/no/sub"], "folder {tmp}/no does not exist"),   # COLMAP folder
    (["cycle", "clip.mp4", "--out", "{tmp}/report.txt"], "ending in .json"),
    (["cycle", "clip.mp4", "--out", "{tmp}"], "{tmp}"),
])
def test_output_paths_are_checked_before_any_work(tmp_path, capsys, no_engine, argv, expected):
    code, lines = run([a.format(tmp=tmp_path) for a in argv], capsys)
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: ")
    assert expected.format(tmp=tmp_path) in lines[0]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("fps", ["-5", "0", "nan", "abc", "1e9"])
def test_fps_must_be_positive(capsys, no_engine, fps):
    code, lines = run(["generate", "--images", "a.png", "--cameras", "c.json", "--out", "x.mp4", "--fps", fps],
                      capsys)
    assert code == 2 and len(lines) == 1 and "argument --fps" in lines[0]


def test_usage_errors_are_one_line(capsys):
    code, lines = run(["generate", "--images"], capsys)
    assert code == 2 and len(lines) == 1 and "--images" in lines[0]


# ---- devices ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("device, expected", [("bogus", "is not a device name"), ("xla", "is not supported"),
                                              ("cuda:99", "cuda:99")])
def test_bad_device_is_a_value_error(device, expected):
    with pytest.raises(ValueError, match=expected):
        pick_device(device)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_cuda(capsys, tmp_path):
    code, lines = run(["estimate-poses", "clip.mp4", "--out", str(tmp_path / "c.json"), "--device", "cuda",
                       "--checkpoint", "tiny"], capsys)
    assert code == 2 and lines[-1] == f"error: device 'cuda': CUDA is not available on this machine (torch " \
                                       f"{torch.__version__}); use auto or cpu"


def test_cpu_and_auto_devices_resolve():
    assert pick_device("cpu") == torch.device("cpu")
    assert pick_device("auto").type in ("cpu", "cuda", "mps")


# ---- what counts as a user error -----------------------------------------------------------------------

def test_multi_line_messages_become_one_line(monkeypatch, capsys, tmp_path):
    def bad(args):
        raise ValueError("first\nsecond")
    monkeypatch.setattr(cli, "cmd_cycle", bad)
    code, lines = run(["cycle", "clip.mp4"], capsys)
    assert (code, lines) == (2, ["error: first second"])


def test_debug_shows_the_traceback(monkeypatch):
    monkeypatch.setattr(cli, "cmd_cycle", lambda args: (_ for _ in ()).throw(ValueError("bad input")))
    with pytest.raises(ValueError, match="bad input"):
        cli.main(["--debug", "cycle", "clip.mp4"])


def test_a_real_bug_keeps_its_traceback(monkeypatch):
    monkeypatch.setattr(cli, "cmd_cycle", lambda args: (_ for _ in ()).throw(RuntimeError("a bug")))
    with pytest.raises(RuntimeError, match="a bug"):
        cli.main(["cycle", "clip.mp4"])


# ---- task arguments at the Engine API --------------------------------------------------------------------

IMAGE = np.zeros((32, 32, 3), np.uint8)
CLIP = np.zeros((9, 32, 32, 3), np.uint8)


@pytest.mark.parametrize("call, expected", [
    (lambda e: e.generate_joint([IMAGE], num_frames=0), "num_frames must be between 1 and"),
    (lambda e: e.generate_joint([IMAGE], num_frames=-3), "num_frames must be between 1 and"),
    (lambda e: e.generate_joint([IMAGE], num_frames=8), "num_frames must be 1 + 4k, got 8"),
    (lambda e: e.generate_joint([IMAGE], steps=0), "steps must be between 1 and"),
    (lambda e: e.generate_joint([IMAGE], steps=2.5), "steps must be a whole number, got 2.5"),
    (lambda e: e.generate_joint([IMAGE], ray_steps=0), "ray_steps must be between 1 and"),
    (lambda e: e.generate_joint([IMAGE], seed=-1), "seed must be between 0 and"),
    (lambda e: e.estimate_poses(CLIP, steps=0), "steps must be between 1 and"),
    (lambda e: e.estimate_poses(CLIP, num_frames=True), "num_frames must be a whole number"),
    (lambda e: e.estimate_poses(CLIP, method="sift"), "method must be 'raxels', 'colmap' or 'two-view'"),
    (lambda e: e.generate([IMAGE], e.estimate_poses(CLIP, steps=1), steps=0), "steps must be between 1 and"),
    (lambda e: e.cycle(CLIP, num_sources=0), "num_sources must be between 1 and"),
    (lambda e: e.cycle(CLIP, num_sources=10), "num_sources must be at most the clip's 9 frames"),
    (lambda e: e.cycle(CLIP, pose_steps=0), "pose_steps must be between 1 and"),
    (lambda e: e.cycle(CLIP, video_steps=1.5), "video_steps must be a whole number"),
])
def test_task_arguments_are_checked_at_the_api(eng, call, expected):
    with pytest.raises(ValueError, match=expected.replace("+", r"\+").replace("(", r"\(")):
        call(eng)


def test_none_means_the_default(eng):
    frames, cams = eng.generate_joint([IMAGE], num_frames=None, steps=1, ray_steps=1)
    assert frames.shape[0] == eng.config.clip.num_frames == len(cams)
