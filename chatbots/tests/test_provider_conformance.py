"""One contract, every provider: the same tests against Meta, Whaticket, Evolution and the stub.

Each provider gets a small harness that knows how to configure a bot against its fake
server on 127.0.0.1 (tests/fakes), sign an inbound request the way that provider does, and
read back what the customer would see from what the fake received. The tests themselves
only speak the contract (chatbots.providers.base.Provider).
"""

from __future__ import annotations

import json
import time
import uuid

import pytest
from requests.structures import CaseInsensitiveDict

from chatbots import bots
from chatbots.providers.base import ProviderError, WebhookRefused
from chatbots.providers.registry import get_provider, provider_choices
from chatbots.providers.stub import stub_signature
from chatbots.wire import (
    Button,
    Buttons,
    InboundMessage,
    ListMessage,
    Media,
    Row,
    Section,
    Template,
    Text,
)
from tests import meta
from tests.fakes import evolution as evo
from tests.fakes import whaticket as wt
from tests.fakes.graph import unused_url

SENDER = "5511987654321"


class MetaHarness:
    key = "meta"
    networked = True
    signed_body = True
    signature_header = "X-Hub-Signature-256"
    secret = "conformance-app-secret"

    def __init__(self, request):
        self.fake = request.getfixturevalue("fake_graph")

    def make_bot(self, tenant):
        return bots.chatbot_create(
            tenant=tenant,
            name="Meta",
            provider="meta",
            phone_number_id="3000001",
            access_token="meta-token",
            app_secret=self.secret,
        )

    def inbound_text(self, bot, text):
        payload = meta.text_message(bot.phone_number_id, sender=SENDER, body=text)
        body = json.dumps(payload).encode()
        return {"X-Hub-Signature-256": meta.sign(body, self.secret)}, body

    def sends(self):
        return self.fake.sends

    def seen(self, record) -> str:
        body = record.json
        if body["type"] == "text":
            return body["text"]["body"]
        if body["type"] == "interactive":
            inter = body["interactive"]
            action = inter["action"]
            titles = [b["reply"]["title"] for b in action.get("buttons", [])]
            titles += [r["title"] for s in action.get("sections", []) for r in s["rows"]]
            return "\n".join([inter["body"]["text"], *titles])
        if body["type"] == "template":
            return body["template"]["name"]
        media = body[body["type"]]
        return " ".join(filter(None, [media.get("caption"), media.get("link")]))

    def fail_next(self, *, retryable: bool):
        self.fake.fail_next(code=130429 if retryable else 131026)

    def break_credentials(self, bot):
        self.fake.fail_next(code=190, status=401)

    def point_at(self, settings, bot, url):
        settings.WHATSAPP_GRAPH_API_URL = url


class WhaticketHarness:
    key = "whaticket"
    networked = True
    signed_body = True
    signature_header = "X-Signature"

    def __init__(self, request):
        self.fake = request.getfixturevalue("fake_whaticket")

    def make_bot(self, tenant):
        return wt.whaticket_bot(tenant, self.fake, name="Whaticket")

    def inbound_text(self, bot, text):
        body = json.dumps(wt.text_payload(text, number=SENDER)).encode()
        return wt.signed_headers(body), body

    def sends(self):
        return self.fake.sends

    def seen(self, record) -> str:
        return record.json["body"]

    def fail_next(self, *, retryable: bool):
        if retryable:
            self.fake.respond_next(status=503, body="<html>Bad gateway</html>")
        else:
            self.fake.respond_next(status=400, body={"error": "ERR_INVALID_NUMBER"})

    def break_credentials(self, bot):
        self.fake.token = "another-token"

    def point_at(self, settings, bot, url):
        bots.chatbot_update(chatbot=bot, provider_config={"base_url": url})


class EvolutionHarness:
    key = "evolution"
    networked = True
    signed_body = False  # Evolution does not sign: a secret header proves the sender (§4.2)
    signature_header = "X-Webhook-Secret"

    def __init__(self, request):
        self.fake = request.getfixturevalue("fake_evolution")

    def make_bot(self, tenant):
        return evo.evolution_bot(tenant, self.fake, name="Evolution")

    def inbound_text(self, bot, text):
        body = json.dumps(evo.upsert(sender=SENDER, text=text)).encode()
        return {"X-Webhook-Secret": evo.WEBHOOK_SECRET}, body

    def sends(self):
        return self.fake.sends

    def seen(self, record) -> str:
        body = record.json
        if "text" in body:
            return body["text"]
        return " ".join(filter(None, [body.get("caption"), body.get("media")]))

    def fail_next(self, *, retryable: bool):
        if retryable:
            self.fake.respond_next(status=500, body={"status": 500, "error": "Internal"})
        else:
            self.fake.not_on_whatsapp.add(SENDER)

    def break_credentials(self, bot):
        self.fake.apikey = "another-key"

    def point_at(self, settings, bot, url):
        bots.chatbot_update(chatbot=bot, provider_config={"base_url": url, "instance": "loja"})


