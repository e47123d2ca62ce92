# `make demo` and `make test` do all the set-up: each creates .venv if it is missing and
# installs what it needs into it (the demo: the package and matplotlib; the tests: the
# `test` extra). The heavier test tiers add the `test-heavy` extra (torch, transformers,
# MediaPipe) and, for the synthesiser tests, two Debian packages.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip install --disable-pip-version-check -q
export TF_CPP_MIN_LOG_LEVEL ?= 2
PYTEST_WORKERS ?= 2
PYTEST := $(BIN)/python -m pytest -n $(PYTEST_WORKERS)
# The default tier: everything not in a heavier tier (markers in pyproject.toml).
HEAVY := slow or integration or export or parity or release or docs
.PHONY: demo test test-jax test-integration test-export test-parity test-synth test-slow test-fuzz test-all \
	test-wheel dist docs docs-check chromium lint bench bench-training synthesizers clean \
	speechbrain-reference

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed-demo: setup.cfg pyproject.toml | $(BIN)/python
	$(PIP) -e '.[plot]'
	touch $@

$(VENV)/.installed-test: setup.cfg pyproject.toml | $(BIN)/python
	$(PIP) -e '.[test]'
	touch $@

$(VENV)/.installed-release: $(VENV)/.installed-test
	$(PIP) -e '.[test,release]'
	touch $@

$(VENV)/.installed-docs: $(VENV)/.installed-test
	$(PIP) -e '.[test,docs]'
	touch $@

$(VENV)/.installed-heavy: $(VENV)/.installed-test
	$(PIP) -e '.[test,test-heavy]'
	touch $@

# `make demo WAV="a.wav b.wav"` also classifies your own recordings.
demo: $(VENV)/.installed-demo
	$(BIN)/python examples/demo.py $(WAV)

# ruff, and mypy on the package (its public API is typed: kerasaudio ships py.typed).
lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/python -m mypy

# The default tier (the README's test command; .ci/run runs it first): no sudo, no apt.
test: $(VENV)/.installed-test lint
	$(PYTEST) -m "not ($(HEAVY))"

# Every test marked jax (layers, models, presets, ensembles) on the JAX backend; CI runs
# it after `make test`.
test-jax: $(VENV)/.installed-test
	KERAS_BACKEND=jax $(PYTEST) -m "jax and not ($(HEAVY))"

# End-to-end runs kept out of the default tier for its time: short trainings through the
# zoo and `kerasaudio train`, whole-model TFLite conversions and their runtime, fresh Python
# processes (the jax ones on both backends). CI runs this tier after `make test`.
test-integration: $(VENV)/.installed-test
	$(PYTEST) -m "integration and not slow"
	KERAS_BACKEND=jax $(PYTEST) -m "integration and jax and not slow"

# Every TFLite conversion matrix (quantization modes x models, graph edits, metadata) and
# MediaPipe's AudioClassifier on the exported files.
test-export: $(VENV)/.installed-heavy
	$(PYTEST) -m "export and not slow"

# SpeechBrain 1.1 for the ECAPA-TDNN parity tests, in a private directory that only those
# tests' child process puts on its path: the registry's torchaudio wheel (a SpeechBrain
# dependency) is a CUDA build that fails to load beside the CPU torch, and an importable
# torchaudio in site-packages changes what transformers does. Its compiled libraries are
# deleted; SpeechBrain uses only its pure-Python part.
SPEECHBRAIN_REFERENCE := $(VENV)/speechbrain-reference
$(SPEECHBRAIN_REFERENCE)/.installed: $(VENV)/.installed-heavy
	rm -rf $(SPEECHBRAIN_REFERENCE)
	$(PIP) --no-deps --target $(SPEECHBRAIN_REFERENCE) speechbrain==1.1.2 torchaudio==2.11.1 \
		hyperpyyaml==1.2.3 ruamel.yaml==0.19.1
	find $(SPEECHBRAIN_REFERENCE)/torchaudio -name '*.so*' -delete
	touch $@

speechbrain-reference: $(SPEECHBRAIN_REFERENCE)/.installed

