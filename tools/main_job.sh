#!/usr/bin/env bash
# The main job on the embedded data (make main runs it after the install):
#   1. generate the embedded MPII-format pose set (tools/generate_data.py, all cores);
#   2. train the binary HPM hourglass (configs/pose/binary_hg_mpii.py) and the real hourglass
#      (configs/pose/hg_mpii.py) for the same wall-clock budget: their seconds per training
#      iteration are measured by a 20-iteration training of each, side by side as the real
#      runs (--calibrate train), the real one gets iterations * t_binary / t_real, and the
#      two train side by side, one core each (tools/benchmark_walltime.py); each is evaluated
#      (PCKh@0.5, flip test) on the 500 held-out images at half and at the end of its run;
#   3. pictures: the learning curves (PCKh against training seconds, both networks) and a
#      gallery of enlarged held-out images with both networks' skeletons (tools/pose_gallery.py);
#   4. deploy: export the trained binary network to a packed file, its size, packed vs float
#      latency, and a check that the packed predictions equal the float binary model's
#      (tools/deploy_check.py).
#
#   bash tools/main_job.sh [BINARY_CONFIG] [REAL_CONFIG] [WORK_DIR]
#   MAIN_ITERS=360 (the binary network's iterations; the real one gets the same seconds; 360
#   keeps the job under 10 minutes on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
BINARY=${1:-configs/pose/binary_hg_mpii.py}
REAL=${2:-configs/pose/hg_mpii.py}
WORK_DIR=${3:-work_dirs/main}
ITERS=${MAIN_ITERS:-360}
PY=${PYTHON:-.venv/bin/python}
DATA=data/mpii_embedded
start=$(date +%s)
if [ ! -f "$DATA/annotations/mpii_val.json" ]; then
  "$PY" tools/generate_data.py mpii_synthetic --out "$DATA"
fi
"$PY" tools/benchmark_walltime.py "$BINARY" "$REAL" --names binary real --iters "$ITERS" \
  --parallel 2 --threads 1 --calibrate train --calib-iters 20 --val-points 2 --work-dir "$WORK_DIR"
ckpt() { cat "$WORK_DIR/$1/seed0/last_checkpoint"; }
"$PY" tools/pose_gallery.py "$BINARY" "$(ckpt binary)" "$REAL" "$(ckpt real)" \
  --names "binary HPM hourglass" "real hourglass" --num 8 --out "$WORK_DIR/predictions.png"
"$PY" tools/deploy_check.py "$BINARY" "$(ckpt binary)" --threads 2 --val-images 100 \
  --out "$WORK_DIR/binary_hg_mpii.bnn"
"$PY" - "$WORK_DIR/results.json" "$(( $(date +%s) - start ))" <<'PY'
import json, sys
res = json.load(open(sys.argv[1]))
rows = {r['name']: r for r in res['rows']}
b, r = (rows[n]['runs'][0] for n in ('binary', 'real'))
pb, pr = b['final']['PCK'], r['final']['PCK']
print(f"main job: {sys.argv[2]} s; {res['budget']}")
print(f"real hourglass:   PCKh@0.5 = {pr:.2f} after {r['train_s']:.0f} s of training")
print(f"binary hourglass: PCKh@0.5 = {pb:.2f} after {b['train_s']:.0f} s of training "
      f"({pb / pr:.2f}x the real one at the same budget)")
print(f"curves: {sys.argv[1][:-12]}curves.png; predictions: {sys.argv[1][:-12]}predictions.png")
print('PCKh@0.5 = %.2f' % pb)
PY
