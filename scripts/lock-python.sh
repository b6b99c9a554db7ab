#!/usr/bin/env bash
# Re-locks the Python requirements (requirements/*.in → hashed requirements/*.txt) after an edit.
set -euo pipefail
cd "$(dirname "$0")/.."
tools=$(mktemp -d)
trap 'rm -rf "$tools"' EXIT
python3 -m venv "$tools"
"$tools/bin/pip" install --quiet pip-tools==7.5.2
for name in dev policy node22 flink; do
  "$tools/bin/pip-compile" --quiet --generate-hashes --strip-extras --allow-unsafe \
    --no-emit-index-url --no-emit-find-links -o "requirements/$name.txt" "requirements/$name.in"
done
