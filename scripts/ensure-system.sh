#!/usr/bin/env bash
# Debian packages the local cloud runs, installed when missing (idempotent, a no-op once present):
#   jq                      Firehose's dynamic-partitioning queries are jq programs; the emulator runs them
#   postgresql              the RDS datasets' source in the local cloud (a real server, scripts/local/postgres.ts)
#   libpostgresql-jdbc-java the JDBC driver jar the Glue RDS extract reads it with (/usr/share/java/postgresql.jar)
#   openssl                 the local PostgreSQL server's TLS certificate (the Glue connection enforces SSL)
# Needs root (or sudo) the first time; otherwise it says exactly what to run.
set -euo pipefail

PACKAGES=(jq postgresql libpostgresql-jdbc-java openssl)
missing=()
for pkg in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "error: the local cloud needs these Debian/Ubuntu packages: ${missing[*]}; install them with your system's package manager." >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo"; else
    echo "error: missing Debian packages ${missing[*]}; run: sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi
echo "› installing Debian packages: ${missing[*]} (first run only)"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
