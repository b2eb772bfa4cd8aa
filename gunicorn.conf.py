"""Gunicorn settings, read from the environment. Used by every launcher of the web process.

    gunicorn -c gunicorn.conf.py config.asgi:application

Environment (all optional):
    PORT (8000), BIND_HOST (the settings' default: 0.0.0.0 when DATABASE_URL or REDIS_URL
    is set, as on Render, in containers and on Procfile hosts, whose router is what the
    public reaches; 127.0.0.1 otherwise, the embedded mode; behind nginx on the same
    machine use 127.0.0.1), WEB_CONCURRENCY (worker processes, 2), WEB_THREADS (threads per worker for sync views, 4),
    GUNICORN_WORKER_CLASS (config.server.Worker; `gthread` for a plain WSGI app),
    GUNICORN_TIMEOUT (30 s), GUNICORN_GRACEFUL_TIMEOUT (20 s), GUNICORN_KEEPALIVE (5 s),
    GUNICORN_MAX_REQUESTS (20000, 0 = never recycle), FORWARDED_ALLOW_IPS (127.0.0.1,::1),
    PROMETHEUS_MULTIPROC_DIR (DATA_DIR/prometheus), LOG_LEVEL, LOG_FORMAT (json|plain).

Prometheus: each gunicorn worker is its own process, so django-prometheus counters must be
kept in files that /metrics adds up (prometheus_client's multiprocess mode). That mode is
chosen when prometheus_client is first imported, from PROMETHEUS_MULTIPROC_DIR; this file is
loaded by the gunicorn master before the Django app, so setting the default here is early
enough even when a launcher forgot to set it.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from gunicorn import glogging

BASE_DIR = Path(__file__).resolve().parent
if str(BASE_DIR) not in sys.path:
    sys.path.insert(0, str(BASE_DIR))

_DATA_DIR = Path(os.environ.get("DATA_DIR") or BASE_DIR / "var")
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(_DATA_DIR / "prometheus"))


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


def _bind_host() -> str:
    """BIND_HOST, else config.embedded.default_bind_host for the mode the environment
    names (this file runs before Django and reads no .env: start_services.sh exports the
    value the settings chose)."""
    if os.environ.get("BIND_HOST"):
        return os.environ["BIND_HOST"]
    production = os.environ.get("DATABASE_URL") or os.environ.get("REDIS_URL")
    return "0.0.0.0" if production else "127.0.0.1"


wsgi_app = "config.asgi:application"
bind = [f"{_bind_host()}:{_int('PORT', 8000)}"]

# uvicorn's asyncio worker (config/server.py): the staff app's WebSockets are held by the
# event loop, never by a thread, while sync views (webhooks, admin, API) run on a pool of
# WEB_THREADS threads per process (config/asgi.py). Requests mostly wait on
# PostgreSQL/Redis, so threads give concurrency cheaply; the defaults (2 x 4 = 8 requests
# at once) fit 2 cores and ~512 MB. Raise WEB_CONCURRENCY to about the number of cores on
# bigger machines; each thread may hold one database connection (CONN_MAX_AGE), so
# workers x threads x instances must stay under PostgreSQL's max_connections. The
# benchmarks' plain WSGI apps use GUNICORN_WORKER_CLASS=gthread.
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "").strip() or "config.server.Worker"
workers = _int("WEB_CONCURRENCY", 2)
threads = _int("WEB_THREADS", 4)

# Nothing legitimate takes long in a request: the webhook stores and answers (Meta wants a
# median under 250 ms) and slow work goes to Celery. A stuck worker is killed after this.
timeout = _int("GUNICORN_TIMEOUT", 30)
# Platforms wait about 30 s between SIGTERM and SIGKILL (Render's default); finish in-flight
# requests well inside that.
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 20)
keepalive = _int("GUNICORN_KEEPALIVE", 5)
# Recycle workers now and then so a slow leak never grows without bound; jitter keeps them
# from restarting all at once. Not too often: a new worker loads Django again (about a
# second of CPU), and at 2,000 requests a webhook taking Meta's 80 msg/s restarted each
# worker every 50 s, costing ~20 % of the web's throughput at full speed
# (benchmarks/RESULTS.md).
max_requests = _int("GUNICORN_MAX_REQUESTS", 20000)
max_requests_jitter = max(1, max_requests // 10) if max_requests else 0

# The worker heartbeat file is touched on every loop; tmpfs avoids stalls on slow disks
# (containers' overlay filesystems).
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
# Several gunicorns (tests, benchmarks, two checkouts) would share one default control
# socket under $HOME; nothing here uses it.
control_socket_disable = True

# Proxies allowed to set X-Forwarded-* for gunicorn itself. Django decides https from
# X-Forwarded-Proto (SECURE_PROXY_SSL_HEADER) on its own; this only affects gunicorn.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

loglevel = os.environ.get("LOG_LEVEL", "info").lower()
accesslog = "-"  # stdout
errorlog = "-"  # stderr
# Plain format: path without the query string, which can carry tokens (hub.verify_token).
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms rid=%({x-request-id}o)s'


class JsonLogger(glogging.Logger):
    """gunicorn's own lines as JSON, like the Django and Celery processes.

    Access lines are written by config/access_log.py (around the Django app), in JSON too,
    with the X-Request-ID that config.middleware set on the response; a plain WSGI app under
    gthread (GUNICORN_WORKER_CLASS) gets them from here, in the same shape.
    """

    def setup(self, cfg):
        super().setup(cfg)
        from config.logging import JsonFormatter

        for handler in self.error_log.handlers:
            handler.setFormatter(JsonFormatter())

    def access(self, resp, req, environ, request_time):
        if not self.access_log_enabled:
            return
        try:
            from config.access_log import access_doc

            doc = access_doc(
                environ,
                str(resp.status),
                resp.headers,
                getattr(resp, "sent", None),
                request_time.total_seconds(),
            )
            self.access_log.info(json.dumps(doc, ensure_ascii=False))
        except Exception:  # a log line must never break a response
            self.error("access log failed")


if os.environ.get("LOG_FORMAT", "json") == "json":
    logger_class = JsonLogger


def on_starting(server):
    """Start every boot without the metrics files of processes that are gone.

    Files left by the previous run's processes would otherwise be added to the new run's
    counters forever; the files of live processes sharing the directory on one host (the
    Celery workers, the consumers, beat) are kept (config/process_metrics.py).
    """
    from config import process_metrics

    process_metrics.prepare(os.environ["PROMETHEUS_MULTIPROC_DIR"])


def post_worker_init(worker):
    """Load the URLconf, and everything it imports, before the worker takes a request.

    Django loads it at the first request, which then takes most of a second of CPU: the
    first webhooks after every start or recycle (max_requests) waited behind it, and a
    worker that got no traffic during a warm-up paid it in the middle of a busy minute.
    A broken URLconf is left for the requests to report (500 with the traceback logged),
    rather than looping worker boots.
    """
    try:
        from django.urls import get_resolver

        get_resolver().url_patterns  # noqa: B018 (the property's side effect is the point)
    except Exception:
        worker.log.exception("could not load the URLconf before the first request")


def child_exit(server, worker):
    """Drop a dead worker's live gauges (counters and histograms stay and keep adding up)."""
    from config import process_metrics

    process_metrics.process_exited(worker.pid)
