"""Command line: ``python -m engine <command>``.

    python -m engine estimate-poses CLIP.mp4 --out cams.json
    python -m engine generate --images a.png --cameras path.json --out video.mp4
    python -m engine generate-joint --images a.png --num-frames 9 --out video.mp4 --cameras-out cams.json
    python -m engine cycle CLIP.mp4 --out report.json
    python -m engine evaluate --checkpoint DIR --benchmark procedural --colmap --out results/RUN

Every command takes --checkpoint (a checkpoint directory or a preset name; default: the shipped
model), --device, --steps and --seed, and shows a progress bar. Output paths are checked before any
work. A bad input or argument prints one line ``error: ...`` and exits with status 2; ``--debug``
(before the command) shows the traceback instead.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from tqdm import tqdm

if TYPE_CHECKING:  # the parser and --help must not import torch / geometry (issue 13, cold start)
    from .events import ProgressEvent


# Errors that mean "the input or the environment is wrong", reported in one line. Anything else is a bug
# and keeps its traceback.
USER_ERRORS = (ValueError, OSError)


class _Parser(argparse.ArgumentParser):
    """argparse whose usage errors are one line (status 2), like every other bad input here."""

    def error(self, message: str):
        self.exit(2, f"error: {self.prog}: {message} (see {self.prog} --help)\n")


def _fps(text: str) -> float:
    """argparse type for --fps: a frame rate ``save_video`` can write."""
    from .media import check_fps

    try:
        return check_fps(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _check_writable(path: Path, what: str) -> None:
    """``path`` can be created or replaced: not a folder (unless ``what`` is a folder), in an existing,
    writable folder."""
    if path.is_dir() and what != "folder":
        raise ValueError(f"{path}: is a folder; {what} is written to a file")
    if path.exists() and not path.is_dir() and what == "folder":
        raise ValueError(f"{path}: is a file; a COLMAP model is written to a folder")
    parent = path if what == "folder" and path.is_dir() else path.parent
    if not parent.is_dir():
        raise ValueError(f"{path}: folder {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ValueError(f"{path}: folder {parent} is not writable")
    if path.is_file() and not os.access(path, os.W_OK):
        raise ValueError(f"{path}: file exists and is not writable")


def _check_camera_output(path: str, option: str) -> None:
    from geometry.io import format_for_saving

    try:
        fmt = format_for_saving(path)
    except ValueError as exc:
        raise ValueError(f"{option}: {exc}") from None
    _check_writable(Path(path), "folder" if fmt == "colmap" else "a camera file")


def check_outputs(args: argparse.Namespace) -> None:
    """Check every output path of a command (format and writability) before any work is done."""
    from .media import check_video_output

    kind = getattr(args, "out_kind", None)
    out = getattr(args, "out", None)
    if kind == "video":
        check_video_output(out)
    elif kind == "cameras":
        _check_camera_output(out, "--out")
    elif kind == "json" and out is not None:
        if Path(out).suffix.lower() != ".json":
            raise ValueError(f"{out}: --out writes a JSON report; give a file name ending in .json")
        _check_writable(Path(out), "a JSON report")
    if getattr(args, "cameras_out", None) is not None:
        _check_camera_output(args.cameras_out, "--cameras-out")
    if kind == "video" and args.cameras_out is not None and Path(args.cameras_out).resolve() == Path(out).resolve():
        raise ValueError(f"{out}: --out and --cameras-out are the same file")


def _engine(args: argparse.Namespace):
    from .engine import Engine

    eng = Engine.from_checkpoint(args.checkpoint, device=args.device)
    info = eng.info()
    note = "" if eng.trained else "  [UNTRAINED weights: outputs are noise]"
    print(f"engine: {info['source']} ({info['preset']}, {info['parameters'] / 1e6:.1f}M params) on {info['device']}"
          f"{note}", file=sys.stderr)
    return eng


def _follow(events: Iterator[ProgressEvent], label: str) -> Any:
    """Drive a task's events with a progress bar; return its result."""
    result = None
    with tqdm(desc=label, unit="step", file=sys.stderr, dynamic_ncols=True) as bar:
        for ev in events:
            if ev.total and bar.total != ev.total:
                bar.reset(total=ev.total)
            if ev.stage == "denoise":
                bar.n = ev.step
            bar.set_postfix_str(ev.message or ev.stage)
            bar.refresh()
            if ev.stage == "done":
                result = ev.result
    return result


def _source_frames(text: str) -> str | list[int]:
    if text in ("first", "middle", "last"):
        return text
    try:
        return [int(v) for v in text.split(",")]
    except ValueError:
        raise SystemExit(f"--source-frames must be first, middle, last or comma-separated frame indices, got {text!r}")


