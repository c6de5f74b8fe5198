#!/usr/bin/env bash
# Build .venv in the repository and install the pinned stack.
#
#   bash tools/install.sh            # idempotent: a second run only checks
#
# Steps that are special on this stack (see README "Install notes"):
#   * mmpose is installed with --no-deps: its `chumpy` requirement's setup imports pip and fails;
#   * xtcocotools is built from source against numpy 2 (the wheel is built for numpy 1);
#   * mmcv-lite (no compiled ops) instead of mmcv; plugins/compat.py makes MMPose import.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
die() { echo "install.sh: ERROR: $*" >&2; exit 1; }
step() { echo "install.sh: $*"; }
stamp="$VENV/.installed-$(sha1sum requirements.txt tools/install.sh setup.cfg | sha1sum | cut -c1-12)"
have_stack() {  # cheap: finds the packages without importing them
  "$VENV/bin/python" - <<'PY' 2>/dev/null
import importlib.util, sys
names = ['torch', 'torchvision', 'mmengine', 'mmcv', 'mmpose', 'xtcocotools', 'timm', 'tltorch',
         'pytest', 'plugins']
sys.exit(0 if all(importlib.util.find_spec(n) for n in names) else 1)
PY
}
if [ -f "$stamp" ] && have_stack; then
  step "environment $VENV is up to date (delete $stamp to force a reinstall)"; exit 0
fi
start=$(date +%s)
"$PY" -c 'import sys; assert sys.version_info[:2] >= (3, 10), sys.version' \
  || die "Python >= 3.10 is required (found $($PY --version 2>&1))"
[ -x "$VENV/bin/python" ] || { step "creating $VENV"; "$PY" -m venv "$VENV" || die "could not create $VENV"; }
pip() { "$VENV/bin/python" -m pip "$@"; }
pip install -q --upgrade pip wheel "setuptools<80" || die "could not upgrade pip"
step "installing the pinned requirements"
pip install -q -r requirements.txt || die "pip could not install requirements.txt"
step "building xtcocotools from source against numpy $("$VENV/bin/python" -c 'import numpy; print(numpy.__version__)')"
if ! "$VENV/bin/python" -c "from xtcocotools.coco import COCO" 2>/dev/null; then
  pip install -q --no-build-isolation --no-binary xtcocotools xtcocotools \
    || die "xtcocotools did not build (needs gcc and Python headers)"
fi
step "installing mmpose 1.3.2 without its broken chumpy requirement"
pip install -q --no-deps mmpose==1.3.2 || die "could not install mmpose"
step "installing this package (editable)"
pip install -q --no-deps --no-build-isolation -e . || die "could not install the plugins package"
step "checking the stack imports"
"$VENV/bin/python" - <<'PY' || die "the installed stack does not import (see the traceback above)"
import plugins  # installs the compatibility layer
import mmpose, mmengine, mmcv, timm, tltorch, torch
from mmpose.utils import register_all_modules
register_all_modules()
print(f"torch {torch.__version__}, mmengine {mmengine.__version__}, mmcv {mmcv.__version__}, "
      f"mmpose {mmpose.__version__}, timm {timm.__version__}")
PY
rm -f "$VENV"/.installed-*
touch "$stamp"
step "done in $(( $(date +%s) - start )) s"
