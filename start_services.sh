#!/usr/bin/env bash
# Starts the whole platform on one machine, in the foreground: the web server (gunicorn),
# the reply path's two consumers (the processor: customers' messages in; the sender:
# replies out), a Celery worker for every queue but `outbound`, one for `outbound` and
# Celery beat. A process that exits is started again, after a pause that grows while it keeps
# failing (deploy/supervise.sh). Ctrl-C (SIGINT) or SIGTERM stops them all and waits for them.
#
#   ./start_services.sh            # embedded default: SQLite, filesystem broker, file cache
#   PORT=9000 ./start_services.sh
#   DATABASE_URL=postgres://... REDIS_URL=redis://... SECRET_KEY=... \
#     FIELD_ENCRYPTION_KEYS=... ./start_services.sh   # production pieces
#
# Before starting it: creates .venv if needed, installs requirements.txt when it changed,
# applies migrations, loads the demo data (embedded mode only, unless SEED_DEMO says
# otherwise), writes the beat schedule and collects static files.
# Variables (PORT, WEB_CONCURRENCY, ...) may also be set in .env; see .env.example.
set -euo pipefail
# Everything this script and its processes create (.env, the SQLite files, the broker's
# messages, the cache, metrics, static files) is readable by this user only.
umask 077

cd "$(dirname "$0")"
ROOT=$(pwd)
VENV=${VENV:-$ROOT/.venv}

log() { printf '\033[1m==> %s\033[0m\n' "$*"; }
die() { printf '\033[1;31m==> %s\033[0m\n' "$*" >&2; exit 1; }

# --- Python and the virtualenv -------------------------------------------------------------
find_python() {
  local c
  for c in ${PYTHON:-} python3.11 python3; do
    if command -v "$c" >/dev/null 2>&1 &&
      "$c" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      echo "$c"
      return 0
    fi
  done
  return 1
}

if [ ! -x "$VENV/bin/python" ] || [ ! -x "$VENV/bin/pip" ]; then
  PY=$(find_python) || die "Python 3.11 não encontrado. Instale o python3.11 (ou defina PYTHON=/caminho/do/python)."
  log "criando o ambiente virtual em $VENV"
  if ! "$PY" -m venv --clear "$VENV"; then
    # Debian ships venv's pip bootstrap in a separate package.
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      log "instalando o pacote python3-venv"
      apt-get update -qq >/dev/null
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
      "$PY" -m venv --clear "$VENV"
    else
      die "não foi possível criar o ambiente virtual: instale o pacote python3-venv e tente de novo."
    fi
  fi
fi
PYBIN="$VENV/bin/python"

# Reinstall only when requirements.txt changed (run_tests.sh's stamp covers it too).
stamp="$VENV/.requirements.sha"
want=$(sha256sum requirements.txt | cut -d' ' -f1)
dev_want=$(cat requirements.txt requirements-dev.txt 2>/dev/null | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ] &&
  [ "$(cat "$VENV/.dev-requirements.sha" 2>/dev/null)" != "$dev_want" ]; then
  log "instalando as dependências (requirements.txt)"
  "$PYBIN" -m pip install --disable-pip-version-check -q -r requirements.txt
  echo "$want" >"$stamp"
fi

# --- Configuration ---------------------------------------------------------------------------
# Loading the settings once, here, reads .env and (embedded mode) generates SECRET_KEY and
# FIELD_ENCRYPTION_KEYS into it before the processes start at once and race to do it.
# It also hands the process-level variables that may live in .env to this shell.
export DJANGO_SETTINGS_MODULE=config.settings
export PYTHONUNBUFFERED=1
config=$("$PYBIN" - <<'PYCODE'
import os
import shlex

from django.conf import settings

print(f"APP_MODE={shlex.quote(settings.MODE)}")
print(f"export DATA_DIR={shlex.quote(str(settings.DATA_DIR))}")
# The address the settings checked DEBUG against (127.0.0.1 in the embedded mode).
print(f"export BIND_HOST={shlex.quote(settings.BIND_HOST)}")
for name in (
    "PORT", "WEB_CONCURRENCY", "WEB_THREADS", "GUNICORN_TIMEOUT",
    "GUNICORN_GRACEFUL_TIMEOUT", "GUNICORN_KEEPALIVE", "GUNICORN_MAX_REQUESTS",
    "FORWARDED_ALLOW_IPS", "PROMETHEUS_MULTIPROC_DIR", "CELERY_CONCURRENCY",
    "CELERY_SEND_CONCURRENCY", "SEED_DEMO",
    "STOP_TIMEOUT", "SUPERVISE_BACKOFF_MAX", "SUPERVISE_RESET_AFTER", "LOG_LEVEL", "LOG_FORMAT",
):
    if os.environ.get(name):
        print(f"export {name}={shlex.quote(os.environ[name])}")
PYCODE
) || die "a configuração não carregou (veja o erro acima e o .env.example)"
eval "$config"
export PORT=${PORT:-8000}
LOG_LEVEL=${LOG_LEVEL:-INFO}
# Demo data belongs to a local try-out, not to a production database.
if [ "$APP_MODE" = embedded ]; then SEED_DEMO=${SEED_DEMO:-1}; else SEED_DEMO=${SEED_DEMO:-0}; fi

if [ "$APP_MODE" = embedded ]; then
  log "modo embutido: SQLite, fila e cache em arquivos em $DATA_DIR"
