#!/usr/bin/env bash
# Counts the pairs of places that repeat six or more lines (the same lines or the same
# shape) outside tests and generated code, as the renovation's goal counts them, and says
# where they are. Needs the `duplicates` command on PATH.
#   scripts/count-duplicates.sh            the figure and its parts
#   scripts/count-duplicates.sh --list     and every pair
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
if ! command -v duplicates >/dev/null 2>&1; then
  echo "the duplicates command is not on PATH" >&2
  exit 1
fi
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
# Tracked files, without tests, generated protobuf code (*_pb2*.py, *.pyi) and benches.
git -C "$ROOT" ls-files \
  | grep -v -E '(^|/)tests?/|_pb2|\.pyi$|^bench/|(^|/)test_[^/]*\.py$|conftest\.py$' \
  | while read -r f; do
      mkdir -p "$TMP/tree/$(dirname "$f")"
      cp "$ROOT/$f" "$TMP/tree/$f"
    done
duplicates --repo "$TMP/tree" --most 200 --seconds 300 >"$TMP/pairs"
rows() { grep -E '^D[0-9]+ ' "$TMP/pairs" || true; }
count() { rows | grep -c -E "$1" || true; }
head -1 "$TMP/pairs"
total=$(rows | wc -l)
migrations=$(count 'migrations/')
protos=$(rows | grep -v 'migrations/' | grep -c '\.proto' || true)
rest=$(rows | grep -v -E 'migrations/|\.proto' || true)
identical=$(printf '%s\n' "$rest" | grep -v -c -E ' shape|^$' || true)
boiler=$(printf '%s\n' "$rest" | grep -c 'boilerplate' || true)
shape=$(printf '%s\n' "$rest" | grep ' shape' | grep -v -c 'boilerplate' || true)
echo "listed: $total"
echo "  in migrations (applied schema history): $migrations"
echo "  between .proto files (the wire contract): $protos"
echo "  elsewhere, identical runs: $identical"
echo "  elsewhere, same shape only: $shape"
echo "  elsewhere, same shape, marked boilerplate: $boiler"
grep -E '^\(\+|^left out|^incomplete' "$TMP/pairs" || true
if [ "${1:-}" = "--list" ]; then
  rows
fi
