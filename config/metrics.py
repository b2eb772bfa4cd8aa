"""/metrics (django-prometheus's exporter) for Prometheus only, never for the public.

A scrape is let in by either:

* `Authorization: Bearer <METRICS_TOKEN>` (Prometheus: `authorization: {credentials: ...}`
  or `bearer_token` in the scrape config), compared in constant time;
* a direct connection from an address in METRICS_ALLOWED_IPS (addresses or networks). A
  request that came through a proxy (it carries X-Forwarded-For or Forwarded) is never let
  in by address: behind nginx or Render's router every request arrives from the proxy's
  own address, so the address says nothing about who asked.

Besides every process's counters (django-prometheus, prometheus_client's multiprocess mode
when PROMETHEUS_MULTIPROC_DIR is set), a scrape carries the reply path's backlog, read from
the database at scrape time (chatbots.backlog): it is true whichever process is stopped.

With neither set, the embedded mode lets in loopback connections (the operator's own
machine) and production refuses everything: 403, naming the settings to set. A missing or
wrong token is a 401 with `WWW-Authenticate: Bearer` (RFC 6750, section 3).
"""

from __future__ import annotations

import logging
import os
import time

import prometheus_client
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily

from chatbots import backlog, connection
from chatbots.models import Chatbot
from config import health, heartbeat, process_metrics

logger = logging.getLogger(__name__)

LOOPBACK = ("127.0.0.0/8", "::1/128")
NEVER = 1e9  # a heartbeat age for "no heartbeat at all": above every alert threshold


def _allowed_networks():
    configured = list(settings.METRICS_ALLOWED_IPS)
    if not configured and not settings.METRICS_TOKEN and settings.EMBEDDED:
        configured = list(LOOPBACK)
    return process_metrics.networks(configured)


def _allowed(request: HttpRequest) -> bool:
    meta = request.META
    return process_metrics.scrape_allowed(
        authorization=meta.get("HTTP_AUTHORIZATION", ""),
        remote_addr=meta.get("REMOTE_ADDR", ""),
        proxied=bool(meta.get("HTTP_X_FORWARDED_FOR") or meta.get("HTTP_FORWARDED")),
        token=settings.METRICS_TOKEN,
        allowed=_allowed_networks(),
    )


def _refused(status: int, text: str) -> HttpResponse:
    response = HttpResponse(text + "\n", status=status, content_type="text/plain")
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
    return response


class BacklogCollector:
    """`healthz_component_failing{component}`, `chatbot_backlog_messages{queue}`,
    `chatbot_backlog_oldest_seconds{queue}`, `chatbot_number_connected{chatbot,provider}` and
    `ops_heartbeat_age_seconds{process}`, read at scrape time."""

    def collect(self):
        yield self._health()  # first: it says why the rest may be missing
        count = GaugeMetricFamily(
            "chatbot_backlog_messages",
            "Messages waiting in a queue of the reply path (inbound_pending: stored, not "
            "processed; outbound_queued / outbound_sending: replies not yet sent; "
            "inbound_failed / outbound_failed: failed, waiting for a person to retry, "
            "replies of the last 24 hours)",
            labels=["queue"],
        )
        age = GaugeMetricFamily(
            "chatbot_backlog_oldest_seconds",
            "Age of the oldest message waiting in that queue (0 when empty)",
            labels=["queue"],
        )
        try:
            rows = backlog.backlog_read()
        except Exception:  # the database is down: /healthz says so; the rest still scrapes
            logger.warning("backlog not read for /metrics", exc_info=True)
            return
        for row in rows:
            count.add_metric([row.name], row.count)
            age.add_metric([row.name], row.oldest_seconds)
        yield count
        yield age
        yield from self._numbers()
        yield self._heartbeats()

    def _health(self):
        """/healthz's checks, run at every scrape: Prometheus sees a failing component
        even though the platforms' health checks call only /healthz/live."""
        failing = GaugeMetricFamily(
            "healthz_component_failing",
            "1 when /healthz's check of the component (database, cache, broker, worker, beat, "
            "processor, sender) fails at this scrape, else 0",
            labels=["component"],
        )
        _healthy, report = health.run_checks()
        for component, entry in report.items():
            failing.add_metric([component], 0.0 if entry["status"] == "ok" else 1.0)
        return failing

    def _heartbeats(self):
        beats = GaugeMetricFamily(
            "ops_heartbeat_age_seconds",
            "Seconds since a long-running process last said it is alive (a very large "
            "value: never); /healthz fails past HEALTHZ_WORKER_MAX_AGE",
            labels=["process"],
        )
        now = time.time()
        for process, key in heartbeat.KEYS.items():
            last = heartbeat.last_beat(key)
            beats.add_metric([process], NEVER if last is None else max(now - last, 0.0))
        return beats

    def _numbers(self):
        connected = GaugeMetricFamily(
            "chatbot_number_connected",
            "1 when the number's last periodic connection check passed, 0 when it failed "
            "(chatbots.connection.connections_check, every 5 minutes)",
            labels=["chatbot", "provider"],
        )
        try:
            bots = list(Chatbot.objects.filter(active=True).only("pk", "provider"))
            last = connection.connections_last(bots)
        except Exception:
            logger.warning("number connections not read for /metrics", exc_info=True)
            return
        for bot in bots:
            if bot.pk in last:
                connected.add_metric([str(bot.pk), bot.provider], last[bot.pk])
        yield connected


_backlog_registry = CollectorRegistry(auto_describe=False)
_backlog_registry.register(BacklogCollector())


def _export() -> HttpResponse:
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = prometheus_client.REGISTRY
    body = generate_latest(registry) + generate_latest(_backlog_registry)
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    if _allowed(request):
        return _export()
    if settings.METRICS_TOKEN:
        logger.warning("metrics refused: missing or wrong bearer token")
        return _refused(401, "metrics: send Authorization: Bearer <METRICS_TOKEN>")
    if settings.METRICS_ALLOWED_IPS:
        logger.warning(
            "metrics refused: address not in METRICS_ALLOWED_IPS",
            extra={"remote_addr": request.META.get("REMOTE_ADDR", "")},
        )
        return _refused(403, "metrics: this address is not in METRICS_ALLOWED_IPS")
    return _refused(
        403, "metrics are off: set METRICS_TOKEN or METRICS_ALLOWED_IPS (see .env.example)"
    )