else
  log "modo produção: PostgreSQL (DATABASE_URL) e Redis (REDIS_URL)"
fi

# --- One-off steps -------------------------------------------------------------------------
log "aplicando as migrações"
"$PYBIN" manage.py migrate --noinput
if [ "$APP_MODE" = embedded ]; then
  # The live updates' channel layer keeps its tables in their own SQLite file
  # (config/live_router.py).
  "$PYBIN" manage.py migrate --database channels --noinput -v 0
fi
seed_out=""
if [ "$SEED_DEMO" = 1 ]; then
  log "carregando os dados de demonstração"
  seed_out=$("$PYBIN" manage.py seed_demo) || { printf '%s\n' "$seed_out"; die "seed_demo falhou"; }
  printf '%s\n' "$seed_out"
fi
log "gravando as tarefas periódicas"
"$PYBIN" manage.py setup_periodic_tasks
log "coletando os arquivos estáticos"
"$PYBIN" manage.py collectstatic --noinput -v 0

# --- The processes ---------------------------------------------------------------------------
# Each runs under a restart loop (deploy/supervise.sh): one that exits comes back after a
# pause (1 s, doubling up to 30 s), logged; Ctrl-C or SIGTERM stops them all.
# shellcheck source=deploy/supervise.sh
source "$ROOT/deploy/supervise.sh"
trap 'supervise_stop; exit 130' INT
trap 'supervise_stop; exit 143' TERM

# Every process keeps its metrics in the same directory, so the web's /metrics adds up the
# processor's, the sender's, the workers' and beat's too (config/process_metrics.py). Each
# process drops only the files of dead processes when it starts, never a neighbour's.
export PROMETHEUS_MULTIPROC_DIR=${PROMETHEUS_MULTIPROC_DIR:-$DATA_DIR/prometheus}
# gunicorn with uvicorn's worker (gunicorn.conf.py): the ASGI app serves the pages, the API,
# the webhooks and the staff app's WebSockets (config/asgi.py).
supervise web "$VENV/bin/gunicorn" -c gunicorn.conf.py config.asgi:application
# The reply path: customers' messages in batches (chatbots/processor.py; one on SQLite) and
# the queued replies out. Woken through Redis, or polling in the embedded mode.
supervise processor "$PYBIN" manage.py run_processor
supervise sender "$PYBIN" manage.py run_sender
supervise worker "$VENV/bin/celery" -A config worker --queues replies,default,llm,bulk \
  --hostname "local@%h" --concurrency "${CELERY_CONCURRENCY:-2}" --loglevel "$LOG_LEVEL" \
  --without-gossip --without-mingle
# Sends and read receipts wait on the provider's API: threads, not processes (config/celery.py).
supervise worker_send "$VENV/bin/celery" -A config worker --queues outbound --hostname "send@%h" \
  --pool threads --concurrency "${CELERY_SEND_CONCURRENCY:-16}" --loglevel "$LOG_LEVEL" \
  --without-gossip --without-mingle
supervise beat "$VENV/bin/celery" -A config beat --loglevel "$LOG_LEVEL" --pidfile=

# --- Wait until everything answers, then say where it is ---------------------------------
# /healthz turns 200 once the web, the database, the broker and the first heartbeats of the
# processor, the sender, the worker and beat are all there; waiting for it also keeps their
# start-up banners from landing in the middle of ours.
healthy=0
export PROBE_HOST=$BIND_HOST
case "$BIND_HOST" in 0.0.0.0 | :: | "[::]") PROBE_HOST=127.0.0.1 ;; esac
for _ in $(seq 120); do
  if "$PYBIN" -c 'import os, urllib.request; urllib.request.urlopen("http://%s:%s/healthz" % (os.environ["PROBE_HOST"], os.environ["PORT"]), timeout=5)' 2>/dev/null; then
    healthy=1
    break
  fi
  sleep 0.5
done
[ "$healthy" = 1 ] || log "atenção: /healthz ainda não está ok após 60 s; veja o que falha em /healthz e nos logs acima"

base="http://localhost:$PORT"
case "$BIND_HOST" in 0.0.0.0 | :: | "[::]" | 127.0.0.1 | localhost) ;; *) base="http://$BIND_HOST:$PORT" ;; esac
{
  echo
  printf '\033[1m  Plataforma no ar (modo %s)\033[0m\n' "$([ "$APP_MODE" = embedded ] && echo embutido || echo produção)"
  echo "  Painel (admin):        $base/admin/"
  echo "  Atendimento:           $base/atendimento/"
  echo "  Documentação da API:   $base/api/docs/"
  echo "  Saúde:                 $base/healthz"
  echo "  Métricas:              $base/metrics"
  if [ -n "${REPLIT_DEV_DOMAIN:-}" ]; then echo "  Endereço público:      https://$REPLIT_DEV_DOMAIN/"; fi
  if [ -n "$seed_out" ]; then
    # The admin's password (when it was just generated) and the demo bots, each with its id
    # and what to type; the rest of seed_demo's output was shown while it ran.
    echo "  Demonstração (empresa Pizzaria Demo):"
    printf '%s\n' "$seed_out" | grep -v -E '^(Plans|Tenant|Clientes|Demo ready)' | sed 's/^/    /'
  fi
  echo "  Ctrl-C para parar tudo."
  echo
}

# --- Run until Ctrl-C or SIGTERM (a process that stops is started again) -----------------
supervise_forever
