# The course's commands. Each target sets up the virtual environment first if needed.
# make release  regenerate release/ from source/ and prove it by autograding (the main job);
#               make release VERSION=2027-spring  pins the release to that git tag (see README)
# make test     unit tests of helpers, the nbgrader round trip, nbval over the companions, browser tests
# make e2e      only the browser tests (JupyterLab in headless Chromium; skipped if no Chromium)
# make lab      JupyterLab on the course (students and instructors)
# make full     run every source notebook in full mode on the real data; writes docs/full-mode.md
#               (about an hour on 2 cores; make full NB=05 for one notebook)
# make bench    the data-loading benchmark; make bench-sandbox  what the grading sandbox costs;
#               make bench-grading  students graded per second, sequential vs parallel;
#               make bench-designs  other correct designs for 05's budgets, trained in full mode
#               make bench-designs DESIGNS=8   only design 8 (or DESIGNS=small_cnn)
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Offline datasets of the development and CI machines, used when present (never required).
export COURSE_DATA_PATH ?= $(wildcard $(CURDIR)/../shared/data)
export MPLBACKEND ?= Agg
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: venv venv-base sandbox release test e2e lab full bench bench-sandbox bench-grading bench-designs sync clean
venv: $(STAMP)

# Autograding runs every submission in a bubblewrap sandbox and refuses to grade without one.
# Installed with apt-get where this user may (root, or sudo without a password); otherwise the
# message says what to install.
sandbox:
	@command -v bwrap >/dev/null || bash -c 'source .ci/packages.sh && apt_install bubblewrap' || { \
	  echo "Grading needs bubblewrap (the sandbox): sudo apt-get install bubblewrap (Fedora: sudo dnf install bubblewrap)"; exit 1; }

# A venv without pip (python3 -m venv fails half-way without Debian's python3-venv) is made again.
venv-base:
	@$(PY) -m pip --version >/dev/null 2>&1 || { rm -rf $(VENV); $(PYTHON) -m venv $(VENV) \
	  && $(PY) -m pip --version >/dev/null 2>&1; } || { rm -rf $(VENV); \
	  echo "Could not create a virtual environment with pip in $(VENV): install python3-venv (Debian/Ubuntu: sudo apt-get install python3-venv) and run make again"; exit 1; }

# rfc3987-syntax (pulled in by jupyter-events through jsonschema[format-nongpl]) compiles about 35
# Earley grammars when jsonschema is imported, for "iri" formats that no Jupyter schema uses: 1-2.5 s
# in every process that imports nbformat (each nbgrader command, the test workers, JupyterLab).
# Without it jsonschema simply does not check that format (python-jsonschema/jsonschema#1428).
$(STAMP): requirements.txt pyproject.toml Makefile
	@$(MAKE) --no-print-directory venv-base
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip uninstall --quiet --yes rfc3987-syntax
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

release: $(STAMP) sandbox
	COURSE_FAST=1 $(PY) -m coursetools.release $(if $(VERSION),--version $(VERSION))

# Unit and round-trip tests run on two workers. The round trip runs every source notebook (each
# training notebook in fast mode as a student would, to make the reference's models, then every
# reference cell under grading), so nbval only runs the companions in notebooks/, one notebook per
# worker at a time (loadfile keeps a notebook's cells in order in one kernel); the browser tests
# drive one JupyterLab server. Datasets missing from disk are downloaded first, once (fetch_data).
# One thread per process: two workers (each starting kernels) on two cores, and torch's own
# thread pool on top, oversubscribe the CPU and make training 20-30x slower.
test: $(STAMP) sandbox
	$(PY) -m coursetools.fetch_data
	OMP_NUM_THREADS=1 COURSE_FAST=1 $(PY) -m pytest -n 2 --dist loadgroup --durations=25 --ignore=tests/e2e tests
	OMP_NUM_THREADS=1 COURSE_FAST=1 $(PY) -m pytest -n 2 --dist loadfile --durations=0 --nbval-lax notebooks
	$(MAKE) e2e

e2e: $(STAMP)
	COURSE_FAST=1 $(PY) -m pytest -rs tests/e2e

lab: $(STAMP)
	$(VENV)/bin/jupyter lab

full: $(STAMP)
	$(PY) -m coursetools.full_run $(NB)

bench: $(STAMP)
	$(PY) benchmarks/data_loading.py

bench-sandbox: $(STAMP) sandbox
	$(PY) benchmarks/sandbox_overhead.py

bench-grading: $(STAMP) sandbox
	$(PY) benchmarks/grading_throughput.py

bench-designs: $(STAMP)
	$(PY) benchmarks/alternative_designs.py $(DESIGNS)

sync: $(STAMP)
	$(PY) -m coursetools.setup_cell .

clean:
	rm -rf submitted autograded feedback gradebook.db test-output
