#!/usr/bin/env bash
# Data-parallel training through mmengine's own launch (torch.distributed.run + DDP).
#   bash tools/dist_train.sh CONFIG NPROC [train.py options]
# Multi-node: set NNODES, NODE_RANK, MASTER_ADDR, PORT. On CPU the config's
# env_cfg.dist_cfg.backend should be 'gloo' (the default of configs/_base_/default_runtime.py).
# Python: $PYTHON if set, else the repository's .venv/bin/python, else python3 on the PATH.
set -euo pipefail
CONFIG=$1
NPROC=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-127.0.0.1}
HERE=$(cd "$(dirname "$0")" && pwd)
# the repository's venv (tools/install.sh) unless PYTHON names another interpreter
if [ -z "${PYTHON:-}" ]; then
    if [ -x "$HERE/../.venv/bin/python" ]; then
        PYTHON="$HERE/../.venv/bin/python"
    else
        PYTHON=$(command -v python3 || command -v python)
    fi
fi
PYTHONPATH="$HERE/..${PYTHONPATH:+:$PYTHONPATH}" \
"$PYTHON" -m torch.distributed.run \
    --nnodes="$NNODES" --node_rank="$NODE_RANK" --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$NPROC" --master_port="$PORT" \
    "$HERE/train.py" "$CONFIG" --launcher pytorch "${@:3}"
