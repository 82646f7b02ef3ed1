#!/usr/bin/env bash
# The GPU checks as one script for a lent CUDA machine that has torch/transformers but not the
# kit's other packages or the bundled models (see CONTRIBUTING.md, "GPU checks"). Wheels arrive
# as .gpu/p* parts from tools/gpu_wheels.sh (split because one transfer is capped); results go to $OUT.
#   RECNB_GPU_TESTS: the test files or ids to run (default: all of tests/gpu, issue-named checks first).
#   RECNB_GPU_LB_BUDGET_S: seconds per LLM ranker in the 200-user GPU leaderboard (default 300).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-/tmp/recnb-gpu-out}"; mkdir -p "$OUT"
# Parts carried one call at a time and moved to /tmp/parts (see CONTRIBUTING.md), or all in .gpu/.
PARTS=$(ls /tmp/parts/p* 2>/dev/null || ls .gpu/p* 2>/dev/null || true)
if [ -n "$PARTS" ]; then
    # shellcheck disable=SC2086
    mkdir -p /tmp/recnb-wheels && cat $PARTS | tar x -C /tmp/recnb-wheels
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site /tmp/recnb-wheels/*.whl
fi
export PYTHONPATH=/tmp/site:. RECNB_CACHE=${RECNB_CACHE:-/tmp/recnb-cache} HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
nvidia-smi -L
python3 -c "import torch, transformers; print('torch', torch.__version__, 'transformers', transformers.__version__)"
# Issue-named checks first (unload, NF4, 7B-shape 4-bit vs bf16, QLoRA), the longer ones last.
TESTS=${RECNB_GPU_TESTS:-"tests/gpu/test_gpu_models.py tests/gpu/test_gpu_llm.py tests/gpu/test_gpu_qlora.py
    tests/gpu/test_cross_encoder_gpu.py tests/gpu/test_systems_gpu.py tests/gpu/test_eval_leaderboard_gpu.py"}
# shellcheck disable=SC2086
timeout "${RECNB_GPU_TIMEOUT:-480}" python3 -m pytest -v -rs -p no:cacheprovider --timeout 400 $TESTS \
    2>&1 | tee "$OUT/gpu-check.log"
rc=${PIPESTATUS[0]}
cp benchmarks/results.json BENCHMARKS.md "$OUT/" 2>/dev/null
exit $rc
