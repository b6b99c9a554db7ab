#!/usr/bin/env bash
# Sets up the project's Python side when it is missing or its lock file changed:
#   .venv         requirements/dev.txt     PySpark (Glue 5.0 line), pytest, moto (the emulator), DuckDB, ...
#   .venv-policy  requirements/policy.txt  checkov (pins an older boto3 than moto needs, so kept apart)
#   .venv-flink   requirements/flink.txt   PyFlink 1.20 for the stream-SQL tests (pins older numpy, pyarrow and apache-beam than .venv)
#   .venv-node22  requirements/node22.txt  Node 22 (official binary in a wheel) for the CDK Terrain check: cdktn needs Node >= 22.19
# Installs exactly the hashed lock files; nothing is taken from the machine's own Python packages.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if ! command -v "$PYTHON" >/dev/null 2>&1; then
  echo "error: $PYTHON not found. Install Python 3.11 (Glue 5.0's version), e.g. 'apt-get install python3.11 python3.11-venv'." >&2
  exit 1
fi
if ! "$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info[:2] >= (3, 11) else 1)'; then
  echo "error: $("$PYTHON" --version) is too old; Glue 5.0 jobs run on Python 3.11. Set PYTHON=python3.11." >&2
  exit 1
fi

ensure() {
  local venv=$1 lock=$2 want stamp
  want=$(sha256sum "$lock" | cut -d' ' -f1)
  stamp="$venv/.lock.sha256"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$venv/bin/python" ]; then
    return 0
  fi
  echo "› setting up $venv from $lock (first run only; a few minutes)"
  rm -rf "$venv"
  "$PYTHON" -m venv "$venv"
  # PIP_CONSTRAINT is cleared: a machine-wide constraints file must not change a hashed lock.
  PIP_CONSTRAINT="" "$venv/bin/pip" install --quiet --disable-pip-version-check \
    --require-hashes --no-deps -r "$lock"
  echo "$want" > "$stamp"
  echo "› $venv ready"
}

# Which to set up: the names given (`ensure-venv.sh .venv` for what npm start and local:up run), else all.
declare -A LOCKS=([.venv]=requirements/dev.txt [.venv-policy]=requirements/policy.txt [.venv-node22]=requirements/node22.txt [.venv-flink]=requirements/flink.txt)
# PyFlink 1.20 (Managed Flink's FLINK-1_20 runtime) pins numpy, pyarrow and apache-beam versions the Glue side cannot use: .venv-flink.
wanted=("$@")
[ ${#wanted[@]} -gt 0 ] || wanted=(.venv .venv-policy .venv-node22 .venv-flink)
# In parallel: each install waits mostly on downloads and unpacking, so together they take about as long as the largest.
pids=()
for venv in "${wanted[@]}"; do
  lock=${LOCKS[$venv]:-}
  if [ -z "$lock" ]; then
    echo "error: unknown virtualenv $venv (one of: ${!LOCKS[*]})" >&2
    exit 2
  fi
  ensure "$venv" "$lock" &
  pids+=("$!:$venv")
done
failed=()
for entry in "${pids[@]}"; do
  wait "${entry%%:*}" || failed+=("${entry#*:}")
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "error: setting up ${failed[*]} failed (see above); rerun npm run setup:py" >&2
  exit 1
fi
