"""LGPD erasure: no table keeps the person's phone or name, records stay anonymous, twice
is a no-op, and the person is never messaged proactively again."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.apps import apps
from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import connection, models

from agenda.models import Agendamento, FeedbackEvent
from chatbots.models import Conversation, InboundEvent, Message
from clientes.models import Cliente
from clientes.services import cliente_upsert_from_whatsapp
from compliance import erasure
from compliance.models import AnonymousCustomer, AuditLog, ConsentEvent, OptOutMarker
from compliance.tests.conftest import person_everywhere
from pedidos.models import ItemPedido, Pedido

NOME = "Joaquina Bettencourt Quitéria"
PHONE = "5511987612345"
SUBSCRIBER = "87612345"  # the part every spelling of the number shares
OTHER = ("Rogério Pacheco Lemos", "5511987699999")


def _text_columns():
    for model in apps.get_models():
        if model._meta.proxy or not model._meta.managed:
            continue
        for field in model._meta.concrete_fields:
            if isinstance(field, models.CharField | models.TextField | models.JSONField):
                yield model, field


def tables_holding(needle: str) -> list[str]:
    """Every model.column whose text contains `needle` (JSON compared as its text)."""
    found = []
    with connection.cursor() as cursor:
        for model, field in _text_columns():
            table = connection.ops.quote_name(model._meta.db_table)
            column = connection.ops.quote_name(field.column)
            cursor.execute(
                f"SELECT 1 FROM {table} WHERE CAST({column} AS TEXT) ILIKE %s LIMIT 1",
                [f"%{needle}%"],
            )
            if cursor.fetchone():
                found.append(f"{model._meta.label}.{field.name}")
    return found


@pytest.fixture
def people(tenant, bot, loja, manager_client):
    joaquina = person_everywhere(
        tenant=tenant, chatbot=bot, nome=NOME, telefone=PHONE, produto=loja["margherita"]
    )
    other = person_everywhere(
        tenant=tenant, chatbot=bot, nome=OTHER[0], telefone=OTHER[1], produto=loja["margherita"]
    )
    # Staff edited her through the admin: Django's history and our audit log name her.
    response = manager_client.post(
        f"/admin/clientes/cliente/{joaquina['cliente'].pk}/change/",
        {"tenant": tenant.pk, "nome": NOME, "telefone": PHONE, "tags": '["vip"]'},
    )
    assert response.status_code == 302, response.content[:2000]
    return {"joaquina": joaquina, "other": other}


def test_after_erasure_no_table_holds_the_phone_or_the_name(key_client, people):
    assert tables_holding(SUBSCRIBER) and tables_holding(NOME)  # the scan sees them before

    response = key_client.post(
        "/api/compliance/erase/", {"phone": PHONE, "confirm": True}, format="json"
    )

    assert response.status_code == 200, response.content
    assert response.json()["erased"] is True
    assert tables_holding(SUBSCRIBER) == []
    assert tables_holding(NOME) == []
    assert tables_holding("Bettencourt") == []
    # The other customer is untouched.
    assert tables_holding(OTHER[0]) and tables_holding(OTHER[1])


def test_orders_and_appointments_stay_anonymous_with_their_totals(key_client, people):
    pedido = people["joaquina"]["pedido"]
    agendamento = people["joaquina"]["agendamento"]
    items_before = list(
        ItemPedido.objects.filter(pedido=pedido).values_list("quantidade", "preco_unitario")
    )

    key_client.post("/api/compliance/erase/", {"phone": PHONE, "confirm": True}, format="json")

    pedido.refresh_from_db()
    placeholder = AnonymousCustomer.objects.get(tenant=pedido.tenant).cliente
    assert pedido.cliente_id == placeholder.pk
    assert pedido.total == Decimal("99.80")
    assert (pedido.observacoes, pedido.endereco_entrega) == ("", "")
    assert (pedido.latitude, pedido.longitude) == (None, None)
    assert (
        list(ItemPedido.objects.filter(pedido=pedido).values_list("quantidade", "preco_unitario"))
        == items_before
    )
    agendamento.refresh_from_db()
    assert agendamento.cliente_id == placeholder.pk and agendamento.observacoes == ""
    assert FeedbackEvent.objects.get(agendamento=agendamento).nota == 5
    assert not Cliente.objects.filter(pk=people["joaquina"]["cliente"].pk).exists()
    assert not Conversation.objects.filter(pk=people["joaquina"]["conversation"].pk).exists()
    assert not ConsentEvent.objects.filter(cliente_id=people["joaquina"]["cliente"].pk).exists()


def test_a_second_erasure_is_a_no_op(key_client, people):
    first = key_client.post(
        "/api/compliance/erase/", {"phone": PHONE, "confirm": True}, format="json"
    )
    snapshot = {
        "clientes": Cliente.objects.count(),
        "messages": Message.objects.count(),
        "pedidos": list(Pedido.objects.order_by("pk").values_list("pk", "cliente_id", "total")),
        "agendamentos": Agendamento.objects.count(),
        "events": InboundEvent.objects.count(),
        "markers": OptOutMarker.objects.count(),
    }

    second = key_client.post(
        "/api/compliance/erase/", {"phone": "+55 11 8761-2345", "confirm": True}, format="json"
    )

    assert first.json()["erased"] is True
    assert second.status_code == 200
    assert second.json() == {"erased": False, "clientes": 0, "counts": {}}
    assert snapshot == {
        "clientes": Cliente.objects.count(),
        "messages": Message.objects.count(),
        "pedidos": list(Pedido.objects.order_by("pk").values_list("pk", "cliente_id", "total")),
        "agendamentos": Agendamento.objects.count(),
        "events": InboundEvent.objects.count(),
        "markers": OptOutMarker.objects.count(),
    }


def test_the_erasure_is_audited_with_counts_only(key_client, people):
    key_client.post("/api/compliance/erase/", {"phone": PHONE, "confirm": True}, format="json")

    entry = AuditLog.objects.get(action="erase")
    assert entry.object_id == str(people["joaquina"]["cliente"].pk)
    assert entry.changes["counts"]["messages"] == 2
    assert entry.changes["counts"]["orders_anonymised"] == 1
    # Earlier entries about her stay (who did what, when) but lose the personal data.
    earlier = AuditLog.objects.filter(
        object_type="clientes.cliente", object_id=str(people["joaquina"]["cliente"].pk)
    ).exclude(action="erase")
    assert earlier.count() >= 2
    assert all(e.changes == erasure.REDACTED for e in earlier)
    log = LogEntry.objects.get(content_type=ContentType.objects.get_for_model(Cliente))
    assert log.object_repr == erasure.ERASED_REPR


def test_a_customer_created_again_with_that_phone_starts_opted_out(key_client, people, tenant):
    key_client.post("/api/compliance/erase/", {"phone": PHONE, "confirm": True}, format="json")

    again = cliente_upsert_from_whatsapp(tenant=tenant, wa_id="551187612345")  # old spelling

    assert again.optout_em is not None
    assert ConsentEvent.objects.get(cliente=again).source == ConsentEvent.Source.ERASURE
    # The marker is a one-way hash: no trace of the number in it.
    assert all(SUBSCRIBER not in m.identity_hash for m in OptOutMarker.objects.all())


def test_erasure_requires_confirmation(key_client, people):
    response = key_client.post("/api/compliance/erase/", {"phone": PHONE}, format="json")
    assert response.status_code == 400
    assert Cliente.objects.filter(telefone=PHONE).exists()


def test_the_admin_action_asks_before_erasing(manager_client, people):
    cliente = people["joaquina"]["cliente"]
    url = "/admin/clientes/cliente/"

    page = manager_client.post(
        url, {"action": "erase_personal_data", "_selected_action": [cliente.pk]}
    )

    assert page.status_code == 200
    assert "Não é possível desfazer" in page.content.decode()
    assert PHONE not in page.content.decode()  # shown masked
    assert Cliente.objects.filter(pk=cliente.pk).exists()

    done = manager_client.post(
        url, {"action": "erase_personal_data", "_selected_action": [cliente.pk], "post": "yes"}
    )

    assert done.status_code == 302
    assert not Cliente.objects.filter(pk=cliente.pk).exists()
    assert AuditLog.objects.get(action="erase").actor_type == AuditLog.ActorType.USER


def test_the_placeholder_customer_cannot_be_deleted_alone(key_client, people, tenant):
    from django.db.models import RestrictedError

    key_client.post("/api/compliance/erase/", {"phone": PHONE, "confirm": True}, format="json")
    placeholder = AnonymousCustomer.objects.get(tenant=tenant).cliente

    with pytest.raises(RestrictedError):
        placeholder.delete()
    assert Pedido.objects.filter(cliente=placeholder).exists()
