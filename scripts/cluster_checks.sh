#!/usr/bin/env bash
# The slow checks of what only a cluster would otherwise show (44 min on 2
# cores, README): the compiled Kubeflow spec executed task by task as open-source KFP
# 2.5 and as Vertex AI hand tasks over (KFP's cache included), and the whole
# local DAG on gs:// and s3:// roots against a GCS emulator and an S3 server;
# and the unit checks that start worker processes as a cluster would (Beam's
# multi-process runner, MultiWorkerMirroredStrategy), marked `cluster`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export TF_USE_LEGACY_KERAS=1 CUDA_VISIBLE_DEVICES='' TF_CPP_MIN_LOG_LEVEL=2 TF_CPU_ALLOCATOR_USE_BFC=true
exec .venv/bin/python -m pytest -q -m cluster "$@"