# The Engine's messages name its Python arguments; here they name the flag the user typed instead.
_FLAG_OF_ARGUMENT = {"num_frames": "--num-frames", "num_sources": "--num-sources", "pose_steps": "--steps",
                     "steps": "--steps", "ref": "--ref", "seed": "--seed"}


def _naming_flags(events: Iterator[ProgressEvent]) -> Iterator[ProgressEvent]:
    """A task's events; an Engine ``ValueError`` that starts with an argument name (``num_frames must be
    ...``) is re-raised with the command's flag in its place (``--num-frames must be ...``)."""
    try:
        yield from events
    except ValueError as exc:
        text = str(exc)
        name = text.split(" ", 1)[0]
        if name not in _FLAG_OF_ARGUMENT:
            raise
        raise ValueError(_FLAG_OF_ARGUMENT[name] + text[len(name):]) from exc


def cmd_estimate_poses(args: argparse.Namespace) -> int:
    from geometry import save_cameras

    eng = _engine(args)
    res = _follow(_naming_flags(eng.estimate_poses_stream(args.clip, steps=args.steps, seed=args.seed, ref=args.ref,
                                                          num_frames=args.num_frames, method=args.method,
                                                          ensemble=args.ensemble)),
                  "estimate poses")
    save_cameras(res.cameras, args.out)
    for note in res.notes:
        print(f"note: {note}", file=sys.stderr)
    print(f"wrote {len(res.cameras)} cameras to {args.out}")
    return 0


# Formats whose intrinsics are normalised by a frame size the file does not record: only these need
# --width/--height (a sibling <stem>.mp4 gives the size too). Other formats record their size; the flags
# are refused there rather than silently rescaling the file's cameras.
_SIZELESS_FORMATS = {"re10k": "a RealEstate10K pose file"}


def _load_generation_cameras(args: argparse.Namespace):
    """The --cameras file, with --width/--height where its format needs them (and only there)."""
    from geometry import load_cameras
    from geometry.io import detect_format

    if (args.width is None) != (args.height is None):
        raise ValueError("--width and --height go together: give both or neither")
    fmt = detect_format(args.cameras)
    path = Path(args.cameras)
    if fmt in _SIZELESS_FORMATS:
        if args.width is None and not path.with_suffix(".mp4").is_file():
            raise ValueError(f"{path}: {_SIZELESS_FORMATS[fmt]} stores intrinsics normalised by the frame size, "
                             f"which it does not record, and there is no {path.with_suffix('.mp4').name} beside it: "
                             "pass --width and --height (the size of the frames the cameras belong to)")
    elif args.width is not None:
        raise ValueError(f"--width/--height: {path} is a {fmt} camera file, which records its own image size; "
                         "these flags are only for RealEstate10K .txt pose files (normalised intrinsics)")
    return load_cameras(path, width=args.width, height=args.height)


def _check_upscaled_out(args: argparse.Namespace) -> None:
    """--upscaled-out is a video path of its own, checked before any work like --out."""
    from .media import check_video_output

    if args.upscaled_out is None:
        return
    check_video_output(args.upscaled_out)
    others = {"--out": args.out, "--cameras-out": args.cameras_out}
    for flag, other in others.items():
        if other is not None and Path(other).resolve() == Path(args.upscaled_out).resolve():
            raise ValueError(f"{args.upscaled_out}: --upscaled-out and {flag} are the same file")


def _write_videos(frames: np.ndarray, args: argparse.Namespace) -> list[str]:
    """Write --out (the model's own frames) and, if asked, --upscaled-out; one line per file written."""
    from .media import probe_media, save_video
    from .upscale import UPSCALED_LABEL, upscaled_copy

    save_video(frames, args.out, fps=args.fps)
    T, h, w = frames.shape[:3]
    lines = [f"wrote {args.out}: {T} frames at {w}x{h}, the model's resolution"]
    if args.upscaled_out is not None:
        photo = probe_media(args.images[0], label="--images")
        big = upscaled_copy(frames, photo.width, photo.height)
        save_video(big, args.upscaled_out, fps=args.fps)
        lines.append(f"wrote {args.upscaled_out}: {T} frames at {big.shape[2]}x{big.shape[1]}, {UPSCALED_LABEL} "
                     f"(the {photo.width}x{photo.height} photo's region the model's frames cover)")
    return lines


