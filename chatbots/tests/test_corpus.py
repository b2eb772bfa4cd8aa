"""Every webhook envelope other people wrote (tests/corpus, see its README) is accepted,
stored exactly once per message/status, or acknowledged and ignored, with no server error.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.conf import settings

from chatbots.models import InboundEvent
from tests import meta
from tests.factories import ChatbotFactory, TenantFactory

CORPUS = Path(settings.BASE_DIR) / "tests" / "corpus"
SECRET = "corpus-test-app-secret"
URL = "/api/chatbots/webhook/"


def _cases() -> list:
    files = sorted((CORPUS / "pywa-updates").glob("*.json"))
    files += sorted((CORPUS / "meta-openapi").glob("webhook-*.json"))
    files += sorted((CORPUS / "meta-echoes").glob("*.json"))
    assert files, f"the corpus is missing from {CORPUS}"
    cases = []
    for path in files:
        data = json.loads(path.read_text(encoding="utf-8"))
        if path.parent.name == "pywa-updates":  # a dict of named cases
            cases += [pytest.param(env, id=f"{path.stem}:{name}") for name, env in data.items()]
        else:  # one envelope per file
            cases.append(pytest.param(data, id=path.stem))
    return cases


def _expected_external_ids(envelope: dict) -> set[str]:
    """What Meta's dedup rule (Meta: https://developers.facebook.com/docs/graph-api/webhooks/getting-started) says must be stored: messages by wamid,
    statuses by (wamid, status), from `messages` changes; marketing preferences from
    `user_preferences` changes; what the business sent from its phone by wamid, from
    `smb_message_echoes` changes."""
    ids = set()
    for entry in envelope.get("entry", []):
        for change in entry.get("changes", []):
            value = change["value"]
            if change.get("field") == "user_preferences":  # marketing opt-out/in (compliance)
                ids |= {
                    f"pref:{p['wa_id']}:{p['category']}:{p['value']}:{p['timestamp']}"
                    for p in value.get("user_preferences", [])
                }
                continue
            if change.get("field") == "smb_message_echoes":  # sent from the business's phone
                ids |= {m["id"] for m in value.get("message_echoes", [])}
                continue
            if change.get("field") != "messages":
                continue
            ids |= {m["id"] for m in value.get("messages", [])}
            ids |= {f"{s['id']}:{s['status']}" for s in value.get("statuses", [])}
    return ids


def _phone_number_ids(envelope: dict) -> set[str]:
    return {
        change["value"]["metadata"]["phone_number_id"]
        for entry in envelope.get("entry", [])
        for change in entry.get("changes", [])
        if "metadata" in change.get("value", {})
    }


@pytest.fixture
def no_processing(monkeypatch):
    """Storage only: the engine is tested elsewhere."""
    queued = []
    monkeypatch.setattr("chatbots.inbound._dispatch", queued.append)
    return queued


@pytest.mark.parametrize("envelope", _cases())
def test_it_stores_each_corpus_update_exactly_once(
    client, db, no_processing, django_capture_on_commit_callbacks, envelope
):
    tenant = TenantFactory()
    for i, phone_number_id in enumerate(sorted(_phone_number_ids(envelope))):
        ChatbotFactory(
            tenant=tenant, name=f"bot {i}", phone_number_id=phone_number_id, app_secret=SECRET
        )
    expected = _expected_external_ids(envelope)

    with django_capture_on_commit_callbacks(execute=True):
        first = meta.post(client, envelope, SECRET, path=URL)
    with django_capture_on_commit_callbacks(execute=True):
        again = meta.post(client, envelope, SECRET, path=URL)

    assert first.status_code == 200, first.content
    assert again.status_code == 200, again.content
    stored = list(InboundEvent.objects.values_list("external_id", flat=True))
    assert sorted(stored) == sorted(expected)
    assert all(e.tenant_id == tenant.pk for e in InboundEvent.objects.all())
    # Only the first delivery queues processing; the retry is a duplicate.
    assert sorted(no_processing) == sorted(InboundEvent.objects.values_list("id", flat=True))


@pytest.fixture
def vector():
    path = CORPUS / "signature" / "meta-signed-text.json"
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture
def vector_bot(db, vector):
    phone_number_id = json.loads(vector["raw_body"])["entry"][0]["changes"][0]["value"]["metadata"][
        "phone_number_id"
    ]
    return ChatbotFactory(
        name="pywa", phone_number_id=phone_number_id, app_secret=vector["app_secret"]
    )


def test_it_accepts_the_body_meta_signed_byte_for_byte(client, vector, vector_bot, no_processing):
    response = client.post(
        URL,
        data=vector["raw_body"].encode(),
        content_type="application/json",
        HTTP_X_HUB_SIGNATURE_256=vector["signature"],
    )

    assert response.status_code == 200
    event = InboundEvent.objects.get()
    assert event.chatbot == vector_bot
    assert event.payload["text"] == "Hey there! I am using PyWa."


def test_it_refuses_metas_signature_when_the_bot_has_another_secret(
    client, vector, vector_bot, no_processing
):
    vector_bot.app_secret = "a-different-app-secret"
    vector_bot.save()

    response = client.post(
        URL,
        data=vector["raw_body"].encode(),
        content_type="application/json",
        HTTP_X_HUB_SIGNATURE_256=vector["signature"],
    )

    assert response.status_code == 401
    assert not InboundEvent.objects.exists()


def test_it_refuses_the_signed_body_once_reserialized(client, vector, vector_bot, no_processing):
    # Meta signs the raw payload bytes; hashing re-serialized JSON breaks the signature
    # (https://developers.facebook.com/docs/graph-api/webhooks/getting-started#validate-payloads).
    reserialized = json.dumps(json.loads(vector["raw_body"]), indent=1).encode()

    response = client.post(
        URL,
        data=reserialized,
        content_type="application/json",
        HTTP_X_HUB_SIGNATURE_256=vector["signature"],
    )

    assert response.status_code == 401
    assert not InboundEvent.objects.exists()
