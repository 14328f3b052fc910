"""Cold start, run by hand: ``python -m benchmarks.cold_start [--repeats 3]``.

Each row is a fresh ``python`` process (what a user waits for on every CLI call), timed by wall clock,
with the process's own CPU time (user + sys) beside it: on a loaded machine the wall time waits for a
core, the CPU time does not. Rows: the interpreter alone, the CLI's --help, the imports the model needs
(torch, diffusers), ``Engine.from_checkpoint()`` split into import and load, and ``estimate-poses`` on a
9-frame clip. Named baseline: the figures issue 13 measured before the lazy imports (2 cores).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLIP = ROOT / "tests" / "data" / "re10k" / "0c9b371cc6225682.mp4"

# seconds of wall time, issue 13 ("Every CLI command spends about 4.5 s starting before any work;
# Engine.from_checkpoint() takes 4.0 s for an 8 MB checkpoint"); targets from the same issue
BASELINE_S = {"engine --help": 4.5, "engine estimate-poses --help": 4.5, "Engine.from_checkpoint()": 4.0}
TARGET_S = {"engine --help": 1.0, "engine estimate-poses --help": 1.0, "estimate-poses, 9 frames": 2.0}


def _rows(out_dir: str) -> dict[str, list[str]]:
    py = [sys.executable]
    return {
        "python -c pass": py + ["-c", "pass"],
        "engine --help": py + ["-m", "engine", "--help"],
        "engine estimate-poses --help": py + ["-m", "engine", "estimate-poses", "--help"],
        "import torch": py + ["-c", "import torch"],
        "import torch, diffusers.models": py + ["-c", "import torch, diffusers.models"],
        "import engine.engine (all the model needs)": py + ["-c", "import engine.engine"],
        "Engine.from_checkpoint()": py + ["-c", "from engine import Engine; Engine.from_checkpoint()"],
        "estimate-poses, 9 frames": py + ["-m", "engine", "estimate-poses", str(CLIP), "--num-frames", "9",
                                          "--out", os.path.join(out_dir, "cams.json")],
    }


def _run(cmd: list[str]) -> tuple[float, float]:
    """(wall s, CPU s of the child) of one fresh process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"error: {' '.join(cmd)} failed: {proc.stderr.strip().splitlines()[-1:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.cold_start", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3, help="fresh processes per row (median reported)")
    args = ap.parse_args(argv)
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} (wall times wait for a free core)")
    print(f"{'':44}{'wall s':>8}{'CPU s':>8}{'baseline s':>12}{'target s':>10}")
    with tempfile.TemporaryDirectory() as out_dir:
        for label, cmd in _rows(out_dir).items():
            runs = [_run(cmd) for _ in range(args.repeats)]
            wall, cpu = statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)
            base = f"{BASELINE_S[label]:.1f}" if label in BASELINE_S else ""
            target = f"{TARGET_S[label]:.1f}" if label in TARGET_S else ""
            print(f"{label:44}{wall:>8.2f}{cpu:>8.2f}{base:>12}{target:>10}")


if __name__ == "__main__":
    main()
