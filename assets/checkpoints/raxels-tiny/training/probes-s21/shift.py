"""Session 21: pose estimation averaged over copies of the clip shifted by a few pixels, so that the model's
4-pixel patch grid falls on other pixels (a shift moves the principal point, not the relative rotations).

    OMP_NUM_THREADS=1 python assets/checkpoints/raxels-tiny/training/probes-s21/shift.py FIRST COUNT OUT.npz \
        [CHECKPOINT] [--shifts 0:0,2:0,0:2,-2:0,0:-2] [--pad edge|reflect]

Each shift dx:dy moves every frame dx pixels right and dy down (the uncovered border filled by --pad, default
edge); every copy gets the engine's shipped pose estimate (2 ray steps, the four-pass mirror/reverse ensemble,
seed 0), canonicalised to frame 0. OUT holds truth (n, T, 4, 4), answers (n, S, T, 4, 4), styles, shifts.
Printed, scored as the evaluator scores poses (mean rotation error over all frame pairs; own/other against the
next clip's answer; identity = never turns): each shift alone, and the chordal mean of the rotations of all
shifts, and of the unshifted clip with each opposite pair.
"""
import sys, time
import numpy as np, torch
from engine import Engine
from engine.evaluate.benchmarks import procedural_clips
from geometry import canonicalize, chordal_mean
from geometry.metrics import pose_metrics


def option(flag, cast, default):
    if flag not in sys.argv:
        return default
    i = sys.argv.index(flag); value = cast(sys.argv[i + 1]); del sys.argv[i:i + 2]
    return value


def shifted(f, dx, dy, pad):
    """Frames (T, H, W, 3) moved dx right and dy down, same size."""
    H, W = f.shape[1:3]
    p = max(abs(dx), abs(dy))
    if p == 0:
        return f
    g = np.pad(f, ((0, 0), (p, p), (p, p), (0, 0)), mode=pad)
    return np.ascontiguousarray(g[:, p - dy:p - dy + H, p - dx:p - dx + W])


def score(pred, truth):
    own = np.asarray(pose_metrics(pred, truth)["mean_rot_err_deg"])
    other = np.asarray(pose_metrics(pred.roll(-1, 0), truth)["mean_rot_err_deg"])
    return own, float(own.mean() / other.mean())


def with_mean_rotation(answers, idx):
    out = answers[:, idx[0]].clone()
    out[..., :3, :3] = chordal_mean(answers[:, idx, :, :3, :3].transpose(0, 1), dim=0)
    return out


def report(truth, answers, styles, shifts):
    ident = torch.eye(4, dtype=truth.dtype).expand_as(truth)
    id_err = float(np.asarray(pose_metrics(ident, truth)["mean_rot_err_deg"]).mean())
    rows = [(f"shift {s}", [i]) for i, s in enumerate(shifts)] + [("all shifts", list(range(len(shifts))))]
    for name, idx in rows:
        own, oo = score(with_mean_rotation(answers, idx), truth)
        by = {s: round(float(own[styles == s].mean()), 2) for s in sorted(set(styles))}
        print(f"{name:>12}: rot {own.mean():.2f} deg  x identity {own.mean() / id_err:.3f}  own/other {oo:.3f}  {by}")
    print(f"identity: {id_err:.2f} deg, {len(truth)} clips")


if __name__ == "__main__":
    shifts = option("--shifts", lambda s: [tuple(int(v) for v in p.split(":")) for p in s.split(",")],
                    [(0, 0), (2, 0), (0, 2), (-2, 0), (0, -2)])
    pad = option("--pad", str, "edge")
    if sys.argv[1] == "--score":
        d = np.load(sys.argv[2])
        report(torch.from_numpy(d["truth"]), torch.from_numpy(d["answers"]), d["styles"],
               [tuple(s) for s in d["shifts"]])
        sys.exit()
    first, count, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    ck = sys.argv[4] if len(sys.argv) > 4 else "assets/checkpoints/raxels-tiny"
    eng = Engine.from_checkpoint(ck, device="cpu")
    clips = procedural_clips(eng.config.clip, count, first_seed=first)
    truth, answers, styles = [], [], []
    t0 = time.time()
    for i, c in enumerate(clips):
        f = np.asarray(c.frames)
        row = [canonicalize(eng.estimate_poses(shifted(f, dx, dy, pad), steps=2, seed=0).to(torch.float64).c2w, 0)
               for dx, dy in shifts]
        answers.append(torch.stack(row)); truth.append(canonicalize(c.cameras.c2w.to(torch.float64), 0))
        styles.append(c.label)
        if i % 10 == 0:
            print(i, f"{time.time() - t0:.0f}s", flush=True)
    truth, answers, styles = torch.stack(truth), torch.stack(answers), np.array(styles)
    np.savez_compressed(out, truth=truth.numpy(), answers=answers.numpy(), styles=styles, shifts=np.array(shifts))
    print(f"saved {out}, {(time.time() - t0) / 60:.1f} min")
    report(truth, answers, styles, shifts)
