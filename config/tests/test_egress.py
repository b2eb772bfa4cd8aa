"""The egress policy (config/egress.py) and how config.http keeps it: which addresses a
tenant's URL may reach, the one DNS lookup whose checked address is the one connected to,
TLS checked for the name, no redirects, capped answers."""

from __future__ import annotations

import datetime
import ipaddress
import logging
import ssl

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.core.exceptions import ValidationError
from pytest_httpserver import HTTPServer

from config import egress, http
from tests.fakes.listener import Trap

REAL_RESOLVE = egress.resolve  # before the root conftest replaces it for every test


@pytest.fixture(autouse=True)
def policy_on(settings):
    """As in production: no private addresses, nobody on the allow-list."""
    settings.EGRESS_ALLOW_PRIVATE = False
    settings.EGRESS_ALLOWED_HOSTS = []


# --- Which addresses are public -------------------------------------------------------------

NOT_PUBLIC = [
    "127.0.0.1",
    "10.0.0.8",
    "172.16.5.4",
    "192.168.0.1",
    "169.254.169.254",  # the cloud's metadata service
    "100.64.0.1",  # carrier-grade NAT
    "0.0.0.0",
    "192.0.0.8",
    "198.18.0.1",
    "224.0.1.1",  # multicast
    "240.0.0.1",  # reserved
    "255.255.255.255",
    "::1",
    "::",
    "fe80::1",
    "fec0::1",  # site-local
    "fc00::1",
    "ff02::1",
    "::ffff:127.0.0.1",  # IPv4-mapped
    "::ffff:169.254.169.254",
    "::7f00:1",  # IPv4-compatible
    "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
    "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
    "64:ff9b:1::a00:1",  # local-use NAT64
    "2002:7f00:1::",  # 6to4 of 127.0.0.1
    "2002:a00:1::1",  # 6to4 of 10.0.0.1
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
    "2001:db8::1",
]
PUBLIC = ["8.8.8.8", "200.160.2.3", "2001:4860:4860::8888", "64:ff9b::808:808", "2002:808:808::1"]


@pytest.mark.parametrize("address", NOT_PUBLIC)
def test_internal_and_reserved_addresses_are_not_public(address):
    assert egress.address_is_public(ipaddress.ip_address(address)) is False


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_public_also_behind_nat64_and_6to4(address):
    assert egress.address_is_public(ipaddress.ip_address(address)) is True


def test_the_real_resolver_answers_every_address_once():
    assert REAL_RESOLVE("127.0.0.1", 443) == ["127.0.0.1"]
    assert "127.0.0.1" in REAL_RESOLVE("localhost", 443)  # /etc/hosts, no DNS server


# --- When a tenant saves a URL --------------------------------------------------------------


def refusal(url: str, **kwargs) -> str:
    with pytest.raises(ValidationError) as caught:
        egress.tenant_url_validate(url, field="base_url", label="A URL da Evolution", **kwargs)
    return " ".join(caught.value.message_dict["base_url"])


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/x?x=",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::ffff:169.254.169.254]/",
        "https://[64:ff9b::7f00:1]/",
        "https://[2002:a00:1::1]/",
        "https://2130706433/",  # 127.0.0.1 written as one number
        "https://0x7f.1/",
        "https://localhost:8000/",
        "https://100.64.0.1/",
    ],
)
def test_a_url_to_an_internal_address_is_refused_with_the_field_and_the_fix(url):
    message = refusal(url)
    assert message.startswith("A URL da Evolution: o endereço")
    assert "interno" in message and "https" in message


def test_plain_http_is_refused_for_a_url_that_carries_credentials(fake_dns):
    fake_dns.add("evolution.example.com", "8.8.8.8")
    assert "https://" in refusal("http://evolution.example.com")
    egress.tenant_url_validate("https://evolution.example.com", field="f", label="URL")


def test_a_name_that_resolves_inward_is_refused(fake_dns):
    fake_dns.add("evolution.example.com", "8.8.8.8", "10.0.0.8")  # one inward answer is enough
    assert "evolution.example.com" in refusal("https://evolution.example.com")


