# Two commands, on a fresh machine with Python 3.11 (README, first screen):
#   make          # set up the environment from the lock, then the full replication
#   make test     # set up what the tests need, then run them (what CI runs: .ci/run)
# The environment is a virtualenv in $(VENV) built from envs/cpu.lock.txt (envs/cuda.txt where
# `nvidia-smi` finds a GPU); it is rebuilt only when the lock changes.
#
# `make` runs the full replication where there is a CUDA GPU (scale: paper). Without one it runs
# the cpu scale (full data, reduced epochs) and says so; it reads datasets from the mirror named
# by MIRROR (default: $REPLICATION_DATA_MIRROR, else ../shared/data if present, else the canonical
# URLs). Omniglot's chardata.mat is not in shared/data's mirror: when the mirror lacks it and
# data/ has no verified copy, `make` excludes Omniglot and says so (the VAE table then marks it
# "not run (excluded)"); EXCLUDE= (empty) tries the canonical URL instead, EXCLUDE=a,b names others.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := replicate

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
MIRROR ?= $(abspath $(or $(REPLICATION_DATA_MIRROR),$(wildcard ../shared/data)))
OMNIGLOT := $(wildcard $(MIRROR)/omniglot/chardata.mat $(MIRROR)/omniglot/chardata.mat.gz \
                       data/omniglot/chardata.mat)
EXCLUDE ?= $(if $(and $(MIRROR),$(if $(OMNIGLOT),,missing)),omniglot)
CORES ?= all
LOCK := $(if $(shell command -v nvidia-smi 2>/dev/null),envs/cuda.txt,envs/cpu.lock.txt)
STAMP := $(VENV)/.installed-$(notdir $(LOCK))
BIN := $(VENV)/bin

.PHONY: replicate test lint env browser help

help:
	@sed -n '1,12p' Makefile

env: $(STAMP)

$(STAMP): $(LOCK) pyproject.toml
	@test -n "$(PYTHON)" || { echo "make: no python3.11 or python3 on PATH" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r $(LOCK)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps \
	    --no-build-isolation -e .
	rm -f $(VENV)/.installed-* && touch $@

replicate: $(STAMP)
	@if $(BIN)/python -c 'import sys, torch; sys.exit(not torch.cuda.is_available())'; then \
	    echo "make: CUDA GPU found: the full replication (scale: paper)"; \
	    scale=paper; \
	else \
	    echo "make: no CUDA GPU: the cpu scale (full data, reduced epochs; see README, Scales)"; \
	    scale=cpu; \
	fi; \
	args=(--profile profiles/local --cores '$(CORES)'); \
	if command -v nvidia-smi >/dev/null; then args+=(--resources "gpu=$$(nvidia-smi -L | wc -l)"); fi; \
	args+=(--config "scale=$$scale"); \
	if [ -n '$(MIRROR)' ]; then args+=("data_mirror=$(MIRROR)"); echo "make: data mirror $(MIRROR)"; fi; \
	if [ -n '$(EXCLUDE)' ]; then \
	    args+=("exclude_datasets=[$(EXCLUDE)]"); \
	    echo "make: excluded: $(EXCLUDE) (the mirror has no omniglot/chardata.mat; EXCLUDE= to fetch it)"; \
	fi; \
	$(BIN)/snakemake "$${args[@]}"

# The report test opens REPORT.html in a real headless browser: Debian's Chromium, driven by Playwright
# (tests/support/browser.py), which downloads no browser of its own.
browser:
	@command -v chromium >/dev/null || { \
	    if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	    else echo "make: the report test needs Chromium: sudo apt-get install chromium" >&2; exit 1; fi; }

# The workflow's own checks first (the Snakemake workflow template's CI): format, then lint.
lint: $(STAMP)
	$(BIN)/snakefmt --check Snakefile rules
	$(BIN)/snakemake --lint --config scale=smoke

test: $(STAMP) browser lint
	@if [ -n '$(MIRROR)' ]; then echo "data mirror: $(MIRROR)"; fi
	REPLICATION_DATA_MIRROR='$(MIRROR)' $(BIN)/python -m pytest
