"""The egress policy: where a URL that a tenant typed may take our servers.

A tenant sets URLs that our servers then call from inside our network: a bot's provider
server (`provider_config.base_url` of Evolution and Whaticket bots), the plan-alert webhook
(`BillingSettings.alert_webhook_url`), the media links its messages carry. Left alone, such
a URL reaches what only our servers can reach: the cloud's metadata service
(169.254.169.254), the database, Redis, an admin port on localhost (server-side request
forgery, OWASP: https://owasp.org/www-community/attacks/Server_Side_Request_Forgery).

One policy, applied twice:

* when the URL is saved, `tenant_url_validate` refuses what is plainly wrong (not https,
  no host, a host that is or resolves to an internal address) with a pt-BR message that
  names the field and the fix;
* when it is called, `target_check` resolves the host ONCE, checks every address it
  resolves to, and returns the one to connect to: config.http connects to that address
  (keeping the name for the Host header, TLS SNI and certificate checks), so a DNS answer
  that changes between the check and the connection (DNS rebinding) changes nothing.

An address is allowed when it is public: not private, loopback, link-local, multicast,
reserved, unspecified, carrier-grade NAT (100.64.0.0/10), site-local, nor an IPv6 form
that embeds a non-public IPv4 address (IPv4-mapped, NAT64, 6to4, Teredo, IPv4-compatible).

Operators opt out for what they trust: `EGRESS_ALLOWED_HOSTS` (names, addresses or networks,
e.g. an Evolution server on the same Docker network, reachable over http) and
`EGRESS_ALLOW_PRIVATE` (every address and http: tests and all-internal set-ups only).
URLs the operator sets (WHATSAPP_GRAPH_API_URL, CAL_API_BASE_URL) are not a tenant's and
go through config.http.request without this policy.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

logger = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: URLs that carry credentials (a provider's API key, a signed alert) go over TLS only.
SECURE_SCHEMES = ("https",)
#: Media links carry no credentials: a public photo over http is fetched like one over https.
MEDIA_SCHEMES = ("http", "https")

# Ranges Python's `is_global` (3.11) lets through but no tenant's server lives in.
_NOT_PUBLIC = tuple(
    ipaddress.ip_network(net)
    for net in (
        "0.0.0.0/8",  # "this network" (RFC 6890)
        "100.64.0.0/10",  # carrier-grade NAT (RFC 6598)
        "192.0.0.0/24",  # IETF protocol assignments (RFC 6890)
        "198.18.0.0/15",  # benchmarking (RFC 2544)
        "::/96",  # IPv4-compatible IPv6, deprecated (RFC 4291 section 2.5.5.1)
        "64:ff9b:1::/48",  # local-use NAT64 (RFC 8215)
        "fec0::/10",  # site-local, deprecated (RFC 3879)
        "2001::/32",  # Teredo (RFC 4380): a tunnel to any IPv4 host
    )
)
# Translated prefixes whose last 32 bits (NAT64) or bits 16-48 (6to4) name an IPv4 host that
# a gateway on the path would reach for us: the embedded address is what is checked.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052


class EgressRefused(ValueError):
    """A URL the policy will not call. The text is pt-BR: the business user reads it."""


@dataclass(frozen=True)
class Target:
    """Where a call goes: the URL's name (Host header, TLS) and the checked address."""

    scheme: str
    host: str
    port: int
    address: str


def address_is_public(address: IPAddress) -> bool:
    """Whether `address` is a public Internet address (see the module docstring)."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return address_is_public(embedded)
        if address.is_site_local:
            return False
    return not (
        not address.is_global
        or address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or any(address in net for net in _NOT_PUBLIC if net.version == address.version)
    )


def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to, in the resolver's order, without duplicates.

    The one DNS lookup of a call (tests patch it here). Raises OSError when the name does
    not resolve.
    """
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _allow_list() -> tuple[set[str], list[ipaddress.IPv4Network | ipaddress.IPv6Network]]:
    """EGRESS_ALLOWED_HOSTS: names (exact), addresses or networks (CIDR) the operator trusts."""
    names, networks = set(), []
    for entry in settings.EGRESS_ALLOWED_HOSTS:
        entry = str(entry).strip().lower().rstrip(".")
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            names.add(entry)
    return names, networks


