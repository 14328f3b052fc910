"""Session 14's table (RESULTS.md): each checkpoint's probe with the pose ensemble, the single pass beside.

    python assets/checkpoints/raxels-tiny/training/probes-s14/table.py
"""
import json
from pathlib import Path

HERE = Path(__file__).parent
ROWS = [("shipped (Q5 800)", "shipped")] + [(f"{a.upper()} {s:,}", f"{a}-{s}") for a in ("r1", "r2", "r3", "r4", "r5", "r6")
                                           for s in (400, 800, 1200)]


def row(label: str, name: str) -> str | None:
    path = HERE / f"ens-{name}.json"
    if not path.is_file():
        return None
    d = json.loads(path.read_text())
    e, s = d["poses"], d["poses_single_pass"]
    full = HERE / f"full-{name}.json"
    gen = json.loads(full.read_text()).get("generation") if full.is_file() else None
    single = HERE / f"{name}.json"                      # the one-pass probe with generation, when it was run
    if gen is None and single.is_file():
        gen = json.loads(single.read_text()).get("generation")
    psnr = f"{gen['psnr_own']:.2f} / {gen['psnr_other']:.2f} / {gen['psnr_copy_first']:.2f}" if gen else "-"
    styles = " / ".join(f"{e['per_style'][k]['rot_err_deg']:.1f}" for k in ("dl3dv", "re10k"))
    return (f"| {label} | **{e['rot_err_deg']:.2f}** ({e['rot_err_deg'] / e['identity_rot_err_deg']:.3f}x) | "
            f"{s['rot_err_deg']:.2f} | {e['own_other']:.3f} | {e['ATE']:.3f} | {styles} | "
            f"{e['trans_dir_spread_deg']:.1f} | {psnr} |")


print("| checkpoint | rotation deg, ensemble (x identity 21.45) | one pass | own/other | ATE | dl3dv / re10k deg "
      "| translation spread (truth 54.9) | PSNR own / other / copy-first |")
print("|---|---|---|---|---|---|---|---|")
for label, name in ROWS:
    line = row(label, name)
    if line:
        print(line)
