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
}

ensure .venv requirements/dev.txt
ensure .venv-policy requirements/policy.txt
ensure .venv-node22 requirements/node22.txt
# PyFlink 1.20 (Managed Flink's FLINK-1_20 runtime) pins numpy, pyarrow and apache-beam versions the Glue side cannot use.
ensure .venv-flink requirements/flink.txt
