"""Metrics of every process, not only the web's.

prometheus_client's multiprocess mode (https://prometheus.github.io/client_python/multiprocess/)
keeps each process's values in files of PROMETHEUS_MULTIPROC_DIR, named by pid, and a
scrape adds them up. Two ways to reach Prometheus, one per kind of deployment:

* **One host** (start_services.sh, the Procfile, supervisor): every process gets the same
  directory, so the web's `/metrics` adds up the workers', consumers' and beat's values too.
* **One container per process** (compose, Render): each process has its own directory, and
  a process other than the web serves it on METRICS_PORT (`serve`), with the same token or
  address rule as the web's /metrics (config.metrics), for Prometheus to scrape each.

`prepare()` runs first in every process (settings), before any metric exists: it creates
the directory (a metric made while it is missing fails) and removes the files of
processes that are gone, so counters of an earlier run are not added to this one forever,
while the files of live neighbours sharing the directory are kept.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
import threading
from pathlib import Path
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from django.conf import settings

logger = logging.getLogger(__name__)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def prepare(directory: str | None = None) -> Path | None:
    """Create the multiprocess directory and drop the files of dead processes."""
    directory = directory or os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")
    if not directory:
        return None
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*_*.db"):  # counter_123.db, gauge_livesum_123.db, ...
        try:
            pid = int(stale.stem.rsplit("_", 1)[1])
        except (IndexError, ValueError):
            continue
        if pid != os.getpid() and not _alive(pid):
            stale.unlink(missing_ok=True)
    return path


def process_exited(pid: int) -> None:
    """A child process ended: drop its live gauges (counters and histograms stay)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)


class _Quiet(WSGIRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 (the stdlib's signature)
        pass  # scrapes every 15 s would drown the log


def networks(values) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """METRICS_ALLOWED_IPS (addresses or networks) as networks."""
    return [ipaddress.ip_network(v.strip(), strict=False) for v in values if v.strip()]


def scrape_allowed(
    *, authorization: str, remote_addr: str, proxied: bool, token: str, allowed
) -> bool:
    """The one rule for who may read metrics (the web's /metrics and every METRICS_PORT):
    `Authorization: Bearer <token>` matching `token` (compared in constant time), or a
    direct connection from an address in `allowed`. A request that came through a proxy
    (`proxied`: it carries X-Forwarded-For or Forwarded) is never let in by address: behind
    nginx or a platform's router every request arrives from the proxy's own address."""
    scheme, _, given = authorization.partition(" ")
    given = given.strip()
    if token and given and scheme.lower() == "bearer":
        if hmac.compare_digest(given.encode(), token.encode()):
            return True
    if proxied:
        return False
    try:
        address = ipaddress.ip_address(remote_addr)
    except ValueError:
        return False
    if getattr(address, "ipv4_mapped", None):
        address = address.ipv4_mapped
    return any(address in network for network in allowed)


def app(*, token: str, allowed_ips: list[str]):
    """The WSGI app of one process's metrics: every file of its multiprocess directory."""
    from prometheus_client import (
        CONTENT_TYPE_LATEST,
        CollectorRegistry,
        generate_latest,
        multiprocess,
    )

    allowed = networks(allowed_ips)

    def metrics_app(environ, start_response):
        if environ.get("PATH_INFO") != "/metrics":
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found\n"]
        if not scrape_allowed(
            authorization=environ.get("HTTP_AUTHORIZATION", ""),
            remote_addr=environ.get("REMOTE_ADDR", ""),
            proxied=bool(environ.get("HTTP_X_FORWARDED_FOR") or environ.get("HTTP_FORWARDED")),
            token=token,
            allowed=allowed,
        ):
            start_response(
                "401 Unauthorized",
                [("Content-Type", "text/plain"), ("WWW-Authenticate", 'Bearer realm="metrics"')],
            )
            return [b"metrics: send Authorization: Bearer <METRICS_TOKEN>\n"]
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        start_response("200 OK", [("Content-Type", CONTENT_TYPE_LATEST)])
        return [generate_latest(registry)]

    return metrics_app


_server: WSGIServer | None = None


def serve(process: str) -> int | None:
    """Serve this process's metrics on METRICS_PORT (none when unset); the port, or None.

    Only with PROMETHEUS_MULTIPROC_DIR (what is served is that directory) and only with a
    METRICS_TOKEN or METRICS_ALLOWED_IPS: an open metrics port would tell anyone how busy
    each tenant-facing queue is."""
    global _server
    port = os.environ.get("METRICS_PORT", "").strip()
    if not port or _server is not None:
        return None
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        logger.warning("METRICS_PORT ignored: PROMETHEUS_MULTIPROC_DIR is not set")
        return None
    token = os.environ.get("METRICS_TOKEN", "")
    allowed = [v for v in os.environ.get("METRICS_ALLOWED_IPS", "").split(",") if v.strip()]
    if not token and not allowed:
        logger.warning("METRICS_PORT ignored: set METRICS_TOKEN or METRICS_ALLOWED_IPS")
        return None
    host = os.environ.get("METRICS_BIND_HOST", "0.0.0.0")  # noqa: S104 (a container's own port)
    _server = make_server(
        host, int(port), app(token=token, allowed_ips=allowed), handler_class=_Quiet
    )
    threading.Thread(target=_server.serve_forever, name=f"metrics-{process}", daemon=True).start()
    logger.info("metrics served", extra={"process": process, "port": _server.server_port})
    return _server.server_port


def lower_priority() -> None:
    """A consumer (processor, sender) below the web in the CPU scheduler, by
    CONSUMER_NICENESS (config/product_settings.py): on a shared machine the webhook's answer
    comes first."""
    niceness = getattr(settings, "CONSUMER_NICENESS", 0)
    if niceness > 0 and hasattr(os, "nice"):
        try:
            os.nice(niceness)
        except OSError:  # not allowed here: the same priority, as before
            pass
