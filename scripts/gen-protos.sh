#!/usr/bin/env bash
# Generates Python code and typed stubs from protos/ into OUT (default: the icc-protos package).
# Usage: scripts/gen-protos.sh [OUT]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-libs/protos/src}
rm -rf "$out/icc"
mkdir -p "$out"
mapfile -t files < <(find protos -name '*.proto' | sort)
python -m grpc_tools.protoc -I protos \
  --python_out="$out" --grpc_python_out="$out" \
  --mypy_out="$out" --mypy_grpc_out="$out" \
  "${files[@]}"
# protoc writes no package markers; regular packages keep mypy and hatch simple.
find "$out/icc" -type d -exec touch {}/__init__.py \;
touch "$out/icc/py.typed"