class StubHarness:
    key = "stub"
    networked = False
    signed_body = True
    signature_header = "X-Stub-Signature"
    secret = "stub-webhook-secret"

    def __init__(self, request):
        self.fake = None

    def make_bot(self, tenant):
        return bots.chatbot_create(
            tenant=tenant,
            name="Stub",
            provider="stub",
            provider_secrets={"webhook_secret": self.secret},
        )

    def inbound_text(self, bot, text):
        payload = {"id": f"sim.{uuid.uuid4().hex}", "from": SENDER, "text": text}
        payload["timestamp"] = int(time.time())
        body = json.dumps(payload).encode()
        return {"X-Stub-Signature": stub_signature(secret=self.secret, body=body)}, body


HARNESSES = [MetaHarness, WhaticketHarness, EvolutionHarness, StubHarness]
NETWORKED = [h for h in HARNESSES if h.networked]
SIGNING = [h for h in HARNESSES if h.signed_body]


@pytest.fixture(params=HARNESSES, ids=lambda h: h.key)
def harness(request):
    return request.param(request)


@pytest.fixture(params=NETWORKED, ids=lambda h: h.key)
def networked(request):
    return request.param(request)


@pytest.fixture(params=SIGNING, ids=lambda h: h.key)
def signing(request):
    return request.param(request)


def headers_of(raw: dict) -> CaseInsensitiveDict:
    return CaseInsensitiveDict(raw)


def _tamper(headers: dict, name: str) -> dict:
    value = headers[name]
    return {**headers, name: value[:-4] + ("0000" if not value.endswith("0000") else "1111")}


# --- Registry -------------------------------------------------------------------------------


def test_every_provider_is_offered_in_the_dropdown():
    assert {key for key, _label in provider_choices()} >= {"meta", "whaticket", "evolution", "stub"}


def test_the_24_hour_window_is_metas_rule_only():
    windows = {key: get_provider(key).customer_window for key, _label in provider_choices()}
    # The stub stands in for Meta in local runs, so it keeps Meta's rule.
    assert windows["meta"] and windows["stub"]
    assert not windows["whaticket"] and not windows["evolution"]


# --- Inbound --------------------------------------------------------------------------------


def test_it_accepts_a_request_signed_for_the_bot(harness, tenant):
    bot = harness.make_bot(tenant)
    headers, body = harness.inbound_text(bot, "Oi")
    provider = get_provider(harness.key)
    provider.verify_request(bot, headers=headers_of(headers), body=body)


def test_it_refuses_a_wrong_signature_with_401(harness, tenant):
    bot = harness.make_bot(tenant)
    headers, body = harness.inbound_text(bot, "Oi")
    provider = get_provider(harness.key)
    with pytest.raises(WebhookRefused) as refused:
        provider.verify_request(
            bot, headers=headers_of(_tamper(headers, harness.signature_header)), body=body
        )
    assert refused.value.status == 401
    assert refused.value.reason in ("bad_signature", "bad_secret")


def test_it_refuses_a_request_without_credentials_with_401(harness, tenant):
    bot = harness.make_bot(tenant)
    _headers, body = harness.inbound_text(bot, "Oi")
    with pytest.raises(WebhookRefused) as refused:
        get_provider(harness.key).verify_request(bot, headers=headers_of({}), body=body)
    assert refused.value.status == 401


def test_a_body_changed_after_signing_is_refused(signing, tenant):
    bot = signing.make_bot(tenant)
    headers, body = signing.inbound_text(bot, "Oi")
    with pytest.raises(WebhookRefused) as refused:
        get_provider(signing.key).verify_request(
            bot, headers=headers_of(headers), body=body.replace(b"Oi", b"Tchau")
        )
    assert refused.value.reason == "bad_signature"


def test_it_parses_a_text_message_into_the_normalized_shape(harness, tenant):
    bot = harness.make_bot(tenant)
    headers, body = harness.inbound_text(bot, "Quero uma pizza")
    parsed = get_provider(harness.key).parse_request(bot, headers=headers_of(headers), body=body)
    assert len(parsed) == 1
    message, raw = parsed[0]
    assert isinstance(message, InboundMessage)
    assert message.provider == harness.key
    assert message.type == "text"
    assert message.text == "Quero uma pizza"
    assert message.from_phone == SENDER
    assert message.external_id
    assert message.timestamp.tzinfo is not None
    assert isinstance(raw, dict)
    # The normalized record survives the trip through the database (InboundEvent.payload).
    assert InboundMessage.from_dict(json.loads(json.dumps(message.to_dict()))) == message


def test_a_body_that_is_not_json_is_refused_with_400(harness, tenant):
    bot = harness.make_bot(tenant)
    with pytest.raises(WebhookRefused) as refused:
        get_provider(harness.key).parse_request(bot, headers=headers_of({}), body=b"{not json")
    assert refused.value.status == 400