def cmd_generate(args: argparse.Namespace) -> int:
    from geometry import save_cameras

    _check_upscaled_out(args)
    cams = _load_generation_cameras(args)  # before the (slow) engine
    eng = _engine(args)
    done: list[ProgressEvent] = []

    def keep_done(events: Iterator[ProgressEvent]) -> Iterator[ProgressEvent]:
        for ev in events:
            if ev.stage == "done":
                done.append(ev)
            yield ev

    frames = _follow(keep_done(eng.generate_stream(args.images, cams, num_frames=args.num_frames, steps=args.steps,
                                                   seed=args.seed, source_frames=_source_frames(args.source_frames),
                                                   method=args.method)),
                     "generate")
    if done[-1].message:
        print(f"note: {done[-1].message}", file=sys.stderr)
    lines = _write_videos(frames, args)
    if args.cameras_out:
        save_cameras(done[-1].cameras, args.cameras_out)   # the cameras the frames follow (resampled if so)
        lines.append(f"wrote {len(done[-1].cameras)} cameras to {args.cameras_out}")
    print("\n".join(lines))
    return 0


def cmd_generate_joint(args: argparse.Namespace) -> int:
    from geometry import save_cameras

    _check_upscaled_out(args)
    eng = _engine(args)
    res = _follow(eng.generate_joint_stream(args.images, args.num_frames, steps=args.steps, ray_steps=args.ray_steps,
                                            seed=args.seed, source_frames=_source_frames(args.source_frames)),
                  "generate jointly")
    lines = _write_videos(res.frames, args)
    if args.cameras_out:
        save_cameras(res.poses.cameras, args.cameras_out)
        lines.append(f"wrote {len(res.poses.cameras)} cameras to {args.cameras_out}")
    for note in res.poses.notes:
        print(f"note: {note}", file=sys.stderr)
    print("\n".join(lines))
    return 0


def cmd_cycle(args: argparse.Namespace) -> int:
    eng = _engine(args)
    rep = _follow(_naming_flags(eng.cycle_stream(args.clip, args.num_sources, pose_steps=args.steps, seed=args.seed,
                                                 num_frames=args.num_frames)), "cycle")
    summary = {k: (float(v) if isinstance(v, (float, np.floating)) else v) for k, v in rep.items()
               if isinstance(v, (float, int, list, str, np.floating))}
    summary["psnr"] = [float(v) for v in rep["psnr"]]
    summary["ssim"] = [float(v) for v in rep["ssim"]]
    text = json.dumps(summary, indent=2)
    if args.out:
        Path(args.out).write_text(text + "\n")
    print(text)
    print(f"cycle error {rep['rot_err_deg']:.2f} deg rotation along the predicted trajectory, "
          f"{rep['other_rot_err_deg']:.2f} deg along another (ignoring the clip would give "
          f"{rep['other_ignoring_input_rot_err_deg']:.2f} deg); regenerated frames {rep['mean_psnr']:.2f} dB PSNR, "
          f"SSIM {rep['mean_ssim']:.3f} (source frames {rep['source_frames']} excluded)", file=sys.stderr)
    for warning in rep["warnings"]:
        print(f"warning: {warning}", file=sys.stderr)
    return 0


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", default=None, help="checkpoint directory or preset name (default: shipped model)")
    p.add_argument("--device", default="auto", help="auto (cuda, mps, cpu), cuda, cpu, ...")
    p.add_argument("--steps", type=int, default=None, help="denoising steps (default: the checkpoint's)")
    p.add_argument("--seed", type=int, default=0)


_UPSCALED_HELP = ("also write an enlarged copy (.mp4 or .gif): a plain bicubic resize of the model's frames to the "
                  "size, in the first photo's pixels, of the photo region they cover; no added detail")


