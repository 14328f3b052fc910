#!/usr/bin/env bash
# The four ablation arms with the issue-10 recipe (RESULTS.md, sessions 11, 12 and 24).
#
#   bash configs/ablations/run-recipe.sh                    # all arms, STEPS=1500 each, one after another
#   bash configs/ablations/run-recipe.sh base plucker &     # or two at a time on the 2-core machine
#   STEPS=20 bash configs/ablations/run-recipe.sh base      # a quick smoke run
#   INPUTS=x3 STEPS=800 bash configs/ablations/run-recipe.sh   # sessions 11-12: the inputs of that time
#   SEED=1 bash configs/ablations/run-recipe.sh base        # another training seed (runs/<prefix>-s1-<arm>)
#
# Every arm is configs/tiny.toml with a run's input switches, trained from scratch, seed SEED (0), batch 8, EMA 0.995,
# for STEPS steps of the recipe's pose-estimation-only phase (its first 1,500 steps), where the designs differ
# in how fast they learn to read camera motion from the video. INPUTS picks the input switches:
#   motion   the local-motion input (model.motion_features), as M1, the shipped chain's first stage (default;
#            runs/ablation-motion-<arm>, probed with the model's own single pass)
#   x3       frozen XFeat features and the warped reference, as X3 (sessions 11-12; runs/ablation-recipe-<arm>,
#            probed with the checkpoint's default ensemble)
# One switch per arm:
#   base     raxels through the (patch) VAE, DSCA, no cosine term on the rays (the recipe)
#   plucker  Plücker rays (d, o x d) through an MLP instead of raxels through the VAE
#   global   one self-attention over the concatenated video + ray sequence instead of DSCA
#   raycos   the paper's cosine term on the rays too (lambda = 0.5 on every stream)
# (The recipe already drops the rays' cosine term, and in the pose-only phase the video is clean and not
# in the loss, so "no cosine loss" is the base here and the paper's loss is the arm.)
# Each arm is then probed on the probe's 24 held-out clips at 1, 2, 5 and 20 ray steps
# (<run>/probe-<steps>.json), and its earlier checkpoints (every 500 steps) at 2 (<run>/probe-<step>-2.json).
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
STEPS=${STEPS:-1500}
INPUTS=${INPUTS:-motion}
case $INPUTS in
  motion) inputs=(--set engine.model.motion_features=true); prefix=runs/ablation-motion; ens=(--ensemble none) ;;
  x3)     inputs=(--set engine.model.xfeat_features=true --set engine.model.warped_reference=true)
          prefix=runs/ablation-recipe; ens=() ;;
  *) echo "unknown INPUTS: $INPUTS (motion, x3)" >&2; exit 2 ;;
esac
SEED=${SEED:-0}
[ "$SEED" = 0 ] || prefix=$prefix-s$SEED
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
  run=$prefix-$arm
  rm -rf "$run"
  $PY -m engine train --config configs/tiny.toml "${switch[@]}" "${inputs[@]}" \
      --set train.steps="$STEPS" --set train.ema_decay=0.995 --set train.checkpoint_every=500 \
      --set train.keep_checkpoints=0 --set train.seed="$SEED" \
      --set data.num_workers=0 --set train.progress=false --set "train.output_dir=\"$run\""
  for steps in 1 2 5 20; do
    $PY -m engine.evaluate.probe --checkpoint "$run/final" --gen-clips 0 --pose-steps $steps "${ens[@]}" \
        --out "$run/probe-$steps.json" > /dev/null
  done
  for ck in "$run"/checkpoints/step-*; do
    [ -d "$ck" ] || continue
    step=$((10#${ck##*step-}))
    [ "$step" -lt "$STEPS" ] || continue
    $PY -m engine.evaluate.probe --checkpoint "$ck" --gen-clips 0 --pose-steps 2 "${ens[@]}" \
        --out "$run/probe-$step-2.json" > /dev/null
  done
done
