"""Session 16, one-off: each pose-ensemble pass of a checkpoint on held-out clips, saved for offline analysis
(combination rules, rotation calibration) without re-running the model.

    OMP_NUM_THREADS=1 python assets/checkpoints/raxels-tiny/training/probes-s16/dump_passes.py FIRST COUNT OUT.npz \
        [CHECKPOINT] [--variant vflip|transpose] [--colour 1|2] [--ref K] [--steps N] [--seed S]

--colour (session 17) cycles the colour channels once (RGB -> GBR) or twice (RGB -> BRG) before the passes; the
cameras are unchanged by it. --ref (session 17) gives every pass reference slot K instead of 0 (the reversed
passes: slot K of the reversed clip); the answers are still saved canonicalised to frame 0. --steps (session
17): ray steps per pass (default 2). --seed (session 19): the noise seed of every pass (default 0, the engine's).
--variant first turns every clip upside down (rows reversed) or transposes it (rows and columns swapped) and maps
the answers back by the same change of the camera's axes (c2w -> S c2w S, S = diag(1, -1, 1, 1) or the x/y swap).

OUT holds truth (n, T, 4, 4), passes (n, 4, T, 4, 4) (plain, mirrored, reversed, both; each mapped back onto
the clip and canonicalised to frame 0), styles (n,). Identical to the engine's ensemble passes (same seed 0,
2 steps, reference 0), which the check at the end confirms on the first clip.
"""
import sys, time
import numpy as np, torch
from engine import Engine
from engine.evaluate.benchmarks import procedural_clips
from geometry import canonicalize, chordal_mean


def option(flag, cast, default):
    """The value after ``flag`` (removed from sys.argv), or ``default`` without it."""
    if flag not in sys.argv:
        return default
    i = sys.argv.index(flag); value = cast(sys.argv[i + 1]); del sys.argv[i:i + 2]
    return value


variant = option("--variant", str, None)
assert variant in (None, "vflip", "transpose"), variant
colour = option("--colour", int, 0)
assert colour in (0, 1, 2), colour
ref = option("--ref", int, 0)
steps = option("--steps", int, 2)
seed = option("--seed", int, 0)
S = {None: np.eye(4), "vflip": np.diag([1.0, -1, 1, 1]), "transpose": np.eye(4)[[1, 0, 2, 3]]}[variant]
first, count, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
ck = sys.argv[4] if len(sys.argv) > 4 else "assets/checkpoints/raxels-tiny"
eng = Engine.from_checkpoint(ck, device="cpu")
clips = procedural_clips(eng.config.clip, count, first_seed=first)
truth, passes, styles = [], [], []
t0 = time.time()
for i, c in enumerate(clips):
    f = np.asarray(c.frames)                                   # (T, H, W, 3)
    f = np.roll(f, -colour, axis=-1)                           # colour 1: (G, B, R)
    if variant == "vflip":
        f = f[:, ::-1]
    elif variant == "transpose":
        f = f.transpose(0, 2, 1, 3)
    row = []
    for mir, rev in ((False, False), (True, False), (False, True), (True, True)):
        x = f[:, :, ::-1] if mir else f
        x = x[::-1] if rev else x
        cams = eng.estimate_poses(np.ascontiguousarray(x), steps=steps, seed=seed, ref=ref, ensemble="none").to(torch.float64)
        if mir:
            cams = cams.mirrored()
        if rev:
            cams = cams.reversed()
        row.append(S @ canonicalize(cams.c2w, 0).numpy() @ S)
    passes.append(np.stack(row)); truth.append(canonicalize(c.cameras.c2w, 0).numpy()); styles.append(c.label)
    if i == 0 and variant is None and colour == 0 and ref == 0 and steps == 2 and seed == 0:
        ens = eng.estimate_poses(f, steps=2, seed=0, ensemble="mirror_reverse").to(torch.float64)
        mine = chordal_mean(torch.from_numpy(passes[0][:, :, :3, :3]), dim=0)
        print("check vs engine ensemble, max |dR|:", float((ens.c2w[:, :3, :3] - mine).abs().max()), flush=True)
    if i % 20 == 0:
        print(i, f"{time.time() - t0:.0f}s", flush=True)
np.savez_compressed(out, truth=np.stack(truth), passes=np.stack(passes), styles=np.array(styles))
print("saved", out, f"{time.time() - t0:.0f}s")
