# Two commands do all the set-up: `make demo` and `make test`.
# Each creates .venv if it is missing and installs the package (with the dev extra) into it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.kerasaudio-installed
export TF_CPP_MIN_LOG_LEVEL ?= 2
PYTEST_WORKERS ?= 2

.PHONY: demo test test-slow lint bench bench-training synthesizers clean

# The speech synthesisers behind zoo/synthetic.py (synthetic training speakers) and its
# tests: Debian's espeak-ng and flite, installed with apt-get when missing.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
synthesizers:
	@command -v espeak-ng >/dev/null && command -v flite >/dev/null || \
		{ $(SUDO) apt-get update -qq && \
		  $(SUDO) apt-get install -y -qq --no-install-recommends espeak-ng flite >/dev/null; }

$(STAMP): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check -q -e '.[dev]'
	touch $(STAMP)

# `make demo WAV="a.wav b.wav"` also classifies your own recordings.
demo: $(STAMP)
	$(BIN)/python examples/demo.py $(WAV)

lint: $(STAMP)
	$(BIN)/ruff check .

test: $(STAMP) lint synthesizers
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) -m "not slow"
	KERAS_BACKEND=jax $(BIN)/python -m pytest -n $(PYTEST_WORKERS) -m "jax and not slow"

test-slow: $(STAMP) synthesizers
	$(BIN)/python -m pytest -m slow

bench: $(STAMP)
	$(BIN)/python benchmarks/features.py

# M5 training against PyTorch, then the accuracy check (20-30 minutes on 2 quiet cores);
# needs the `bench` extra (torch).
bench-training: $(STAMP)
	$(BIN)/python -c "import torch" 2>/dev/null || \
		$(BIN)/python -m pip install --disable-pip-version-check -q -e '.[bench]'
	$(BIN)/python benchmarks/training.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