def test_a_name_that_does_not_resolve_yet_is_accepted_and_checked_again_when_called(fake_dns):
    egress.tenant_url_validate("https://ainda-nao.example.com", field="f", label="URL")
    with pytest.raises(http.HTTPConnectionError):
        http.tenant_request("GET", "https://ainda-nao.example.com/")


def test_the_operator_trusts_a_server_of_its_own_network_by_name_or_network(fake_dns, settings):
    fake_dns.add("evolution-api", "172.18.0.5")
    fake_dns.add("whaticket", "10.0.5.7")
    settings.EGRESS_ALLOWED_HOSTS = ["evolution-api", "10.0.5.0/24"]

    egress.tenant_url_validate("http://evolution-api:8080", field="f", label="URL")
    egress.tenant_url_validate("http://whaticket:8080", field="f", label="URL")
    assert "interno" in refusal("https://127.0.0.1/")


# --- When the URL is called: one lookup, and the checked address is the one used ------------


def test_a_tenant_url_to_an_internal_address_is_refused_before_connecting(trap):
    for url in (f"{trap.url}/x?x=", trap.url.replace("http:", "https:")):
        with pytest.raises(http.HTTPRefused):
            http.tenant_request("GET", url)
    assert trap.connections() == 0


def test_a_name_that_resolves_to_a_private_address_is_refused_when_called(fake_dns, trap):
    fake_dns.add("metadata.example.com", "127.0.0.1")
    with pytest.raises(http.HTTPRefused):
        http.tenant_request("GET", f"https://metadata.example.com:{trap.port}/")
    assert trap.connections() == 0


def test_dns_rebinding_the_connection_goes_to_the_address_that_was_checked(
    fake_dns, httpserver, settings
):
    # The operator trusts 127.0.0.1 here: it stands for a public address, since tests never
    # leave the machine. The name's second answer is an internal address, listening on the
    # same port.
    settings.EGRESS_ALLOWED_HOSTS = ["127.0.0.1/32"]
    httpserver.expect_request("/status").respond_with_json({"ok": True})
    inside = Trap("127.0.0.2", httpserver.port)
    fake_dns.add("rebind.example.com", "127.0.0.1", then="127.0.0.2")
    try:
        response = http.tenant_request("GET", f"http://rebind.example.com:{httpserver.port}/status")

        assert response.json() == {"ok": True}
        assert fake_dns.lookups == ["rebind.example.com"]  # one lookup, no second one
        (request, _answer) = httpserver.log[0]
        assert request.headers["Host"] == f"rebind.example.com:{httpserver.port}"
        assert inside.connections() == 0

        # The next call looks the name up again, gets the internal address, and stops.
        with pytest.raises(http.HTTPRefused):
            http.tenant_request("GET", f"http://rebind.example.com:{httpserver.port}/status")
        assert inside.connections() == 0
        assert len(httpserver.log) == 1
    finally:
        inside.close()


def test_the_address_used_is_logged(fake_dns, httpserver, settings, caplog):
    settings.EGRESS_ALLOWED_HOSTS = ["127.0.0.1/32"]
    httpserver.expect_request("/").respond_with_data("ok")
    fake_dns.add("evolution.example.com", "127.0.0.1")

    with caplog.at_level(logging.INFO, logger="config.http"):
        http.tenant_request("GET", f"http://evolution.example.com:{httpserver.port}/")

    (record,) = [r for r in caplog.records if r.getMessage() == "http call"]
    assert record.address == "127.0.0.1"


def test_a_redirect_is_returned_not_followed(httpserver, trap, settings):
    # Both servers are trusted here: only not following the redirect keeps the trap empty.
    settings.EGRESS_ALLOWED_HOSTS = ["127.0.0.1/32"]
    httpserver.expect_request("/").respond_with_data(
        "", status=302, headers={"Location": f"{trap.url}/latest/meta-data/"}
    )

    response = http.tenant_request("GET", f"http://127.0.0.1:{httpserver.port}/")

    assert response.status_code == 302
    assert trap.connections() == 0


