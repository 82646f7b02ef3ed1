# Two commands do all the set-up: `make lab` and `make test`.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.recnb-installed
EXTRAS ?= dev
# The suite also starts a real llama.cpp OpenAI-compatible server (the `server` extra).
TEST_EXTRAS ?= server
TEST_STAMP := $(VENV)/.recnb-test-installed
PORT ?= 8888
TOKEN ?= $(shell python3 -c 'import secrets; print(secrets.token_hex(16))')
# gpu-check runs with the venv by default; on a machine whose own python has CUDA torch, pass
# GPU_PYTHON=python3 (recnb importable, e.g. PYTHONPATH=.) to skip the venv bootstrap.
GPU_PYTHON ?= $(BIN)/python

.PHONY: lab test test-unit bench gpu-check data install clean-venv

# Bootstrap: .venv + package + extras, torch pinned to the CPU build by constraints.txt.
$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -c constraints.txt -e ".[$(EXTRAS)]"
	$(BIN)/pip install -c constraints.txt --no-deps $$($(BIN)/python -c 'import tomllib;print(" ".join(tomllib.load(open("pyproject.toml","rb"))["tool"]["recnb"]["no-deps-requirements"]))')
	touch $@

install: $(STAMP)

# llama-cpp-python compiles from source. Its default native build (-march=native) used AMX/AVX-512
# instructions that a VM's CPU can advertise but not allow (the suite died with SIGILL on one);
# GGML_NATIVE=OFF builds for AVX2 (SSE4.2, AVX, AVX2, FMA, F16C, BMI2) instead. The wheel is built
# once into LLAMA_WHEELS: pip's own wheel cache would hand back a native build, as it ignores CMAKE_ARGS.
LLAMA_CPP ?= llama-cpp-python==0.3.36
LLAMA_WHEELS ?= $(HOME)/.cache/recnb/wheels/avx2
$(TEST_STAMP): $(STAMP)
	ls $(LLAMA_WHEELS)/llama_cpp_python-*.whl >/dev/null 2>&1 || \
		CMAKE_ARGS="-DGGML_NATIVE=OFF" $(BIN)/pip wheel --no-deps --no-cache-dir -w $(LLAMA_WHEELS) "$(LLAMA_CPP)"
	$(BIN)/pip install --force-reinstall --no-deps $(LLAMA_WHEELS)/llama_cpp_python-*.whl
	$(BIN)/pip install -c constraints.txt --find-links $(LLAMA_WHEELS) -e ".[$(EXTRAS),$(TEST_EXTRAS)]"
	touch $@

lab: $(STAMP)
	@echo ""
	@echo "  recnb JupyterLab: http://127.0.0.1:$(PORT)/lab/tree/notebooks/00_start_here.ipynb?token=$(TOKEN)"
	@echo ""
	$(BIN)/jupyter lab --no-browser --ip 127.0.0.1 --port $(PORT) --IdentityProvider.token=$(TOKEN) \
		$$( [ "$$(id -u)" = 0 ] && echo --allow-root ) notebooks/00_start_here.ipynb

# The whole suite: unit tests, every notebook in tiny mode, browser tests.
test: $(TEST_STAMP)
	$(BIN)/python -m pytest tests

test-unit: $(STAMP)
	$(BIN)/python -m pytest tests -m "unit"

bench: $(STAMP)
	$(BIN)/python -m benchmarks.run

# GPU checks (CUDA machine): 4-bit/bf16 loading, unload, scoring latency, QLoRA; results are
# recorded into benchmarks/results.json by the tests themselves.
gpu-check:
	@if [ "$(GPU_PYTHON)" = "$(BIN)/python" ]; then $(MAKE) $(STAMP) && $(BIN)/pip install -c constraints.txt -e ".[gpu]"; fi
	$(GPU_PYTHON) -m pytest tests/gpu -v -rs

data: $(STAMP)
	$(BIN)/python data/build_movielens_small.py

clean-venv:
	rm -rf $(VENV)
