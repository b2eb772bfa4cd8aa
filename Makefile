# Common commands. The two that matter are `make run` and `make test` (the README's two
# commands); the others are shortcuts for development.
VENV ?= .venv
PY := $(VENV)/bin/python
RUFF := $(VENV)/bin/ruff

.PHONY: help run test test-quick lint fmt migrate makemigrations check-deploy shell superuser bench bench-quick bench-live venv fuzz backup restore chaos

help: ## list the commands
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-15s %s\n", $$1, $$2}'

run: ## start web, processor, sender, workers and beat in the foreground (./start_services.sh)
	./start_services.sh

test: ## the full test command: ruff, the layer contract, makemigrations --check, pytest on real PostgreSQL/Redis
	./run_tests.sh

fuzz: ## long fuzz runs (~30 min): the webhooks (hypothesis) and the REST API (schemathesis, with its coverage phase); FUZZ_EXAMPLES=3000
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-3000} QUICK=1 ./run_tests.sh chatbots/tests/test_webhook_fuzz.py tests/test_api_fuzz.py -p no:warnings $(ARGS)

test-quick: ## pytest only, tables from the models (development); ARGS="chatbots -x"
	QUICK=1 ./run_tests.sh $(ARGS)

bench: venv ## benchmarks of the reply path (~11 min), writes benchmarks/RESULTS.md; ARGS="--only e2e"
	$(PY) -m benchmarks $(ARGS)

bench-quick: venv ## a short smoke run (~2 min) to benchmarks/.work/RESULTS-quick.md
	$(PY) -m benchmarks --quick $(ARGS)

bench-live: venv ## 500 staff app sockets while 80 msg/s flow (~4 min), its section of benchmarks/RESULTS.md; ARGS="--clients 800"
	$(PY) -m benchmarks.live $(ARGS)

chaos: venv ## the fault suite (~15 min): kills, Redis/PostgreSQL restarts, Graph API storms during a burst, its section of benchmarks/RESULTS.md; ARGS="--only redis"
	$(PY) -m benchmarks.chaos $(ARGS)

# The same virtualenv and change stamp as run_tests.sh, so a fresh clone can `make bench`.
venv: ## create .venv and install requirements-dev.txt (again when they change)
	@[ -x $(PY) ] || python3 -m venv $(VENV)
	@want=$$(cat requirements.txt requirements-dev.txt | sha256sum | cut -d' ' -f1); \
	if [ "$$(cat $(VENV)/.dev-requirements.sha 2>/dev/null)" != "$$want" ]; then \
	  echo "installing requirements-dev.txt into $(VENV)"; \
	  $(VENV)/bin/pip install --disable-pip-version-check -q -r requirements-dev.txt && \
	  echo "$$want" > $(VENV)/.dev-requirements.sha; \
	fi

lint: ## ruff check + format check + the layer contract + missing migrations
	$(RUFF) check .
	$(RUFF) format --check .
	$(VENV)/bin/lint-imports --no-cache --no-logo
	$(PY) manage.py makemigrations --check --dry-run

fmt: ## fix what ruff can fix and format the code
	$(RUFF) check --fix .
	$(RUFF) format .

migrate: ## apply migrations and write the beat schedule
	$(PY) manage.py migrate --noinput
	$(PY) manage.py setup_periodic_tasks

backup: ## write a backup archive (database, local media, row counts) to DATA_DIR/backups; ARGS="--dir /srv/backups"
	$(PY) manage.py backup $(ARGS)

restore: ## restore FILE into an empty database and check every row count; ARGS="--database-url postgres://…/new" or "--sqlite-path var2/db.sqlite3"
	@[ -n "$(FILE)" ] || { echo "usage: make restore FILE=backup-….tar ARGS=\"--database-url …\""; exit 2; }
	$(PY) manage.py restore "$(FILE)" $(ARGS)

makemigrations: ## create migrations for model changes
	$(PY) manage.py makemigrations

check-deploy: ## Django's production checklist against the current environment
	$(PY) manage.py check --deploy

shell: ## Django shell
	$(PY) manage.py shell

superuser: ## create an admin login
	$(PY) manage.py createsuperuser
