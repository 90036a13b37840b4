# rewardkit: `make demo` and `make test` set everything up on a fresh machine.
# torch is installed first from the CPU wheel (a bare `torch` requirement
# resolved first would pull a multi-GB CUDA build); the project keeps a range.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check
TORCH_VERSION := 2.13.0
EXTRAS := dev,control,llm,bench,serve,distributed
STAMP := $(VENV)/.installed-$(EXTRAS)

.PHONY: install sandbox-tools demo test lint format clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(PY)
	$(PIP) install --quiet "torch==$(TORCH_VERSION)"
	$(PIP) install --quiet -e ".[$(EXTRAS)]"
	touch $(STAMP)

# The code sandbox needs bubblewrap (Debian: bubblewrap); as root with apt, install it.
sandbox-tools:
	@command -v bwrap >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get install -y -q bubblewrap >/dev/null || \
	    { apt-get update -q >/dev/null && apt-get install -y -q bubblewrap >/dev/null; }; \
	  else \
	    echo "rewardkit: the code sandbox needs bubblewrap: install it (apt-get install bubblewrap)"; \
	  fi; }

install: $(STAMP) sandbox-tools

demo: install
	$(VENV)/bin/rewardkit check examples/math_reward.toml --batch examples/completions.jsonl
	@echo
	$(VENV)/bin/rewardkit check examples/pendulum_reward.yaml --batch examples/pendulum_steps.jsonl
	@echo
	$(VENV)/bin/rewardkit bench reward-hacking --quick
	@echo
	$(VENV)/bin/rewardkit bench explore-minigrid --quick
	@echo
	$(VENV)/bin/rewardkit bench verify-math --quick

test: install
	$(PY) -m pytest -q

lint: install
	$(VENV)/bin/ruff check src tests examples
	$(VENV)/bin/ruff format --check src tests examples
	$(VENV)/bin/mypy

format: install
	$(VENV)/bin/ruff check --fix src tests
	$(VENV)/bin/ruff format src tests

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache src/*.egg-info
