#!/usr/bin/env bash
# The test command: installs what the tests need, starts a throwaway real PostgreSQL and a
# real Redis on free loopback ports, runs ruff, the layer contract (import-linter),
# `makemigrations --check` and pytest against them, stops them and exits with the result.
#
#   ./run_tests.sh                 # everything
#   ./run_tests.sh chatbots -k x   # extra arguments go to pytest
set -euo pipefail

cd "$(dirname "$0")"
ROOT=$(pwd)
VENV=${VENV:-$ROOT/.venv}
PY=${PYTHON:-python3}

log() { printf '\033[1m==> %s\033[0m\n' "$*"; }

# --- Python dependencies ------------------------------------------------------------------
if [ ! -x "$VENV/bin/python" ]; then
  log "creating virtualenv in $VENV"
  "$PY" -m venv "$VENV"
fi
stamp="$VENV/.dev-requirements.sha"
want=$(cat requirements.txt requirements-dev.txt | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  log "installing requirements-dev.txt"
  "$VENV/bin/pip" install --disable-pip-version-check -q -r requirements-dev.txt
  echo "$want" >"$stamp"
fi

# --- PostgreSQL and Redis binaries ------------------------------------------------------
apt_install() {
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "installing Debian packages: $*"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  else
    echo "missing $* and cannot install it (not root or no apt-get); install it and retry" >&2
    exit 1
  fi
}
find_pg_bin() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/initdb" ] && { echo "$d"; return 0; }
  done
  return 1
}
PG_BIN=$(find_pg_bin || true)
if [ -z "$PG_BIN" ]; then
  apt_install postgresql
  PG_BIN=$(find_pg_bin)
fi
command -v redis-server >/dev/null || apt_install redis-server
# The staff app's browser tests drive Debian's chromium through Playwright
# (staff/tests/browser.py); Playwright's own browser download is never used.
[ -x /usr/bin/chromium ] || apt_install chromium
# The monthly report's tests render its PDF and read its text (integrations/tests).
command -v pdftoppm >/dev/null && command -v pdftotext >/dev/null || apt_install poppler-utils
# promtool (Debian's prometheus package) checks the shipped alert rules and dashboard
# queries (config/tests/test_monitoring.py); the Prometheus server itself is not started.
command -v promtool >/dev/null || apt_install prometheus

free_port() { "$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# --- Start throwaway servers --------------------------------------------------------------
TMP=$(mktemp -d /tmp/chatbot-tests.XXXXXX)
chmod 755 "$TMP"
PG_PORT=$(free_port)
REDIS_PORT=$(free_port)
# The whole suite runs on TEST_WORKERS pytest-xdist processes (default: one per core, at
# most 4); each gets its own Redis server (pub/sub channels are server-wide, so databases
# of one server would hear each other's events) and its own DATA_DIR (tests/xdist_env.py),
# and pytest-django gives each its own test database. A run with arguments uses one process
# unless TEST_WORKERS says otherwise.
if [ -n "${TEST_WORKERS:-}" ]; then
  WORKERS=$TEST_WORKERS
elif [ $# -eq 0 ]; then
  WORKERS=$(nproc 2>/dev/null || echo 1)
  [ "$WORKERS" -gt 4 ] && WORKERS=4
else
  WORKERS=1
fi
WORKER_REDIS_PORTS=""
if [ "$WORKERS" -gt 1 ]; then
  for _ in $(seq "$WORKERS"); do WORKER_REDIS_PORTS="$WORKER_REDIS_PORTS $(free_port)"; done
fi
PGDATA="$TMP/pg"
as_pg() {
  # initdb refuses to run as root; use the postgres system user then.
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}
cleanup() {
  status=$?
  set +e
  [ -f "$PGDATA/postmaster.pid" ] && as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" -m immediate stop >/dev/null 2>&1
  for pidfile in "$TMP"/redis*.pid; do [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null; done
  rm -rf "$TMP" 2>/dev/null || { sleep 1; rm -rf "$TMP"; } # the Redis servers may still be exiting
  exit $status
}
trap cleanup EXIT INT TERM

mkdir -p "$PGDATA"
if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
  chown postgres "$TMP" "$PGDATA"
fi
log "starting PostgreSQL on 127.0.0.1:$PG_PORT and Redis on 127.0.0.1:$REDIS_PORT"
as_pg "$PG_BIN/initdb" -D "$PGDATA" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >"$TMP/initdb.log" 2>&1 ||
  { cat "$TMP/initdb.log"; exit 1; }
# Durability off: a throwaway database for tests, so fsync only costs time.
as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" -l "$TMP/pg.log" -w -t 60 start -o \
  "-p $PG_PORT -k $TMP -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
  >/dev/null || { cat "$TMP/pg.log"; exit 1; }
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
  --pidfile "$TMP/redis.pid" --logfile "$TMP/redis.log" --dir "$TMP"
for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
for port in $WORKER_REDIS_PORTS; do
  redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
    --pidfile "$TMP/redis-$port.pid" --logfile "$TMP/redis-$port.log" --dir "$TMP"
  for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
done

# --- Environment: production mode, pointed at the throwaway servers ----------------------
export DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres"
export REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
export SECRET_KEY="test-secret-key-not-for-production-$(date +%s)"
export FIELD_ENCRYPTION_KEYS=$("$VENV/bin/python" -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')
export SECURE_SSL_REDIRECT=False
export DJANGO_ENV_FILE="$TMP/none.env" # never read or write a developer's .env
export DATA_DIR="$TMP/data"
export STATIC_ROOT="$TMP/static"
mkdir -p "$STATIC_ROOT"
export LOG_LEVEL=WARNING
export PG_BIN REDIS_PORT PG_PORT
# tests/xdist_env.py: worker N takes the Nth of these (host:port), and DATA_DIR/<worker>.
export TEST_WORKER_REDIS=$(for port in $WORKER_REDIS_PORTS; do printf '127.0.0.1:%s ' "$port"; done)
XDIST=()
[ "$WORKERS" -gt 1 ] && XDIST=(-n "$WORKERS" --dist loadfile)

# --- Checks and tests ---------------------------------------------------------------------
# QUICK=1 (development only): skip linters, the layer contract and the migration check,
# build tables from the models directly. CI never sets it.
if [ "${QUICK:-}" = 1 ]; then
  log "pytest (QUICK: no lint, no migrations)"
  "$VENV/bin/python" -m pytest --nomigrations "${XDIST[@]}" "$@"
  exit $?
fi
log "ruff"
"$VENV/bin/ruff" check .
"$VENV/bin/ruff" format --check .
log "import-linter (the layer contract in pyproject.toml)"
"$VENV/bin/lint-imports" --no-cache --no-logo
log "makemigrations --check"
"$VENV/bin/python" manage.py makemigrations --check --dry-run >/dev/null ||
  { echo "models changed without a migration: run manage.py makemigrations" >&2; exit 1; }
log "pytest${XDIST[*]:+ (${XDIST[*]})}"
"$VENV/bin/python" -m pytest "${XDIST[@]}" "$@"
