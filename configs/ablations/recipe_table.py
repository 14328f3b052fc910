"""The table of configs/ablations/run-recipe.sh's arms:

    python configs/ablations/recipe_table.py [runs-dir] [steps] [prefix]

``prefix`` names the arms' runs (``<runs-dir>/<prefix>-<arm>``): ``ablation-recipe`` (sessions 11-12, the
default) or ``ablation-motion`` (session 24). ``steps`` ("-" for none) reads an extended arm's probes from
``<run>/probes-<steps>/`` (an arm continued with ``python -m engine train --resume <run> --set
train.steps=<steps>`` and probed into that folder)."""

import csv
import json
import sys
from pathlib import Path

ARMS = {"base": "base: raxels, DSCA, no ray cosine (the recipe)", "plucker": "Plücker instead of raxels",
        "global": "global attention instead of DSCA", "raycos": "the paper's cosine term on the rays too"}


def train_seconds(run: Path, steps: str | None):
    """Training wall time: summary.json, or for an extended arm the last ``wall_s`` of its curves up to
    ``steps`` (``curves-to-<steps>.csv`` as committed, else the run's own ``curves.csv``)."""
    if steps is None:
        summary = json.loads((run / "summary.json").read_text()) if (run / "summary.json").exists() else {}
        return summary.get("wall_time_s", "-")
    for name in (f"curves-to-{steps}.csv", "curves.csv"):
        if (run / name).exists():
            rows = list(csv.DictReader((run / name).open()))
            if rows and int(rows[-1]["step"]) == int(steps):
                return float(rows[-1]["wall_s"])
    return "-"


def earlier(run: Path) -> str:
    """Rotation error and own/other of the arm's earlier checkpoints at 2 ray steps (``probe-<step>-2.json``)."""
    found = sorted((int(p.name.split("-")[1]), json.loads(p.read_text())["poses"]) for p in run.glob("probe-*-2.json"))
    return ", ".join(f"{step}: {q['rot_err_deg']:.2f} / {q['own_other']:.3f}" for step, q in found) or "-"


def main(root: str = "runs", steps: str | None = None, prefix: str = "ablation-recipe") -> None:
    steps = None if steps == "-" else steps
    print("| arm | rotation deg, 1 / 2 / 5 / 20 ray steps | own/other (2) | input dependence (2) | ATE (2) "
          "| per style (2): deg (clips better than identity) | clips lower than base (2) "
          "| earlier steps (2): deg / own/other | train s |")
    print("|---|---|---|---|---|---|---|---|---|")
    ident, base = None, None
    for arm, label in ARMS.items():
        run = Path(root) / f"{prefix}-{arm}"
        where = run / f"probes-{steps}" if steps else run
        probes = {s: json.loads((where / f"probe-{s}.json").read_text())["poses"]
                  for s in (1, 2, 5, 20) if (where / f"probe-{s}.json").exists()}
        if 2 not in probes:
            print(f"| {label} | not run | | | | | | | |")
            continue
        p = probes[2]
        ident = p["identity_rot_err_deg"]
        rots = " / ".join(f"{probes[s]['rot_err_deg']:.2f}" if s in probes else "-" for s in (1, 2, 5, 20))
        styles = ", ".join(f"{k} {v['rot_err_deg']:.1f} ({v['better_than_identity']}/{v['clips']})"
                           for k, v in p["per_style"].items())
        secs = train_seconds(run, steps)
        errs = p.get("per_clip_rot_err_deg")  # older probes lack it
        if arm == "base":
            base, paired = errs, "-"
        else:
            paired = f"{sum(e < b for e, b in zip(errs, base))}/{len(errs)}" if base and errs else "-"
        print(f"| {label} | {rots} | {p['own_other']:.3f} | {p['input_dependence']:.3f} | {p['ATE']:.3f} "
              f"| {styles} | {paired} | {earlier(run)} | {secs if isinstance(secs, str) else round(secs)} |")
    if ident is not None:
        print(f"| identity (\"never turns\") | {ident:.2f} | 1 | 0 | | | | | |")


if __name__ == "__main__":
    main(*sys.argv[1:])
