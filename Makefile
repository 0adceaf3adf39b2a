# rnncalc's task runner. Every target is a thin wrapper over a command that works on its own
# (README.md, "Development"); `make help` lists them.

PYTHON ?= .venv/bin/python
# A separate environment with torch==2.13.0 and keras, for `make references`.
REFERENCE_PYTHON ?=
# A regular (not editable) install for `make bench`: an editable one slows every start-up.
# Under build/, which git, ruff and mypy leave alone.
BENCH_VENV ?= build/bench-venv

.DEFAULT_GOAL := help
.PHONY: help install test lint format goldens references bench ci

help: ## list the targets
	@echo "make TARGET [PYTHON=$(PYTHON)]"
	@awk 'BEGIN { FS = ":.*## " } /^[a-z]+:.*## / { printf "  %-11s %s\n", $$1, $$2 }' \
		$(MAKEFILE_LIST)

install: ## the editable development install into .venv, with the test tools
	python3 -m venv .venv && .venv/bin/pip install -e '.[test]'

test: ## the whole test suite (PYTEST_ARGS="-q -k fit" to narrow it)
	$(PYTHON) -m pytest $(PYTEST_ARGS)

lint: ## ruff check, ruff format --check, mypy --strict rnncalc tests
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check .
	$(PYTHON) -m mypy --strict rnncalc tests

format: ## ruff format, then ruff check --fix (then format what the fixes touched)
	$(PYTHON) -m ruff format .
	$(PYTHON) -m ruff check --fix .
	$(PYTHON) -m ruff format .

goldens: ## rewrite tests/golden/ and the README's console examples; then read the diff
	$(PYTHON) -m pytest --update-goldens
	git diff --stat -- tests/golden README.md

references: ## how to regenerate tests/reference/ (runs only with REFERENCE_PYTHON=...)
	@echo "tests/reference/ is made by PyTorch and Keras, which are not test dependencies."
	@echo "In a separate environment:"
	@echo "  python3 -m venv /tmp/ref"
	@echo "  /tmp/ref/bin/pip install torch==2.13.0 keras numpy torchinfo ptflops thop \\"
	@echo "      safetensors h5py onnx onnxruntime onnxscript"
	@echo "  make references REFERENCE_PYTHON=/tmp/ref/bin/python"
	@echo "which runs:"
	@echo "  KERAS_BACKEND=torch \$$REFERENCE_PYTHON tests/reference/make_forward_reference.py"
	@echo "  KERAS_BACKEND=torch \$$REFERENCE_PYTHON tests/reference/make_framework_counts.py"
	@echo "  KERAS_BACKEND=torch \$$REFERENCE_PYTHON tests/reference/make_network_counts.py"
	@echo "  KERAS_BACKEND=torch \$$REFERENCE_PYTHON tests/reference/make_network_forward.py"
	@echo "  \$$REFERENCE_PYTHON tests/reference/make_tool_counts.py"
	@echo "  \$$REFERENCE_PYTHON tests/reference/make_checkpoints.py (then make_torch_checkpoints.py,"
	@echo "  make_onnx_checkpoints.py, KERAS_BACKEND=torch make_keras_checkpoints.py, and last"
	@echo "  make_checkpoint_forward.py, which runs the files the others wrote)"
	@echo "then: make test, and read git diff -- tests/reference."
ifneq ($(REFERENCE_PYTHON),)
	KERAS_BACKEND=torch $(REFERENCE_PYTHON) -c \
		'import torch, keras; print("torch", torch.__version__, "keras", keras.__version__)'
	KERAS_BACKEND=torch $(REFERENCE_PYTHON) tests/reference/make_forward_reference.py
	KERAS_BACKEND=torch $(REFERENCE_PYTHON) tests/reference/make_framework_counts.py
	KERAS_BACKEND=torch $(REFERENCE_PYTHON) tests/reference/make_network_counts.py
	KERAS_BACKEND=torch $(REFERENCE_PYTHON) tests/reference/make_network_forward.py
	$(REFERENCE_PYTHON) tests/reference/make_tool_counts.py
	$(REFERENCE_PYTHON) tests/reference/make_checkpoints.py
	$(REFERENCE_PYTHON) tests/reference/make_torch_checkpoints.py
	$(REFERENCE_PYTHON) tests/reference/make_onnx_checkpoints.py
	KERAS_BACKEND=torch $(REFERENCE_PYTHON) tests/reference/make_keras_checkpoints.py
	$(REFERENCE_PYTHON) tests/reference/make_checkpoint_forward.py
	git diff --stat -- tests/reference
else
	@echo "REFERENCE_PYTHON is not set: nothing was run."
endif

bench: ## the benchmarks in tests/benchmarks/, from a regular install (build/bench-venv)
	python3 -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install --quiet .
	@status=0; for name in startup forward sweep inspect; do \
		echo "== tests/benchmarks/$$name.py"; \
		$(BENCH_VENV)/bin/python tests/benchmarks/$$name.py || status=1; \
	done; exit $$status

ci: ## .ci/run, as CI runs it (note: reinstalls .venv from '.[test]', not editable)
	.ci/run
