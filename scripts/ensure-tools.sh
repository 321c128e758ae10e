#!/usr/bin/env bash
# Installs what ICC needs on a fresh machine and is not a Python package:
# uv (from PyPI), nats-server (from Debian) and the dispatcher screen's Leaflet (from npm,
# pinned by services/gateway/web/package-lock.json). Safe to run repeatedly.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"

if ! command -v uv >/dev/null 2>&1; then
  echo "uv not found: installing it from PyPI (python3 -m pip install --user uv)"
  python3 -m pip install --quiet --user uv || python3 -m pip install --quiet uv
fi

if ! command -v nats-server >/dev/null 2>&1 && [ ! -x /usr/sbin/nats-server ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "nats-server not found: installing it with apt-get"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nats-server
  else
    echo "nats-server not found. Install it: 'sudo apt-get install -y nats-server' (Debian/Ubuntu)," >&2
    echo "or download it from https://github.com/nats-io/nats-server/releases and set ICC_NATS_SERVER_BIN." >&2
    exit 1
  fi
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
