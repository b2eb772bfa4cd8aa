"""Shared set-up of the message-template tests (submission, sync, samples, admin): the bot
of a WhatsApp Business Account on the fake Graph API, a staff login, and the check of a
submission against Meta's OpenAPI description (tests/corpus/meta-openapi)."""

from __future__ import annotations

import functools

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from chatbots.models import Chatbot
from chatbots.tests.test_provider_meta_schema import SPEC
from tests.factories import MembershipFactory

WABA = "419561257915477"
PATH = "/{Version}/{WABA-ID}/message_templates"


def waba_bot(tenant) -> Chatbot:
    """A Meta bot with its phone number and business account (WABA)."""
    return Chatbot.objects.create(
        tenant=tenant,
        name="Padaria",
        provider="meta",
        phone_number_id="106540352242922",
        waba_id=WABA,
        access_token="EAAG-tk",
    )


def login(client, tenant, role):
    client.force_login(MembershipFactory(tenant=tenant, role=role).user)


@functools.cache
def _create_schema() -> dict:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    spec = yaml.load(SPEC.read_text(encoding="utf-8"), Loader=loader)
    return spec["paths"][PATH]["post"]["requestBody"]["content"]["application/json"]["schema"]


def create_errors(body: dict) -> str:
    """What the request schema of Meta's `POST /{WABA-ID}/message_templates` finds wrong."""
    error = best_match(Draft202012Validator(_create_schema()).iter_errors(body))
    return "" if error is None else f"{list(error.absolute_path)}: {error.message}"