# wav2vec 2.0, HuBERT, WavLM, AST, PANNs, Silero VAD and ECAPA-TDNN against their
# reference implementations (PyTorch CPU), on both backends.
test-parity: $(VENV)/.installed-heavy $(SPEECHBRAIN_REFERENCE)/.installed
	$(PYTEST) -m "parity and not slow"
	KERAS_BACKEND=jax $(PYTEST) -m "parity and jax and not slow"

# The synthetic training speakers (zoo/synthetic.py) with real eSpeak NG and Flite.
test-synth: $(VENV)/.installed-test synthesizers
	$(PYTEST) -m "synth and not ($(HEAVY))"

# Trainings, every-model matrices and other long runs (the JAX ones on both backends).
test-slow: $(VENV)/.installed-heavy synthesizers
	$(PYTEST) -m slow
	KERAS_BACKEND=jax $(PYTEST) -m "slow and jax"

# The fuzz tests (marker fuzz) with more examples than `make test` draws:
# `make test-fuzz FUZZ_EXAMPLES=20000 FUZZ_SEED=7` (no seed: the fixed derandomized run).
FUZZ_EXAMPLES ?= 2000
FUZZ_SEED ?=
test-fuzz: $(VENV)/.installed-test
	KERASAUDIO_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) KERASAUDIO_FUZZ_SEED=$(FUZZ_SEED) \
		$(BIN)/python -m pytest -p no:xdist -m fuzz tests/test_fuzz.py


# The release files: `python -m build` (sdist, then the wheel from it) into dist/.
dist: $(VENV)/.installed-release
	rm -rf dist
	$(BIN)/python -m build --no-isolation --outdir dist .
	$(BIN)/python -m twine check --strict dist/*

# Builds both release files, checks them with twine and installs the wheel into a fresh
# environment outside the checkout, where its console script and modules are exercised.
test-wheel: $(VENV)/.installed-release
	$(BIN)/python -m pytest -n 0 -m "release and not slow"

# The documentation site (mkdocs.yml, docs/) into build/docs/site, offline: warnings
# (broken links and cross-references, docstrings that do not parse) are errors, and the
# gallery's examples (docs/gallery_src/) run on the bundled FSDD clips to draw its figures.
docs: $(VENV)/.installed-docs
	NO_MKDOCS_2_WARNING=1 KERASAUDIO_OFFLINE=1 MPLBACKEND=Agg \
		$(BIN)/python -m mkdocs build --strict --clean

# The built site in headless Chromium (Debian's package, installed by `make chromium`):
# the index, a guide, an API page and the gallery render with their images loaded;
# screenshots in build/docs/screenshots/.
docs-check: docs chromium
	$(BIN)/python -m pytest -n 0 -m docs tests/test_docs_site.py

test-all: test test-integration test-jax test-synth test-export test-parity test-wheel test-slow test-fuzz \
	docs-check

# The speech synthesisers behind zoo/synthetic.py (synthetic training speakers) and its
# tests: Debian's espeak-ng and flite, installed with apt-get when missing.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
synthesizers:
	@command -v espeak-ng >/dev/null && command -v flite >/dev/null || \
		{ $(SUDO) apt-get update -qq && \
		  $(SUDO) apt-get install -y -qq --no-install-recommends espeak-ng flite >/dev/null; }

# Debian's Chromium for `make docs-check`, installed with apt-get when missing.
chromium:
	@command -v chromium >/dev/null || \
		{ $(SUDO) apt-get update -qq && \
		  $(SUDO) apt-get install -y -qq --no-install-recommends chromium >/dev/null; }

bench: $(VENV)/.installed-test
	$(BIN)/python benchmarks/features.py

# M5 training against PyTorch, then the accuracy check (20-30 minutes on 2 quiet cores);
# needs the `bench` extra (torch).
bench-training: $(VENV)/.installed-test
	$(BIN)/python -c "import torch" 2>/dev/null || $(PIP) -e '.[bench]'
	$(BIN)/python benchmarks/training.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache docs/gallery
