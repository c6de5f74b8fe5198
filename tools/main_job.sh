#!/usr/bin/env bash
# The main job on the embedded data: generate the embedded pose set, train the binary HPM
# hourglass with learned scaling (configs/pose/binary_hg_mpii.py), evaluate the final
# checkpoint, and save the metrics and pictures of the predictions.
#
#   bash tools/main_job.sh [CONFIG] [WORK_DIR]          (make main runs it after the install)
set -euo pipefail
cd "$(dirname "$0")/.."
CONFIG=${1:-configs/pose/binary_hg_mpii.py}
WORK_DIR=${2:-work_dirs/$(basename "$CONFIG" .py)}
PY=${PYTHON:-.venv/bin/python}
DATA=data/mpii_embedded
start=$(date +%s)
if [ ! -f "$DATA/annotations/mpii_val.json" ]; then
  "$PY" tools/generate_data.py mpii_synthetic --out "$DATA"
fi
"$PY" tools/train.py "$CONFIG" --work-dir "$WORK_DIR"
CKPT=$(cat "$WORK_DIR/last_checkpoint")
"$PY" tools/test.py "$CONFIG" "$CKPT" --work-dir "$WORK_DIR" --show-dir vis --interval 25 \
  --out "$WORK_DIR/metrics.json"
VIS=$(ls -td "$WORK_DIR"/*/vis 2>/dev/null | head -1)
echo "main job: $(( $(date +%s) - start )) s; metrics in $WORK_DIR/metrics.json; pictures in ${VIS:-?}"
"$PY" -c "import json,sys; m=json.load(open(sys.argv[1])); print('PCKh@0.5 = %.2f' % m['PCK'])" \
  "$WORK_DIR/metrics.json"
