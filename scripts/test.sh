#!/usr/bin/env bash
# Sets up .venv (idempotent) and runs the whole test suite, end-to-end test included.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export TF_USE_LEGACY_KERAS=1 CUDA_VISIBLE_DEVICES='' TF_CPP_MIN_LOG_LEVEL=2 TF_CPU_ALLOCATOR_USE_BFC=true
# Two processes (pytest-xdist), one module or class per process at a time
# (--dist loadscope), so the shared end-to-end run is made once.
exec .venv/bin/python -m pytest -q -n 2 --dist loadscope "$@"
