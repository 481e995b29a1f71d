#!/usr/bin/env bash
# Builds .venv from nothing: Python 3.10, every package pinned by requirements-test.lock
# (the image's requirements.lock plus the test tools, at the same pins),
# and this project installed in editable mode. Idempotent: when the lock and
# pyproject.toml are unchanged since the last successful run it returns at once.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.venv
STAMP="$VENV/.setup-stamp"
want=$(cat requirements-test.lock pyproject.toml | sha256sum | cut -d' ' -f1)
if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]]; then
  echo "setup: .venv is up to date"
  exit 0
fi

if ! command -v uv >/dev/null 2>&1; then
  echo "setup: installing uv"
  python3 -m pip install --quiet --user uv || python3 -m pip install --quiet uv
  export PATH="$HOME/.local/bin:$PATH"
fi

# Python 3.10: newer TFX has no ml-metadata wheels for 3.11+.
PY=""
for cand in python3.10 "$HOME/.pyenv/versions/"3.10*/bin/python3.10; do
  if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null; then
    PY=$(command -v "$cand"); break
  fi
done
[[ -n "$PY" ]] || PY=3.10   # let uv find (or download) a 3.10

# --seed puts pip in the venv: TFX pip-installs user-module wheels with it.
[[ -x "$VENV/bin/python" ]] || uv venv --seed --python "$PY" "$VENV"
uv pip sync --python "$VENV/bin/python" requirements-test.lock
uv pip install --python "$VENV/bin/python" --no-deps -e .
echo "$want" > "$STAMP"
echo "setup: done ($("$VENV/bin/python" --version))"