def _parse_address(text: str) -> IPAddress:
    return ipaddress.ip_address(text.split("%", 1)[0])  # a scope ("fe80::1%eth0") is no matter


_HTTPS_ONLY = gettext_lazy("use um endereço https:// (conexão segura).")


def _url_check(url: str) -> tuple[Target, list | None]:
    """The URL's scheme, host and port; the networks the operator trusts for it (None when
    the host itself is trusted, or the policy is off)."""
    parts = urlsplit(url)
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower().rstrip(".")
    if scheme not in ("http", "https") or not host:
        raise EgressRefused(_("a URL precisa começar com https:// e ter um endereço de servidor."))
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        raise EgressRefused(_("a porta da URL é inválida.")) from None
    names, networks = _allow_list()
    trusted = settings.EGRESS_ALLOW_PRIVATE or host in names
    return Target(scheme=scheme, host=host, port=port, address=""), (None if trusted else networks)


def target_check(url: str, *, schemes: tuple[str, ...] = SECURE_SCHEMES) -> Target:
    """Resolve `url`'s host once and return the checked address to connect to.

    Raises EgressRefused (pt-BR) for a URL without a host, a host with any address that is
    not public, or a scheme outside `schemes` (http is allowed for hosts the operator
    trusts); OSError when the name does not resolve. Every resolved address is checked, not
    only the one used: a name that also points inward is refused whatever the order.
    """
    target, networks = _url_check(url)
    addresses = resolve(target.host, target.port)
    if not addresses:
        raise OSError(f"{target.host} resolves to no address")
    if networks is not None:
        parsed = [_parse_address(a) for a in addresses]
        in_trusted = [any(a.version == n.version and a in n for n in networks) for a in parsed]
        refused = [
            a
            for a, ok in zip(parsed, in_trusted, strict=True)
            if not ok and not address_is_public(a)
        ]
        if refused:
            logger.warning(
                "egress refused",
                extra={"host": target.host, "addresses": [str(a) for a in refused]},
            )
            raise EgressRefused(
                _(
                    "o endereço “%(host)s” é interno ou reservado, e o servidor não acessa "
                    "endereços internos. Use o endereço público (https) do serviço (um "
                    "servidor da própria rede só com a liberação do operador, "
                    "EGRESS_ALLOWED_HOSTS)."
                )
                % {"host": target.host}
            )
        if target.scheme not in schemes and not all(in_trusted):
            raise EgressRefused(_HTTPS_ONLY)
    return Target(scheme=target.scheme, host=target.host, port=target.port, address=addresses[0])


def tenant_url_validate(
    url: str, *, field: str, label: str, schemes: tuple[str, ...] = SECURE_SCHEMES
) -> None:
    """Refuse a URL a tenant saves that the call would refuse: ValidationError({field: ...}).

    `label` names the setting in the message ("A URL da Evolution (provider_config.base_url)").
    A name that does not resolve now is accepted (DNS may be late; the call checks again),
    if its scheme is.
    """
    url = (url or "").strip()
    if not url:
        return
    try:
        target, networks = _url_check(url)
        if networks is not None:  # else the operator trusts this host: nothing to look up
            try:
                target_check(url, schemes=schemes)
            except OSError:
                if target.scheme not in schemes and not networks:
                    raise EgressRefused(_HTTPS_ONLY) from None
    except EgressRefused as exc:
        raise ValidationError(
            {field: _("%(label)s: %(reason)s") % {"label": label, "reason": exc}}
        ) from None
