"""Session 15's pose table (RESULTS.md): validation (seeds 352-559) or test (560-1023) probes, ensemble and one pass.

    python assets/checkpoints/raxels-tiny/training/probes-s15/table.py [val|test] [FOLDER ...]

Folders default to this one (session 16 adds probes-s16).
"""
import json
import sys
from pathlib import Path

HERE = Path(__file__).parent
kind = sys.argv[1] if len(sys.argv) > 1 else "val"
folders = [Path(f) for f in sys.argv[2:]] or [HERE]
print("| checkpoint | clips | rotation deg, ensemble (x identity) | one pass | own/other | ATE | dl3dv / re10k deg "
      "(identity) | translation spread (truth) |")
print("|---|---|---|---|---|---|---|---|")
for path in [p for f in folders for p in sorted(f.glob(f"{kind}-*.json"))]:
    d = json.loads(path.read_text())
    e, s = d["poses"], d.get("poses_single_pass", d["poses"])
    st = e["per_style"]
    print(f"| {path.stem[len(kind) + 1:]} | {e['clips']} | **{e['rot_err_deg']:.2f}** ({e['rot_err_deg'] / e['identity_rot_err_deg']:.3f}x "
          f"of {e['identity_rot_err_deg']:.2f}) | {s['rot_err_deg']:.2f} | {e['own_other']:.3f} | {e['ATE']:.3f} | "
          f"{st['dl3dv']['rot_err_deg']:.2f} / {st['re10k']['rot_err_deg']:.2f} ({st['dl3dv']['identity_rot_err_deg']:.1f} / "
          f"{st['re10k']['identity_rot_err_deg']:.1f}) | {e['trans_dir_spread_deg']:.1f} ({e['trans_dir_spread_truth_deg']:.1f}) |")
