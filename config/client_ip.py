"""The client's address, by one rule, for everything that reads it.

The audit log, the login lockout (django-axes), the API throttles and the access log all ask
here, so they agree on who is calling and none of them believes a header the client wrote.

* `CLIENT_IP_HEADER` (e.g. `CF-Connecting-IP`), when set, names a header that the trusted
  edge overwrites on every request; its value wins. Only for edges that do overwrite it.
* Otherwise `NUM_PROXIES`: how many proxies of ours append to `X-Forwarded-For` before the
  request reaches us. Each proxy appends the address it saw, so the Nth entry from the right
  is the address the outermost proxy saw; anything left of it came from the client and is
  ignored. 0 (a direct bind) uses only the socket's address. With fewer entries than
  proxies the request did not come through them (a health check on loopback): the socket's
  address again. See https://developer.mozilla.org/en-US/docs/Web/HTTP/Headers/X-Forwarded-For
  ("Selecting an IP address").
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping

from django.conf import settings

# IPv6 hands out a /64 to a single subscriber (RFC 6177), so one attacker holds 2^64
# addresses: limits count a /64 as one address.
IPV6_LIMIT_PREFIX = 64


def _parse(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    value = value.strip()
    if value.startswith("[") and "]" in value:  # "[2001:db8::1]:443"
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:  # "203.0.113.7:5123" (some load balancers add the port)
        value = value.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def _address(meta: Mapping[str, str]) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    header = getattr(settings, "CLIENT_IP_HEADER", "")
    if header:
        address = _parse(meta.get("HTTP_" + header.upper().replace("-", "_"), ""))
        if address is not None:
            return address
    candidate = meta.get("REMOTE_ADDR", "")
    proxies = getattr(settings, "NUM_PROXIES", 0)
    if proxies > 0:
        hops = [h for h in meta.get("HTTP_X_FORWARDED_FOR", "").split(",") if h.strip()]
        if len(hops) >= proxies:
            candidate = hops[-proxies]
    return _parse(candidate)


def client_ip_from_meta(meta: Mapping[str, str]) -> str:
    """The client's address from a WSGI environ or `request.META`; "" when unreadable."""
    address = _address(meta)
    return str(address) if address is not None else ""


def client_ip(request) -> str:
    """The client's address, as the audit log records it."""
    return client_ip_from_meta(request.META)


def client_limit_key(request) -> str:
    """The address that limits count (lockout, throttles): the client's address, or its /64
    for IPv6. Also django-axes' AXES_CLIENT_IP_CALLABLE."""
    address = _address(request.META)
    if address is None:
        return ""
    if isinstance(address, ipaddress.IPv6Address):
        network = ipaddress.IPv6Network(f"{address}/{IPV6_LIMIT_PREFIX}", strict=False)
        return str(network.network_address)
    return str(address)
