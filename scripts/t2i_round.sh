#!/usr/bin/env bash
# One more training round of all five text-to-image models, side by side on one device.
#
#   scripts/t2i_round.sh DEVICE MINUTES OUTDIR [SMOKE]
#
# Each family continues the published model (<family>.shapes, pulled when needed), or the run
# folder named by FROM_<FAMILY> (FROM_STACKGAN_PP=runs/stackgan-pp-c2, say), for about MINUTES
# of training and writes OUTDIR/<family>/ (a zoo model folder) and OUTDIR/<family>.log.
# ARGS_<FAMILY> adds trainer arguments to that family's run (ARGS_ATTNGAN="-K ngf=32 -K d_aux=1").
# SMOKE=1 runs two steps of each instead (to check a setup before spending GPU time).
# Every run is bounded by `timeout`, so the script ends even when one of them stalls.
set -u
DEVICE=${1:?device, e.g. cuda or cpu}
MINUTES=${2:?minutes of training per model}
OUT=${3:?output folder}
SMOKE=${4:-0}
mkdir -p "$OUT"
SECONDS_CAP=$(python3 -c "print(int(float('$MINUTES') * 60))")
HARD=$(python3 -c "print(int(float('$MINUTES') * 60 + 150))")  # + setup, final evaluation, saving

start_from() {  # the folder a family continues: FROM_<FAMILY>, else the published model's snapshot
  local var="FROM_$(echo "$1" | tr 'a-z-' 'A-Z_')"
  if [ -n "${!var:-}" ]; then echo "${!var}"; return; fi
  zoo pull -q "$1.shapes" >&2 || return 1
  zoo info "$1.shapes" --json | python3 -c "import json, sys; print(json.load(sys.stdin)['path'])"
}
declare -A FROM
for fam in attngan mirrorgan stackgan-pp stackgan gan-int-cls; do
  FROM[$fam]=$(start_from "$fam") || { echo "$fam: no starting point (set FROM_...)" >&2; exit 2; }
done
if [ "$SMOKE" = 1 ]; then
  HARD=900  # two steps each, but five processes setting up at once on a small machine
  LIMIT=(attngan "-K max_steps=2" mirrorgan "-K max_steps=2" stackgan-pp "-K max_steps=2"
         stackgan "-K max_steps=2" gan-int-cls "-K max_steps=2")
else
  LIMIT=(attngan "-K minutes=$MINUTES -K batch_size=32"
         mirrorgan "-K minutes=$MINUTES -K batch_size=32"
         stackgan-pp "-K minutes=$MINUTES -K batch_size=32 --epochs 1000"
         stackgan "-K stage1_seconds=$((SECONDS_CAP * 2 / 5)) -K stage2_seconds=$((SECONDS_CAP * 3 / 5)) --epochs 1000"
         gan-int-cls "-K max_seconds=$SECONDS_CAP --epochs 1000")
fi

pids=()
for ((i = 0; i < ${#LIMIT[@]}; i += 2)); do
  fam=${LIMIT[i]}
  cap=$HARD
  # a checkout without runs/mirrorgan-stream trains MirrorGAN's captioner first (a few CPU minutes)
  [ "$fam" = mirrorgan ] && [ ! -f runs/mirrorgan-stream/stream.safetensors ] && cap=$((HARD + 420))
  extra="ARGS_$(echo "$fam" | tr 'a-z-' 'A-Z_')"
  # shellcheck disable=SC2086  # the limits and extra arguments are several words on purpose
  PYTHONUNBUFFERED=1 timeout "$cap" python3 scripts/train.py "$fam" --config small --out "$OUT/$fam" \
    --device "$DEVICE" --threads 2 -K init_from="${FROM[$fam]}" ${LIMIT[i + 1]} ${!extra:-} >"$OUT/$fam.log" 2>&1 &
  pids+=($!)
done
status=0
for ((i = 0; i < ${#pids[@]}; i++)); do
  wait "${pids[i]}" || { echo "${LIMIT[i * 2]}: failed (see $OUT/${LIMIT[i * 2]}.log)"; status=1; }
done
for ((i = 0; i < ${#LIMIT[@]}; i += 2)); do tail -n 2 "$OUT/${LIMIT[i]}.log"; done
exit $status