# --- Outbound -------------------------------------------------------------------------------

MENU = Buttons(
    body="Posso confirmar?",
    buttons=[Button(id="sim", title="Confirmar"), Button(id="nao", title="Cancelar")],
)
LIST = ListMessage(
    body="Escolha uma categoria:",
    button="Ver categorias",
    sections=[
        Section(
            title="Opções", rows=[Row(id="cat:1", title="Pizzas"), Row(id="cat:2", title="Bebidas")]
        )
    ],
)
PICTURE = Media(media_type="image", link="https://example.invalid/pizza.jpg", caption="Nossa pizza")


def test_it_sends_a_text_and_returns_the_providers_id(harness, tenant):
    bot = harness.make_bot(tenant)
    result = get_provider(harness.key).send(bot, SENDER, Text(body="Olá!"))
    assert result.external_id
    if harness.networked:
        (record,) = harness.sends()
        assert harness.seen(record) == "Olá!"


@pytest.mark.parametrize(
    "message, expected",
    [
        (MENU, ["Posso confirmar?", "Confirmar", "Cancelar"]),
        (LIST, ["Escolha uma categoria:", "Pizzas", "Bebidas"]),
        (PICTURE, ["Nossa pizza", "https://example.invalid/pizza.jpg"]),
    ],
    ids=["buttons", "list", "media"],
)
def test_every_kind_reaches_the_customer_natively_or_as_text(networked, tenant, message, expected):
    bot = networked.make_bot(tenant)
    provider = get_provider(networked.key)
    provider.send(bot, SENDER, message)
    (record,) = networked.sends()
    seen = networked.seen(record)
    for part in expected:
        assert part in seen
    if message.kind not in provider.native_kinds:
        # Degraded: numbered like the preview, so "1" can answer it (chatbots.numbered).
        assert seen == message.preview or seen.startswith(message.preview.split("\n")[0])
        if message.kind in ("buttons", "list"):
            assert "1. " in seen and "2. " in seen


def test_a_template_goes_out_as_a_template_or_as_its_text(networked, tenant):
    bot = networked.make_bot(tenant)
    provider = get_provider(networked.key)
    provider.send(bot, SENDER, Template(name="pedido_pronto", params=["123"]))
    (record,) = networked.sends()
    assert "pedido_pronto" in networked.seen(record)


def test_throttling_and_server_errors_are_retryable(networked, tenant):
    bot = networked.make_bot(tenant)
    networked.fail_next(retryable=True)
    with pytest.raises(ProviderError) as failed:
        get_provider(networked.key).send(bot, SENDER, Text(body="Oi"))
    assert failed.value.retryable


def test_a_bad_recipient_is_permanent(networked, tenant):
    bot = networked.make_bot(tenant)
    networked.fail_next(retryable=False)
    with pytest.raises(ProviderError) as failed:
        get_provider(networked.key).send(bot, SENDER, Text(body="Oi"))
    assert not failed.value.retryable


def test_refused_credentials_are_permanent(networked, tenant):
    bot = networked.make_bot(tenant)
    networked.break_credentials(bot)
    with pytest.raises(ProviderError) as failed:
        get_provider(networked.key).send(bot, SENDER, Text(body="Oi"))
    assert not failed.value.retryable


def test_an_unreachable_gateway_is_retryable(networked, tenant, settings):
    bot = networked.make_bot(tenant)
    networked.point_at(settings, bot, unused_url())
    bot.refresh_from_db()
    with pytest.raises(ProviderError) as failed:
        get_provider(networked.key).send(bot, SENDER, Text(body="Oi"))
    assert failed.value.retryable
    assert failed.value.code == "connection_error"


def test_a_bot_without_credentials_fails_permanently_and_says_what_is_missing(networked, tenant):
    bot = bots.chatbot_create(tenant=tenant, name="Vazio", provider=networked.key)
    with pytest.raises(ProviderError) as failed:
        get_provider(networked.key).send(bot, SENDER, Text(body="Oi"))
    assert not failed.value.retryable
    assert failed.value.code == "not_configured"


# --- Connection check -----------------------------------------------------------------------


def test_the_connection_check_says_ok_for_a_good_configuration(harness, tenant):
    bot = harness.make_bot(tenant)
    ok, detail = get_provider(harness.key).check_connection(bot)
    assert ok, detail
    assert detail
    if harness.networked:
        assert not harness.sends()  # checking never sends a message


def test_the_connection_check_reports_refused_credentials(networked, tenant):
    bot = networked.make_bot(tenant)
    networked.break_credentials(bot)
    ok, detail = get_provider(networked.key).check_connection(bot)
    assert not ok
    assert detail


def test_the_connection_check_never_raises_when_the_gateway_is_down(networked, tenant, settings):
    bot = networked.make_bot(tenant)
    networked.point_at(settings, bot, unused_url())
    bot.refresh_from_db()
    ok, detail = get_provider(networked.key).check_connection(bot)
    assert not ok
    assert detail
