"""Session 17, one-off: the rule's candidates C1-C8 scored from saved passes (probes-s16/dump_passes.py), as
the probe scores poses (chordal mean of the passes' rotations; translations from the plain pass).

    python assets/checkpoints/raxels-tiny/training/probes-s17/ensembles.py SHIPPED.npz COLOUR1.npz COLOUR2.npz \
        R7S0.npz R7S1.npz R7S2.npz [--refs REF2.npz REF4.npz REF6.npz REF8.npz] \
        [--steps STEPS1.npz STEPS3.npz] [--more G1.npz G2.npz R8.npz] [--json OUT.json]

--refs (the rule's addendum) adds C4 and C5: the shipped four passes with the reference slot on other frames;
--steps adds C6 and C7: the four passes at 1 and 3 ray steps; --more adds C8: C2 with the G1, G2 and R8 ray
sides at step 400.
"""
import json, os, sys
import numpy as np, torch
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "probes-s16"))
from combine import load, score, with_rot                  # noqa: E402
from geometry import chordal_mean                           # noqa: E402
from geometry.metrics import pose_metrics                   # noqa: E402

args = sys.argv[1:]


def take(flag, n):
    """The n arguments after ``flag`` (removed from args), or [] without it."""
    if flag not in args:
        return []
    i = args.index(flag); got = args[i + 1:i + 1 + n]; del args[i:i + 1 + n]
    return got


out = (take("--json", 1) or [None])[0]
refs = {k: load(p)[1] for k, p in zip((2, 4, 6, 8), take("--refs", 4))}
steps = {k: load(p)[1] for k, p in zip((1, 3), take("--steps", 2))}
more = {k: load(p)[1] for k, p in zip(("G1", "G2", "R8"), take("--more", 3))}
truth, shipped, styles = load(args[0])
colours = [load(p)[1] for p in args[1:3]]
siblings = [load(p)[1] for p in args[3:6]]
for other in colours + siblings + [*refs.values(), *steps.values(), *more.values()]:
    assert other.shape == shipped.shape
assert all(torch.equal(load(p)[0], truth) for p in args[1:6]), "the files must hold the same clips"
plain = shipped[:, 0]
cm = lambda p: chordal_mean(p[..., :3, :3].transpose(0, 1), dim=0)      # noqa: E731  (n, P, T) -> (n, T)
ident = torch.eye(4, dtype=truth.dtype).expand_as(truth)
id_err = float(np.asarray(pose_metrics(ident, truth)["mean_rot_err_deg"]).mean())
rows = {
    "shipped: four passes": cm(shipped),
    "shipped: one pass": plain[..., :3, :3],
    "colour cycled once, four passes": cm(colours[0]),
    "colour cycled twice, four passes": cm(colours[1]),
    "R7 seed 0 step 400, four passes": cm(siblings[0]),
    "R7 seed 1 step 400, four passes": cm(siblings[1]),
    "R7 seed 2 step 400, four passes": cm(siblings[2]),
    "C1: shipped, three colourings (12 passes)": cm(torch.cat([shipped, *colours], 1)),
    "C2: shipped and R7 seeds 0-2 (16 passes)": cm(torch.cat([shipped, *siblings], 1)),
    "C3: C1 and R7 seeds 0-2 (24 passes)": cm(torch.cat([shipped, *colours, *siblings], 1)),
}
for k, p in refs.items():
    rows[f"reference {k}, four passes"] = cm(p)
if refs:
    rows["C4: references 0 and 4 (8 passes)"] = cm(torch.cat([shipped, refs[4]], 1))
    rows["C5: references 0, 2, 4, 6, 8 (20 passes)"] = cm(torch.cat([shipped, *refs.values()], 1))
for k, p in steps.items():
    name = {1: "C6: four passes at 1 ray step", 3: "C7: four passes at 3 ray steps"}[k]
    rows[name] = cm(p)
    rows[f"one pass at {k} ray step(s)"] = p[:, 0, ..., :3, :3]
for k, p in more.items():
    rows[f"{k} step 400, four passes"] = cm(p)
if more:
    rows["C8: C2 with G1, G2 and R8 (28 passes)"] = cm(torch.cat([shipped, *siblings, *more.values()], 1))
report = {"clips": len(truth), "identity_deg": id_err, "rows": {}}
print(f"{len(truth)} clips, identity {id_err:.2f} deg")
for name, R in rows.items():
    e, oo, per = score(with_rot(plain, R), truth)
    by_style = {str(s): float(per[styles == s].mean()) for s in sorted(set(styles))}
    report["rows"][name] = {"rot_deg": e, "x_identity": e / id_err, "own_other": oo, "by_style": by_style}
    ps = "  ".join(f"{s} {v:.2f}" for s, v in by_style.items())
    print(f"{name:45s} {e:6.2f} deg  {e / id_err:.3f}x  own/other {oo:.3f}  {ps}")
if out:
    with open(out, "w") as f:
        json.dump(report, f, indent=1)
