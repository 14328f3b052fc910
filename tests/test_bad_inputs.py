"""Bad inputs end in one clear line, never a traceback, a hang or a machine out of memory.

First the camera readers (bounds and format messages, in process), then every bad-input case run
through the real CLI in a subprocess with an address-space cap: exit status 2, one ``error:`` line
naming the problem, no traceback, and no output file left behind.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import geometry.io as gio
from geometry.io import file_checks

EYE = torch.eye(4).tolist()
K = [[50.0, 0.0, 16.0], [0.0, 50.0, 16.0], [0.0, 0.0, 1.0]]


def trajectory(**changes) -> dict:
    doc = {"format": gio.TRAJECTORY_FORMAT, "version": 1, "width": 32, "height": 32,
           "frames": [{"c2w": EYE, "K": K} for _ in range(9)]}
    doc.update(changes)
    return doc


def shifted(x: float) -> list[list[float]]:
    return [[1.0, 0.0, 0.0, x], [0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 1.0]]


def write_json(path: Path, doc) -> Path:
    path.write_text(json.dumps(doc))
    return path


# ---- camera readers: bounds -----------------------------------------------------------------------

@pytest.mark.parametrize("name, doc, expected", [
    ("t.json", trajectory(width=10**9), "at width: image width 1000000000 is outside 1..65536"),
    ("t.json", trajectory(frames=[{"c2w": shifted(1e300), "K": K}]),
     "at frames[0].c2w: translation component 1e+300 is beyond the 1e+06 scene-unit limit"),
    ("t.json", trajectory(frames=[{"c2w": EYE, "K": [[1e12, 0, 16], [0, 50, 16], [0, 0, 1]]}]),
     "at frames[0].K: focal length 1e+12 px is over"),
    ("t.json", trajectory(frames=[{"c2w": EYE, "K": [[50, 0, 1e300], [0, 50, 16], [0, 0, 1]]}]),
     "at frames[0].K: principal point"),
    ("transforms.json", {"w": 10**9, "h": 32, "fl_x": 50, "frames": [{"transform_matrix": EYE}]},
     "at w: image width 1000000000 is outside"),
    ("transforms.json", {"w": 32, "h": 32, "fl_x": 50, "frames": [{"transform_matrix": shifted(-1e300)}]},
     "at frames[0].transform_matrix: translation component"),
    ("camera_path.json", {"render_width": 32, "render_height": 10**9, "camera_path": []},
     "at render_height: image height 1000000000 is outside"),
    ("camera_path.json", {"render_width": 32, "render_height": 32,
                          "camera_path": [{"camera_to_world": sum(EYE, []), "fov": 1e-9}]},
     "at camera_path[0].fov: focal length"),
])
def test_json_readers_bound_sizes_focals_and_translations(tmp_path, name, doc, expected):
    with pytest.raises(ValueError) as err:
        gio.load_cameras(write_json(tmp_path / name, doc))
    assert expected in str(err.value) and name in str(err.value)


ROW = "0 0.5 0.5 0.5 0.5 0 0 1 0 0 {t} 0 1 0 0 0 0 1 0"


def test_re10k_bounds(tmp_path):
    far = tmp_path / "far.txt"
    far.write_text("url\n" + ROW.format(t="1e300") + "\n")
    with pytest.raises(ValueError, match=r"far\.txt, line 2: translation component 1e\+300"):
        gio.load_cameras(far, width=32, height=32)
    ok = tmp_path / "ok.txt"
    ok.write_text("url\n" + ROW.format(t="0") + "\n")
    with pytest.raises(ValueError, match="image width 1000000000 is outside 1..65536"):
        gio.load_cameras(ok, width=10**9, height=32)
    assert gio.load_cameras(ok, width=32, height=32).width == 32


def test_colmap_image_size_bound(tmp_path):
    (tmp_path / "cameras.txt").write_text(f"1 PINHOLE {10**9} 48 50 50 32 24\n")
    (tmp_path / "images.txt").write_text("1 1 0 0 0 0 0 0 1 a.png\n\n")
    with pytest.raises(ValueError, match=r"cameras\.txt, line 1: image width 1000000000 is outside"):
        gio.load_cameras(tmp_path)


def test_limits_are_named_constants(tmp_path, monkeypatch):
    path = write_json(tmp_path / "t.json", trajectory(frames=[{"c2w": shifted(50.0), "K": K}]))
    assert gio.load_cameras(path).c2w[0, 0, 3] == 50.0
    monkeypatch.setattr(file_checks, "MAX_TRANSLATION", 10.0)
    with pytest.raises(ValueError, match="beyond the 10 scene-unit limit"):
        gio.load_cameras(path)


# ---- camera readers: which format was expected -----------------------------------------------------

def test_trajectory_without_format_says_what_was_expected(tmp_path):
    doc = trajectory()
    del doc["format"]
    with pytest.raises(ValueError) as err:
        gio.load_cameras(write_json(tmp_path / "path.json", doc))
    message = str(err.value)
    assert "transform_matrix" not in message.split("(")[0]   # not reported as a broken transforms.json
    assert f'at format: required key is missing: a raxel-studio trajectory starts with "format": ' \
           f'"{gio.TRAJECTORY_FORMAT}"' in message
    assert "also tried a nerfstudio camera path" in message and "a transforms.json" in message


def test_guessed_format_is_named_in_the_error(tmp_path):
    doc = {"w": 32, "h": 32, "frames": [{"file_path": "a.png"}]}
    with pytest.raises(ValueError) as err:
        gio.load_cameras(write_json(tmp_path / "cams.json", doc))
    assert "at frames[0].transform_matrix: required key is missing" in str(err.value)
    assert 'read as a transforms.json because it has "frames"' in str(err.value)


def test_unknown_json_lists_every_format_tried(tmp_path):
    with pytest.raises(ValueError) as err:
        gio.load_cameras(write_json(tmp_path / "cams.json", {"poses": []}))
    message = str(err.value)
    assert "not a known camera format; tried" in message
    assert all(key in message for key in ('"format"', '"camera_path"', '"transform_matrix"'))


# ---- the CLI in a subprocess ------------------------------------------------------------------------

ADDRESS_SPACE = 3 * 2**30      # enough to import torch and run the tiny model; not enough to run away
ROOT = Path(__file__).resolve().parent.parent


def _cap_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))


class Outcome:
    """A finished CLI run: exit status and stderr."""

    def __init__(self, returncode: int, stderr: str):
        self.returncode, self.stderr = returncode, stderr


def start_cli(*args: str, cwd: Path) -> subprocess.Popen:
    """``python -m engine ARGS`` under the address-space cap; stdout / stderr go to dot-files in ``cwd``."""
    with open(cwd / ".stdout", "w") as out, open(cwd / ".stderr", "w") as err:
        return subprocess.Popen([sys.executable, "-m", "engine", *args], cwd=cwd, stdout=out, stderr=err,
                                preexec_fn=_cap_memory,
                                env={"PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT),
                                     "HOME": str(cwd)})


def finish(proc: subprocess.Popen, cwd: Path) -> Outcome:
    try:
        proc.wait(timeout=600)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    return Outcome(proc.returncode, (cwd / ".stderr").read_text())


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    """Good and bad input files, made once."""
    import imageio.v3 as iio

    d = tmp_path_factory.mktemp("inputs")
    rng = np.random.default_rng(0)
    files = {"photo": d / "photo.png", "clip": d / "clip.mp4", "path": d / "path.json"}
    iio.imwrite(files["photo"], rng.integers(0, 255, (32, 32, 3), dtype=np.uint8))
    iio.imwrite(files["clip"], rng.integers(0, 255, (9, 32, 32, 3), dtype=np.uint8), fps=8,
                codec="libx264", macro_block_size=1, plugin="FFMPEG")
    write_json(files["path"], trajectory())
    # 10000 x 10000 PNG: compresses to almost nothing, decodes to 300 MB
    files["huge_png"] = d / "huge.png"
    iio.imwrite(files["huge_png"], np.zeros((10000, 10000, 3), np.uint8))
    files["big_video"] = d / "big.mp4"
    iio.imwrite(files["big_video"], np.zeros((33, 2048, 2048, 3), np.uint8), fps=8, codec="libx264",
                macro_block_size=1, plugin="FFMPEG")
    files["corrupt_png"] = d / "corrupt.png"
    files["corrupt_png"].write_bytes(files["photo"].read_bytes()[:60] + b"\x00garbage" * 20)
    files["no_format"] = write_json(d / "noformat.json", {k: v for k, v in trajectory().items() if k != "format"})
    files["wide"] = write_json(d / "wide.json", trajectory(width=10**9))
    files["far"] = write_json(d / "far.json", trajectory(frames=[{"c2w": shifted(1e300), "K": K}] * 9))
    ckpt = d / "ckpt"
    ckpt.mkdir()
    (ckpt / "model.safetensors").symlink_to(ROOT / "assets/checkpoints/raxels-tiny/model.safetensors")
    doc = json.loads((ROOT / "assets/checkpoints/raxels-tiny/config.json").read_text())
    doc["config"]["model"]["num_layers"] = 100000
    (ckpt / "config.json").write_text(json.dumps(doc))
    files["huge_ckpt"] = ckpt
    return files


GEN = ("generate", "--checkpoint", "tiny", "--steps", "1")
JOINT = ("generate-joint", "--checkpoint", "tiny", "--steps", "1", "--ray-steps", "1")

# (case id, arguments with {name} for input files, {out} for the output and {outdir} for an existing folder,
#  text the message must contain). Variants of these run in process in test_cli_errors.py; these are the
#  reported cases, end to end.
CASES = [
    ("checkpoint-100000-layers", ("estimate-poses", "{clip}", "--checkpoint", "{huge_ckpt}", "--out", "{out}.json"),
     "config.model.num_layers = 100000"),
    ("device-cuda", ("estimate-poses", "{clip}", "--device", "cuda", "--checkpoint", "tiny", "--out", "{out}.json"),
     "device 'cuda': CUDA is not available"),
    ("out-png", (*GEN, "--images", "{photo}", "--cameras", "{path}", "--out", "{out}.png"), "unsupported video type"),
    ("out-folder", (*GEN, "--images", "{photo}", "--cameras", "{path}", "--out", "{outdir}"), "{outdir}"),
    ("fps-negative", (*GEN, "--images", "{photo}", "--cameras", "{path}", "--out", "{out}.mp4", "--fps", "-5"),
     "--fps"),
    ("fps-zero", (*GEN, "--images", "{photo}", "--cameras", "{path}", "--out", "{out}.mp4", "--fps", "0"), "--fps"),
    ("steps-zero", (*JOINT[:3], "--steps", "0", "--images", "{photo}", "--out", "{out}.mp4"),
     "steps must be between 1"),
    ("num-sources-zero", ("cycle", "{clip}", "--checkpoint", "tiny", "--num-sources", "0", "--out", "{out}.json"),
     "--num-sources must be between 1"),
    ("trajectory-no-format", (*GEN, "--images", "{photo}", "--cameras", "{no_format}", "--out", "{out}.mp4"),
     'required key is missing: a raxel-studio trajectory starts with "format"'),
    ("camera-width-1e9", (*GEN, "--images", "{photo}", "--cameras", "{wide}", "--out", "{out}.mp4"),
     "image width 1000000000 is outside"),
    ("camera-translation-1e300", (*GEN, "--images", "{photo}", "--cameras", "{far}", "--out", "{out}.mp4"),
     "translation component 1e+300"),
    # decoding limits and corrupt media (engine/media.py)
    ("png-10000x10000", (*GEN, "--images", "{huge_png}", "--cameras", "{path}", "--out", "{out}.mp4"), "huge.png"),
    ("png-corrupt", (*GEN, "--images", "{corrupt_png}", "--cameras", "{path}", "--out", "{out}.mp4"), "corrupt.png"),
]
# Inputs that are fine, under the same cap: a 2048 x 2048 x 33 clip is decoded frame by frame, shrunk as it
# goes, so it fits (decoded whole it would not).
GOOD = [("good-input", (*GEN, "--images", "{photo}", "--cameras", "{path}", "--out", "{out}.mp4"), "result.mp4"),
        ("video-2048x2048x33", ("estimate-poses", "{big_video}", "--checkpoint", "tiny", "--num-frames", "9",
                                "--out", "{out}.json"), "result.json")]


@pytest.fixture(scope="module")
def outcomes(inputs, tmp_path_factory) -> dict[str, tuple[Outcome, Path, dict[str, str]]]:
    """Every case run once, two processes at a time (each is mostly start-up: importing torch)."""
    running: list[tuple[str, subprocess.Popen, Path, dict[str, str]]] = []
    results = {}

    def collect(name, proc, work, fill):
        results[name] = (finish(proc, work), work, fill)

    for name, args, _ in [*CASES, *GOOD]:
        if len(running) == 2:
            collect(*running.pop(0))
        work = tmp_path_factory.mktemp(name)
        (work / "outdir").mkdir()
        fill = {**{k: str(v) for k, v in inputs.items()}, "out": str(work / "result"), "outdir": str(work / "outdir")}
        running.append((name, start_cli(*(a.format(**fill) for a in args), cwd=work), work, fill))
    for item in running:
        collect(*item)
    return results


@pytest.mark.parametrize("name, expected", [(c[0], c[2]) for c in CASES], ids=[c[0] for c in CASES])
def test_cli_bad_input_is_one_line_exit_2_and_no_output(outcomes, name, expected):
    proc, work, fill = outcomes[name]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert len(errors) == 1, proc.stderr[-2000:]
    assert expected.format(**fill) in errors[0], errors[0]
    written = [p.name for p in work.iterdir() if p.name != "outdir" and not p.name.startswith(".")]
    assert written == [] and list((work / "outdir").iterdir()) == []


@pytest.mark.parametrize("name, output", [(c[0], c[2]) for c in GOOD], ids=[c[0] for c in GOOD])
def test_cli_runs_good_inputs_under_the_same_cap(outcomes, name, output):
    """The cap and the environment are not what makes the cases above fail."""
    proc, work, _ = outcomes[name]
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (work / output).stat().st_size > 0