# --- Answers are capped ----------------------------------------------------------------------


def test_an_oversize_answer_is_cut_with_a_clear_error(httpserver, settings):
    settings.EGRESS_ALLOW_PRIVATE = True
    settings.HTTP_MAX_RESPONSE_BYTES = 1000
    httpserver.expect_request("/grande").respond_with_data("x" * 5000)
    httpserver.expect_request("/pequeno").respond_with_data("x" * 1000)

    for call in (http.request, http.tenant_request):
        assert call("GET", httpserver.url_for("/pequeno")).content == b"x" * 1000
        with pytest.raises(http.HTTPTooLarge, match="over 1000"):
            call("GET", httpserver.url_for("/grande"))


def test_an_answer_without_a_length_is_cut_while_streaming(settings):
    settings.EGRESS_ALLOW_PRIVATE = True
    settings.HTTP_MAX_RESPONSE_BYTES = 100_000

    def endless(request):
        from werkzeug import Response

        return Response((b"x" * 65536 for _ in range(1000)), direct_passthrough=True)

    server = HTTPServer(host="127.0.0.1", port=0)
    server.expect_request("/").respond_with_handler(endless)
    server.start()
    try:
        with pytest.raises(http.HTTPTooLarge, match="over 100000 bytes"):
            http.tenant_request("GET", server.url_for("/"))
    finally:
        server.clear()
        server.stop()


# --- TLS: the certificate is checked for the name, not the pinned address -------------------


def _certificate(tmp_path, name: str) -> tuple[str, ssl.SSLContext]:
    """A CA (its file, for REQUESTS_CA_BUNDLE) and a server context with a cert for `name`."""
    now = datetime.datetime.now(datetime.UTC)

    def build(subject, issuer, key, signer, *, ca, san=None):
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if san:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.DNSName(san)]), critical=False
            )
        return builder.sign(signer, hashes.SHA256())

    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = build("Teste CA", "Teste CA", ca_key, ca_key, ca=True)
    leaf = build(name, "Teste CA", key, ca_key, ca=False, san=name)
    ca_file, cert_file, key_file = tmp_path / "ca.pem", tmp_path / "cert.pem", tmp_path / "key.pem"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    return str(ca_file), context


@pytest.fixture
def tls_server(tmp_path, monkeypatch, fake_dns, settings):
    """An https server on 127.0.0.1 whose certificate names evolution.example.com, trusted
    through REQUESTS_CA_BUNDLE; the name resolves to it; the SNI names it asked for."""
    settings.EGRESS_ALLOWED_HOSTS = ["127.0.0.1/32"]
    servers, seen = [], []

    def start(cert_name: str) -> HTTPServer:
        ca_file, context = _certificate(tmp_path, cert_name)
        context.sni_callback = lambda _sock, name, _ctx: seen.append(name)
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", ca_file)
        http._local.__dict__.clear()  # sessions read the CA bundle once
        server = HTTPServer(host="127.0.0.1", port=0, ssl_context=context)
        server.expect_request("/").respond_with_data("ok")
        server.start()
        servers.append(server)
        return server

    fake_dns.add("evolution.example.com", "127.0.0.1")
    start.sni = seen
    yield start
    for server in servers:
        server.clear()
        server.stop()
    http._local.__dict__.clear()


def test_tls_sends_the_name_and_checks_the_certificate_for_it(tls_server):
    server = tls_server("evolution.example.com")

    response = http.tenant_request("GET", f"https://evolution.example.com:{server.port}/")

    assert response.text == "ok"
    assert tls_server.sni == ["evolution.example.com"]
    (request, _answer) = server.log[0]
    assert request.headers["Host"] == f"evolution.example.com:{server.port}"


def test_a_certificate_for_another_name_is_refused(tls_server):
    server = tls_server("outro.example.com")

    with pytest.raises(http.HTTPConnectionError):
        http.tenant_request("GET", f"https://evolution.example.com:{server.port}/")
    assert server.log == []
