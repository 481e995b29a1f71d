#!/usr/bin/env bash
# Regenerates the two locks: requirements.lock (runtime: the image) and
# requirements-test.lock (the same pins plus test tools: .venv and CI).
# Existing pins are kept (each lock is resolved under the previous one);
# delete a line of requirements.lock to let that package move.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.local/bin:$PATH"
args=(--python-version 3.10 --python-platform x86_64-manylinux_2_28 --quiet)
uv pip compile requirements.in "${args[@]}" -c requirements.lock -o requirements.lock.new
mv requirements.lock.new requirements.lock
uv pip compile requirements-test.in "${args[@]}" -c requirements-test.lock -o requirements-test.lock.new 2>/dev/null \
  || uv pip compile requirements-test.in "${args[@]}" -o requirements-test.lock.new
mv requirements-test.lock.new requirements-test.lock
echo "lock: requirements.lock $(grep -c '==' requirements.lock) pins, requirements-test.lock $(grep -c '==' requirements-test.lock) pins"
