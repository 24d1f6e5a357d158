# The few commands a person types. Each installs what it needs first (idempotent, stamp files).
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
PYTHON ?= python3
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | md5sum | cut -c1-8)
NODE_STAMP := reports_evidence/node_modules/.installed-$(shell cat reports_evidence/package-lock.json reports_evidence/patches/*.patch 2>/dev/null | md5sum | cut -c1-8)
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home
export SEND_ANONYMOUS_USAGE_STATS := no
export DO_NOT_TRACK := 1
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
TODAY ?= $(shell TZ=$${COMPANY_TIMEZONE:-Europe/Moscow} date +%F)

.PHONY: help setup python node system dagster-home dbt-manifest run report dev test test-fast lint validate bench clean dbt-docs load-dataset

help:
	@echo "make run    - build the whole pipeline on the demo world (or your CRM) and print where the site is"
	@echo "make test   - install everything, run the linters and the whole test suite"
	@echo "make test-fast - the tests without the slow end-to-end ones (while working)"
	@echo "make lint   - ruff, the import layer contract and mypy"
	@echo "make dev    - open the Dagster UI (lineage, backfills) on http://127.0.0.1:3000"

setup: python node dagster-home dbt-manifest

python: $(STAMP)
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	rm -f $(VENV)/.installed-* && touch $@

node: $(NODE_STAMP)
$(NODE_STAMP): reports_evidence/package-lock.json $(wildcard reports_evidence/patches/*.patch)
	cd reports_evidence && node scripts/check-lock.cjs && npm ci --no-audit --no-fund --prefer-offline --loglevel=error
	rm -f reports_evidence/node_modules/.installed-* && touch $@

# Chromium (browser test) and a running PostgreSQL (production-mode tests); Debian packages.
# Without root or apt it says what to install instead of failing half-way.
APT := $(if $(filter 0,$(shell id -u)),apt-get,sudo -n apt-get)
system:
	@command -v chromium >/dev/null || { \
	  command -v apt-get >/dev/null && $(APT) update -q && $(APT) install -y -q chromium; } || { \
	  echo "make test needs Chromium (Debian package 'chromium') for the browser tests and could not install it"; \
	  echo "(not root, no passwordless sudo, or no apt-get): install it, then run make test again"; exit 1; }
	@pg_lsclusters -h 2>/dev/null | grep -q online || { \
	  command -v pg_ctlcluster >/dev/null || { command -v apt-get >/dev/null && $(APT) update -q && $(APT) install -y -q postgresql; } || { \
	    echo "make test needs a local PostgreSQL (Debian package 'postgresql', trust auth on 127.0.0.1:5432)"; \
	    echo "and could not install it (not root, no passwordless sudo, or no apt-get): install and start it, then run make test again"; exit 1; }; \
	  pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql | head -1) main start || { \
	    echo "PostgreSQL is installed but would not start: pg_ctlcluster $$(ls /etc/postgresql | head -1) main start"; exit 1; }; }

dagster-home:
	@mkdir -p $(DAGSTER_HOME)
	@test -f $(DAGSTER_HOME)/dagster.yaml || cp deploy/local/dagster.yaml $(DAGSTER_HOME)/dagster.yaml

# The dbt manifest that dagster-dbt reads when definitions load (target/ is not committed): parsed when
# missing or older than a project file or the installed packages (assets/transform.py manifest_is_stale
# says the same), so a make run beside a running Dagster or test worker does not rewrite it under them.
DBT_INPUTS := dbt_project/dbt_project.yml dbt_project/profiles.yml $(wildcard $(addprefix dbt_project/,models macros tests seeds snapshots))
dbt-manifest: python
	@m=dbt_project/target/manifest.json; \
	if [ ! -f $$m ] || [ -n "$$(find $(DBT_INPUTS) $(STAMP) -type f -newer $$m 2>/dev/null | head -1)" ]; then \
	  echo "dbt parse (the manifest is missing or older than the project)"; \
	  cd dbt_project && ../$(BIN)/dbt parse --quiet --profiles-dir . --project-dir . >/dev/null; fi

# Where the settings put things (DATA_DIR: data/ for the demo, data/company/ once a CRM is configured).
SETTING = $(BIN)/python -m resources.settings

# The main job: every asset, the ML stage for today's partition; then where the site is. A source that
# failed fails the run (the rest is built from the others): the site is still there, and make says so.
run: setup
	@status=0; $(BIN)/dagster asset materialize -m definitions --select '*' --partition $(TODAY) || status=$$?; \
	site=$$($(SETTING) site); echo; \
	if [ $$status -ne 0 ]; then echo "The run FAILED in some step (the log above names it; a failed source is reported by its source_refreshed check)."; fi; \
	if [ -f $$site/index.html ]; then echo "Report site built: $$site/index.html"; \
	  echo "Open it with:      make report   (with the same settings as this run; or: $(BIN)/python -m http.server 8000 --bind 127.0.0.1 --directory $$site)"; fi; \
	exit $$status

# One public dataset (DATASETS_DIR, default ../shared/datasets) as a company's CRM export folder:
#   make load-dataset DATASET=maven_crm|superstore|olist
# runs the whole graph on it (warehouse, forecast, site) in its own folder data/dataset-<name>/, as of
# the dataset's own last day (TODAY=... to choose another) with its whole history as the backfill range
# (AS_OF_START_DATE, else its first day). Its dollars become rubles at CBR_RATES_FILE's rates if given,
# else at one fixed rate, DATASET_RUB_PER_UNIT (default 1: the site's "₽" are then the dataset's own
# dollars, comparable with its published totals); no CBR either way (a closed network).
DATASET_RUB_PER_UNIT ?= 1
load-dataset: setup
	@case "$(DATASET)" in \
	  maven|maven_crm) dir=maven_crm_sales_opportunities; map=maven_crm;; \
	  superstore) dir=tableau_sample_superstore; map=superstore;; \
	  olist) dir=olist_marketing_funnel; map=olist;; \
	  *) echo "DATASET must be maven_crm, superstore or olist"; exit 2;; esac; \
	root=$$($(SETTING) datasets); \
	test -d "$$root/$$dir" || { echo "no $$root/$$dir: the public datasets folder is absent (set DATASETS_DIR)"; exit 1; }; \
	data="$${DATA_DIR:-$(CURDIR)/data/dataset-$$map}"; fixed="$$data/fixed_rates.csv"; rm -f "$$fixed"; args=(); \
	[ -n "$${CBR_RATES_FILE:-}" ] || args=(--rates-out "$$fixed" --rub-per-unit "$(DATASET_RUB_PER_UNIT)"); \
	span=$$($(BIN)/python -m assets.ingest.export.span "$$root/$$dir" $$map "$${args[@]}") || exit 1; eval "$$span"; \
	rates="$${CBR_RATES_FILE:-}"; how="at CBR_RATES_FILE's rates"; \
	if [ -z "$$rates" ] && [ -f "$$fixed" ]; then rates="$$fixed"; how="at a fixed $(DATASET_RUB_PER_UNIT) ₽ per unit (DATASET_RUB_PER_UNIT)"; fi; \
	today=$(if $(filter file,$(origin TODAY)),$$last,$(TODAY)); \
	amounts="$${currencies:+in $$currencies $$how}"; echo "$(DATASET): $$first … $$last, as of $$today; amounts $${amounts:-without a currency}"; \
	DATA_DIR="$$data" CRM_EXPORT_DIR="$$root/$$dir" CRM_EXPORT_MAPPING=$$map CBR_RATES_FILE="$$rates" \
	  AS_OF_START_DATE=$${AS_OF_START_DATE:-$$first} CBR_API_URL=$${CBR_API_URL:-off} \
	  $(MAKE) --no-print-directory run TODAY=$$today

# dbt's documentation of every model, column, test and the lineage, from the built warehouse
# (run `make run` first): writes dbt_project/target/static_index.html (one file, opens offline)
# and serves the docs on http://127.0.0.1:8080 (Ctrl-C to stop).
dbt-docs: python
	cd dbt_project && DUCKDB_PATH=$$(cd .. && $(SETTING) warehouse) ../$(BIN)/dbt docs generate --static --profiles-dir . --project-dir .
	cd dbt_project && ../$(BIN)/dbt docs serve --profiles-dir . --project-dir . --host 127.0.0.1 --port 8080 --no-browser

report:
	@site=$$($(SETTING) site); \
	test -f $$site/index.html || { echo "no site yet in $$site: run 'make run' first (with the same settings)"; exit 1; }; \
	echo "serving $$site on http://127.0.0.1:8000/ (Ctrl-C to stop)"; \
	$(BIN)/python -m http.server 8000 --bind 127.0.0.1 --directory $$site

dev: setup
	$(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

validate: setup
	$(BIN)/dagster definitions validate -w workspace.yaml

# The checks that keep the code in shape: lint + format, the layer contract (pyproject's importlinter),
# types. Part of `make test`; on its own while working.
# mypy's cache lives beside pip's and npm's (not in the clone): every checkout and worktree of the project on
# this machine shares it, so a fresh clone checks in ~8 s instead of ~60 s. mypy trusts a cached module only
# while its source's hash matches, so a shared cache never hides an error.
MYPY_CACHE_DIR ?= $(HOME)/.cache/rop-dashboard/mypy

lint: python
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy --cache-dir $(MYPY_CACHE_DIR)

# Tests run in parallel, one module per worker at a time (module fixtures build a world once), in the
# order tests/conftest.py gives (the slow modules first, so none is left running alone at the end).
# Three workers on two cores: a worker waiting on a loopback server's rate limit, PostgreSQL or a
# subprocess leaves its core to the others (two left about a fifth of the CPU idle).
PYTEST_WORKERS ?= 3
test: setup system lint
	$(BIN)/pytest -q -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder --durations=15

# While working: everything but the whole-graph, browser and PostgreSQL end-to-end tests (marked slow).
test-fast: setup
	$(BIN)/pytest -q -n $(PYTEST_WORKERS) --dist loadfile -m "not slow"

# Wall-clock of the main job by stage, on a fresh warehouse (DEMO_SIZE=M by default).
bench: setup
	$(BIN)/python -m benchmarks.pipeline_stages --today $(TODAY)

clean:
	rm -rf data .dagster_home dbt_project/target reports_evidence/build reports_evidence/.evidence