# Commands whose modules import torch and the model at import time: their full parsers are built only when
# the command is named, so `python -m engine --help` and the other commands' --help start in well under a
# second (issue 13). name -> (module, function adding the subparser, the one-line summary --help lists).
_DEFERRED_COMMANDS = {
    "train": (".train.cli", "add_train_command", "train or fine-tune a model from a TOML run config"),
    "evaluate": (".evaluate.cli", "add_evaluate_command",
                 "evaluate a checkpoint on a benchmark (report.md, CSV, PNG)"),
    "pack-state": (".train.cli", "add_pack_command",
                   "a small copy of a run's resumable state, to commit so the run outlives the machine"),
    "average-checkpoints": (".train.cli", "add_average_command", "the mean of a run's checkpoints (stochastic weight averaging)"),
    "compare": (".evaluate.compare", "add_compare_command", "one table from several evaluate reports (ablations)"),
}


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The full parser for the command named in ``argv`` (default ``sys.argv[1:]``); other deferred
    commands appear in --help by name and summary only."""
    parser = _Parser(prog="python -m engine", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--debug", action="store_true", help="show tracebacks for bad inputs too")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("estimate-poses", help="camera trajectory of a clip")
    p.add_argument("clip", help="video file (mp4, gif, ...) or a folder of frames")
    p.add_argument("--out", required=True, help="camera file to write (format by extension, see docs/formats.md)")
    p.add_argument("--num-frames", type=int, default=None,
                   help="pick this many frames evenly (1 + 4k) and run them in one pass; default: every frame, "
                        "one camera each, in overlapping windows of the model's clip length (docs/windowing.md)")
    p.add_argument("--ref", type=int, default=0, help="frame the trajectory is expressed in")
    from .baselines import BASELINE_METHODS

    p.add_argument("--method", choices=["raxels", *BASELINE_METHODS], default="raxels",
                   help="raxels: the model; the others are classical baselines, run on the clip's own frames")
    from .config import POSE_ENSEMBLES

    p.add_argument("--ensemble", choices=POSE_ENSEMBLES, default=None,
                   help="the model's passes: mirror_reverse averages the rotations of the clip, mirrored and "
                        "reversed; none is one pass; default: the checkpoint's sampler.pose_ensemble")
    _common(p)
    p.set_defaults(func=cmd_estimate_poses, out_kind="cameras")

    p = sub.add_parser("generate", help="video along a camera path from images")
    p.add_argument("--images", nargs="+", required=True)
    p.add_argument("--cameras", required=True, help="camera path file (trajectory JSON, camera_path.json, ...)")
    p.add_argument("--num-frames", type=int, default=None,
                   help="frames to generate (1 + 4k); the path is resampled along itself when its camera count "
                        "differs (default: the file's count if 1 + 4k, else the nearest 1 + 4k count above it)")
    p.add_argument("--width", type=int, default=None,
                   help="RealEstate10K .txt only (normalised intrinsics): width of the frames the cameras belong "
                        "to, when no <stem>.mp4 lies beside the file; refused for formats that record their size")
    p.add_argument("--height", type=int, default=None, help="with --width")
    p.add_argument("--source-frames", default="first", help="first, middle, last, or frame indices like 0,8")
    p.add_argument("--out", required=True, help="video file (.mp4 or .gif): the model's frames, at its resolution")
    p.add_argument("--upscaled-out", default=None, help=_UPSCALED_HELP)
    p.add_argument("--cameras-out", default=None, help="the cameras the frames follow (resampled when the path was)")
    from .config import GENERATION_METHODS

    p.add_argument("--method", choices=GENERATION_METHODS, default="raxels",
                   help="raxels: the model; warp: the classical baseline, the first image warped into each camera "
                        "with the scene at infinity, on the model's grid (what the model is measured against)")
    p.add_argument("--fps", type=_fps, default=8.0)
    _common(p)
    p.set_defaults(func=cmd_generate, out_kind="video")

    p = sub.add_parser("generate-joint", help="video and camera path together from images")
    p.add_argument("--images", nargs="+", required=True)
    p.add_argument("--num-frames", type=int, default=None)
    p.add_argument("--ray-steps", type=int, default=None)
    p.add_argument("--source-frames", default="first")
    p.add_argument("--out", required=True, help="video file (.mp4 or .gif): the model's frames, at its resolution")
    p.add_argument("--upscaled-out", default=None, help=_UPSCALED_HELP)
    p.add_argument("--cameras-out", default=None)
    p.add_argument("--fps", type=_fps, default=8.0)
    _common(p)
    p.set_defaults(func=cmd_generate_joint, out_kind="video")

    p = sub.add_parser("cycle", help="self-consistency: poses -> regenerate -> poses")
    p.add_argument("clip")
    p.add_argument("--num-sources", type=int, default=3)
    p.add_argument("--num-frames", type=int, default=None,
                   help="pick this many frames evenly (1 + 4k); default: the clip as it is when 1 + 4k frames, else "
                        "the most 1 + 4k frames it has, picked evenly (poses in windows, docs/windowing.md)")
    p.add_argument("--out", default=None, help="write the report as JSON")
    _common(p)
    p.set_defaults(func=cmd_cycle, out_kind="json")

    for name, (module, adder, summary) in _DEFERRED_COMMANDS.items():
        if name in (sys.argv[1:] if argv is None else argv):
            try:
                add_command = getattr(importlib.import_module(module, __package__), adder)
            except ImportError as exc:  # e.g. training extras not installed: listed, and running it says why
                def unavailable(args, exc=exc, name=name):
                    raise ValueError(f"{name}: not available in this installation ({exc})")

                sub.add_parser(name, help=summary).set_defaults(func=unavailable, out_kind=None)
            else:
                add_command(sub)
        else:
            sub.add_parser(name, help=summary)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser(argv).parse_args(argv)
    try:
        check_outputs(args)
        return args.func(args)
    except USER_ERRORS as exc:  # bad input: one clear line, no traceback (unless --debug)
        if args.debug:
            raise
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
