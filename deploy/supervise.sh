# Process supervision for start_services.sh (sourced, not run): every long-running process
# is restarted when it exits, and one signal stops them all, leaving no process behind.
#
#   source deploy/supervise.sh
#   supervise web gunicorn -c gunicorn.conf.py config.asgi:application
#   supervise sender python manage.py run_sender
#   supervise_forever            # until Ctrl-C or SIGTERM; then every process is stopped
#
# A process that exits, whatever its code, is started again after a pause that doubles from
# 1 s up to SUPERVISE_BACKOFF_MAX (30 s), and goes back to 1 s once the process had run for
# SUPERVISE_RESET_AFTER (60 s): a crash now and then comes back at once, a crash loop (a
# database that is not there yet) does not spin. Each exit and restart is logged. This is
# the rule systemd (Restart=always, RestartSec), supervisor (autorestart, startretries) and
# Docker (restart: unless-stopped, with its doubling delay) apply:
# https://docs.docker.com/reference/cli/docker/container/run/#restart
#
# Stopping: each process gets SIGTERM (gunicorn, Celery and the consumers finish what they
# are doing) and SUPERVISE_STOP_TIMEOUT (STOP_TIMEOUT, 40 s) to end; after that what is
# left of it, children included (gunicorn's and Celery's pool processes), gets SIGKILL.

SUPERVISE_BACKOFF_MAX=${SUPERVISE_BACKOFF_MAX:-30}
SUPERVISE_RESET_AFTER=${SUPERVISE_RESET_AFTER:-60}
SUPERVISE_STOP_TIMEOUT=${SUPERVISE_STOP_TIMEOUT:-${STOP_TIMEOUT:-40}}
SUPERVISE_LOOPS=()
_supervise_stopping=0

supervise_log() { printf '\033[1m==> %s\033[0m\n' "$*"; }

# The restart loop of one process, in a background subshell. SIGTERM to the subshell stops
# its process (and an ongoing pause) and ends the loop.
_supervise_loop() {
  local name=$1
  shift
  local child=0 pause=0 stop=0 delay=1 started rc
  trap 'stop=1; [ "$child" = 0 ] || kill -TERM "$child" 2>/dev/null; [ "$pause" = 0 ] || kill "$pause" 2>/dev/null' TERM
  while :; do
    started=$SECONDS
    "$@" &
    child=$!
    supervise_log "$name iniciado (pid $child)"
    while :; do
      rc=0
      wait "$child" 2>/dev/null || rc=$?
      # `wait` also returns when a signal's trap ran: the process may still be running.
      kill -0 "$child" 2>/dev/null || break
    done
    child=0
    [ "$stop" = 1 ] && exit 0
    if [ $((SECONDS - started)) -ge "$SUPERVISE_RESET_AFTER" ]; then delay=1; fi
    supervise_log "o processo $name parou (código $rc); reiniciando em $delay s"
    sleep "$delay" &
    pause=$!
    wait "$pause" 2>/dev/null || true
    pause=0
    [ "$stop" = 1 ] && exit 0
    delay=$((delay * 2))
    if [ "$delay" -gt "$SUPERVISE_BACKOFF_MAX" ]; then delay=$SUPERVISE_BACKOFF_MAX; fi
  done
}

# supervise NAME COMMAND...: start COMMAND under its restart loop.
supervise() {
  _supervise_loop "$@" &
  SUPERVISE_LOOPS+=("$!")
}

# Every pid of a process tree, the root first.
_supervise_tree() {
  local pid
  echo "$1"
  for pid in $(pgrep -P "$1" 2>/dev/null); do _supervise_tree "$pid"; done
}

_supervise_any_alive() {
  local pid
  for pid in "${SUPERVISE_LOOPS[@]}"; do kill -0 "$pid" 2>/dev/null && return 0; done
  return 1
}

# Stop every supervised process: SIGTERM, then SIGKILL to what is left after the timeout.
supervise_stop() {
  [ "$_supervise_stopping" = 1 ] && return 0
  _supervise_stopping=1
  supervise_log "parando (aguarde: tarefas em andamento terminam primeiro)"
  local pid deadline=$((SECONDS + SUPERVISE_STOP_TIMEOUT))
  for pid in "${SUPERVISE_LOOPS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  while _supervise_any_alive; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      supervise_log "tempo esgotado: encerrando à força"
      # The processes under each loop, not the loop itself: it sees them end and exits.
      local tree=()
      for pid in "${SUPERVISE_LOOPS[@]}"; do
        kill -0 "$pid" 2>/dev/null && mapfile -t -O "${#tree[@]}" tree < <(_supervise_tree "$pid" | tail -n +2)
      done
      [ "${#tree[@]}" = 0 ] || kill -KILL "${tree[@]}" 2>/dev/null || true
    fi
    sleep 0.2
  done
  wait 2>/dev/null || true
  supervise_log "tudo parado"
}

# Wait until Ctrl-C or SIGTERM, then stop everything and exit (130 or 143, the shell's codes).
supervise_forever() {
  trap 'supervise_stop; exit 130' INT
  trap 'supervise_stop; exit 143' TERM
  while _supervise_any_alive; do
    wait || true
  done
  supervise_stop
}
