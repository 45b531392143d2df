# Linewise: `make run` starts the app on demo data; `make test` runs the whole suite.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

.PHONY: setup run test test-deep mutation bench
setup: $(STAMP)

# Local mode: listens on this computer only (no sign-in needed, you are admin). A team server
# configures [auth] in .streamlit/secrets.toml and runs e.g. `make run ADDRESS=0.0.0.0`.
ADDRESS ?= 127.0.0.1
run: $(STAMP)
	$(BIN)/streamlit run app.py --server.address $(ADDRESS)

test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 --dist loadfile -p no:cacheprovider

# The same suite with ten times the hypothesis examples per property (tests/conftest.py, profile "deep").
test-deep: $(STAMP)
	HYPOTHESIS_PROFILE=deep $(BIN)/python -m pytest -q -n 2 --dist loadfile -p no:cacheprovider

# Mutation score of the domain modules (docs/TESTING.md); slow, not part of `make test`. MODULES="aging money" for
# some; MUTATION_ARGS="--sample 150" for a seeded random sample with its 95 % interval, "--survivors" to retest.
mutation: $(STAMP)
	$(BIN)/python bench/mutation.py $(MODULES) $(MUTATION_ARGS)

bench: $(STAMP)
	$(BIN)/python bench/bench_read.py
	$(BIN)/python bench/bench_engine.py
