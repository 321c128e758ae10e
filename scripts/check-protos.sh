#!/usr/bin/env bash
# Fails when the committed generated code differs from what `make protos` would write.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
scripts/gen-protos.sh "$tmp" >/dev/null 2>&1
if ! diff -r -q "$tmp/icc" libs/protos/src/icc >/dev/null; then
  diff -r "$tmp/icc" libs/protos/src/icc | head -40 >&2
  echo "Generated protobuf code is stale: run 'make protos' and commit the result." >&2
  exit 1
fi
echo "protos: generated code is up to date"
