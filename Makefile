# freshrec: `make run` brings everything up on one machine, `make test` type-checks and runs the tests.
# Both install what they need first (a virtualenv with the Python packages, and the
# Kafka broker's classpath from Maven Central).

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)

.PHONY: install kafka run typecheck test test-fast bench evaluate stop clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "freshrec needs Python 3.11+; set PYTHON=python3.11")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --progress-bar off -e '.[test]'
	@rm -f $(VENV)/.installed-*
	@touch $@

kafka:
	bash deploy/kafka/kafka.sh fetch

run: install kafka
	$(VENV)/bin/freshrec run

typecheck: install
	$(VENV)/bin/mypy

test: install kafka
	$(VENV)/bin/mypy
	$(PY) -m pytest -ra

test-fast: install
	$(VENV)/bin/mypy
	$(PY) -m pytest -ra -m "not kafka"

bench: install kafka
	$(PY) benchmarks/graph_store_bench.py
	$(PY) benchmarks/consume_bench.py
	$(PY) benchmarks/serving_bench.py
	$(PY) benchmarks/contention_bench.py
	$(PY) benchmarks/tick_bench.py

# every table in docs/results/ (about 20 minutes on 2 cores)
evaluate: install
	$(VENV)/bin/freshrec evaluate --dataset movielens
	$(VENV)/bin/freshrec evaluate --dataset movielens --prequential
	$(VENV)/bin/freshrec evaluate --dataset kuairand
	$(VENV)/bin/freshrec evaluate --dataset kuairand --ceiling

stop:
	$(VENV)/bin/freshrec kafka stop

clean: stop
	rm -rf .freshrec .pytest_cache
