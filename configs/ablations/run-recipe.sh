#!/usr/bin/env bash
# The four ablation arms with the issue-10 recipe (RESULTS.md, "Ablations with the issue-10 recipe").
#
#   bash configs/ablations/run-recipe.sh                    # all arms, STEPS=800 each, one after another
#   bash configs/ablations/run-recipe.sh base plucker &     # or two at a time on the 2-core machine
#   STEPS=20 bash configs/ablations/run-recipe.sh base      # a quick smoke run
#
# Every arm is configs/tiny.toml with the current run's input switches (frozen XFeat features, the warped
# reference; X3 in training/COMMAND.md), trained from scratch, seed 0, batch 8, for STEPS steps of the
# recipe's pose-estimation-only phase (its first 1,500 steps; 800 let two pairs of arms and their probes fit in a session),
# where the designs differ in how fast they learn to read camera motion from the video. One switch per arm:
#   base     raxels through the (patch) VAE, DSCA, no cosine term on the rays (the recipe)
#   plucker  Plücker rays (d, o x d) through an MLP instead of raxels through the VAE
#   global   one self-attention over the concatenated video + ray sequence instead of DSCA
#   raycos   the paper's cosine term on the rays too (lambda = 0.5 on every stream)
# (The recipe already drops the rays' cosine term, and in the pose-only phase the video is clean and not
# in the loss, so "no cosine loss" is the base here and the paper's loss is the arm.)
# Each arm is then probed on the probe's 24 held-out clips at 1, 2, 5 and 20 ray steps:
# runs/ablation-recipe-<arm>/probe-<steps>.json.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
STEPS=${STEPS:-800}
ARMS=("$@"); [ ${#ARMS[@]} -eq 0 ] && ARMS=(base plucker global raycos)
export OMP_NUM_THREADS=1
for arm in "${ARMS[@]}"; do
  case $arm in
    base)    switch=() ;;
    plucker) switch=(--set 'engine.model.camera_encoding="plucker"') ;;
    global)  switch=(--set 'engine.model.attention="global"') ;;
    raycos)  switch=(--set engine.flow.ray_cos_weight=0.5) ;;
    *) echo "unknown arm: $arm (base, plucker, global, raycos)" >&2; exit 2 ;;
  esac
  run=runs/ablation-recipe-$arm
  rm -rf "$run"
  $PY -m engine train --config configs/tiny.toml "${switch[@]}" \
      --set engine.model.xfeat_features=true --set engine.model.warped_reference=true \
      --set train.steps="$STEPS" --set train.ema_decay=0.995 --set train.checkpoint_every=500 \
      --set data.num_workers=0 --set train.progress=false --set "train.output_dir=\"$run\""
  for steps in 1 2 5 20; do
    $PY -m engine.evaluate.probe --checkpoint "$run/final" --gen-clips 0 --pose-steps $steps \
        --out "$run/probe-$steps.json" > /dev/null
  done
done
