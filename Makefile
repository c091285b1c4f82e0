# gisplan: two commands on a fresh machine.
#   make demo   create .venv, install, run `gisplan demo` on the sample programmes
#   make test   install the test extras and run the whole suite
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: demo test lint bench clean browser postgis

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,dev,dask]'
	@rm -f $(VENV)/.installed-*
	@touch $@

demo: $(STAMP)
	$(VENV)/bin/gisplan demo

test: $(STAMP)
	$(PY) -m pytest -n 2 --dist loadfile

lint: $(STAMP)
	$(VENV)/bin/ruff check gisplan tests benchmarks
	$(VENV)/bin/mypy

bench: $(STAMP)
	$(PY) -m pip install --quiet -e '.[bench]'
	$(PY) benchmarks/run_all.py

# A PostGIS server for a city office's shared programmes (Debian's packages): installs
# postgresql + postgis, starts the packaged cluster, creates database $(PGDATABASE_NAME) with
# PostGIS and a login for you (local socket, no password). Then:
#   gisplan store copy layers/xuchang_2023.gpkg "postgresql:///$(PGDATABASE_NAME)?schema=xuchang"
PGDATABASE_NAME ?= gisplan
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)
postgis:
	@ls /usr/lib/postgresql/*/lib/postgis-3.so >/dev/null 2>&1 || { \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq postgresql postgis; }
	@ver=$$(ls /usr/lib/postgresql | sort -n | tail -1); \
	  $(SUDO) pg_ctlcluster $$ver main start 2>/dev/null || true; \
	  me=$$(id -un); \
	  $(SUDO) runuser -u postgres -- psql -q -v ON_ERROR_STOP=1 -v me="$$me" \
	    -c "SELECT 1" >/dev/null; \
	  $(SUDO) runuser -u postgres -- psql -tAq -c "SELECT 1 FROM pg_roles WHERE rolname = '$$me'" \
	    | grep -q 1 || $(SUDO) runuser -u postgres -- createuser --createdb --createrole "$$me"; \
	  $(SUDO) runuser -u postgres -- psql -tAq -c "SELECT 1 FROM pg_database WHERE datname = '$(PGDATABASE_NAME)'" \
	    | grep -q 1 || $(SUDO) runuser -u postgres -- createdb -O "$$me" $(PGDATABASE_NAME); \
	  $(SUDO) runuser -u postgres -- psql -q -d $(PGDATABASE_NAME) -c "CREATE EXTENSION IF NOT EXISTS postgis"; \
	  echo "PostGIS ready: postgresql:///$(PGDATABASE_NAME)?schema=NAME (user $$me, local socket)"

clean:
	rm -rf $(VENV) build maps/*.html reports .pytest_cache .hypothesis
