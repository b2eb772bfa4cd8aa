"""API throttles that count by the client's address as config.client_ip reads it.

DRF's own `get_ident` trusts X-Forwarded-For as the client sent it unless NUM_PROXIES is set,
and knows nothing of CLIENT_IP_HEADER; these use the one rule every other reader uses.
"""

from __future__ import annotations

from rest_framework import throttling

from config.client_ip import client_limit_key


class ScopedRateThrottle(throttling.ScopedRateThrottle):
    """DRF's per-view scope throttle (`throttle_scope` on the view, rates in settings)."""

    def get_ident(self, request) -> str:
        return client_limit_key(request)
