"""The audit log: written for every admin and API write, append-only, tenant-scoped."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from billing.services import tenant_create
from chatbots.models import Chatbot
from clientes.models import Cliente
from compliance import audit
from compliance.models import AppendOnlyError, AuditLog
from tests.factories import ClienteFactory, MembershipFactory, UserFactory

AUDIT = "/api/compliance/audit/"


# --- Through the API -----------------------------------------------------------------------


def test_an_api_create_update_and_delete_are_each_recorded_with_a_diff(key_client, tenant):
    created = key_client.post(
        "/api/clientes/", {"nome": "Carla", "telefone": "11 99876-5432"}, format="json"
    )
    cliente_id = created.json()["id"]
    key_client.patch(f"/api/clientes/{cliente_id}/", {"nome": "Carla Dias"}, format="json")
    key_client.delete(f"/api/clientes/{cliente_id}/")

    entries = list(
        AuditLog.objects.filter(object_type="clientes.cliente", object_id=str(cliente_id)).order_by(
            "id"
        )
    )
    assert [e.action for e in entries] == ["create", "update", "delete"]
    assert all(e.tenant_id == tenant.pk for e in entries)
    assert all(e.actor_type == AuditLog.ActorType.API_KEY for e in entries)
    assert entries[0].changes["telefone"] == [None, "5511998765432"]
    assert entries[1].changes == {
        "nome": ["Carla", "Carla Dias"],
        "atualizado_em": entries[1].changes["atualizado_em"],
    }
    assert entries[2].changes["nome"] == ["Carla Dias", None]
    assert entries[0].ip == "127.0.0.1"


def test_a_custom_api_action_is_recorded_with_its_name(key_client, tenant, cliente, loja):
    from pedidos import services as pedidos

    pedido = pedidos.pedido_create(tenant=tenant, cliente=cliente, itens=[(loja["margherita"], 1)])

    response = key_client.post(
        f"/api/pedidos/pedidos/{pedido.pk}/status/", {"status": "em_preparo"}, format="json"
    )

    assert response.status_code == 200, response.content
    entry = AuditLog.objects.get(object_type="pedidos.pedido", object_id=str(pedido.pk))
    assert entry.action == "mudar_status"
    assert entry.changes["status"] == ["confirmado", "em_preparo"]


def test_a_refused_api_write_is_not_recorded(key_client, db):
    response = key_client.post("/api/clientes/", {"telefone": "12"}, format="json")
    assert response.status_code == 400
    assert not AuditLog.objects.exists()


def test_secrets_never_reach_the_diff(key_client, tenant):
    response = key_client.post(
        "/api/chatbots/",
        {
            "name": "Loja",
            "provider": "meta",
            "phone_number_id": "999001",
            "access_token": "EAAG-super-secret-token-1",
            "app_secret": "app-secret-value-1",
        },
        format="json",
    )
    bot_id = response.json()["id"]
    key_client.patch(
        f"/api/chatbots/{bot_id}/", {"access_token": "EAAG-super-secret-token-2"}, format="json"
    )

    entries = AuditLog.objects.filter(object_type="chatbots.chatbot").order_by("id")
    assert entries[0].changes["access_token"] == [None, "***"]
    assert entries[1].changes["access_token"] == ["***", "***"]  # changed, value never shown
    assert "app_secret" not in entries[1].changes  # unchanged
    dumped = str(list(entries.values_list("changes", flat=True)))
    assert "super-secret" not in dumped and "app-secret-value" not in dumped


# --- Through the admin ---------------------------------------------------------------------


@pytest.fixture
def staff(client, owner):
    client.force_login(owner)
    return client


def test_an_admin_change_and_delete_are_recorded_with_the_user_and_the_diff(staff, owner, tenant):
    cliente = ClienteFactory(tenant=tenant, nome="Davi", telefone="5511912340000")

    staff.post(
        f"/admin/clientes/cliente/{cliente.pk}/change/",
        {"tenant": tenant.pk, "nome": "Davi Lima", "telefone": "5511912340000", "tags": "[]"},
    )
    staff.post(f"/admin/clientes/cliente/{cliente.pk}/delete/", {"post": "yes"})

    update, delete = AuditLog.objects.filter(object_id=str(cliente.pk)).order_by("id")
    assert (update.action, delete.action) == ("update", "delete")
    assert update.actor_user_id == owner.pk and update.actor_label == owner.username
    assert update.changes["nome"] == ["Davi", "Davi Lima"]
    assert delete.changes["telefone"] == ["5511912340000", None]
    assert not Cliente.objects.filter(pk=cliente.pk).exists()


def test_an_admin_bulk_delete_records_each_row(staff, tenant):
    a, b = ClienteFactory(tenant=tenant), ClienteFactory(tenant=tenant)

    staff.post(
        "/admin/clientes/cliente/",
        {"action": "delete_selected", "_selected_action": [a.pk, b.pk], "post": "yes"},
    )

    deleted = set(AuditLog.objects.filter(action="delete").values_list("object_id", flat=True))
    assert deleted == {str(a.pk), str(b.pk)}


def test_an_admin_login_is_recorded_for_the_users_tenant(client, owner, tenant):
    client.post("/admin/login/", {"username": owner.username, "password": "senha-forte-123"})

    entry = AuditLog.objects.get(action="login")
    assert entry.tenant_id == tenant.pk
    assert entry.actor_user_id == owner.pk


def test_creating_a_tenant_and_its_subscription_are_recorded(db):
    result = tenant_create(slug="nova", name="Nova Loja")

    actions = set(AuditLog.objects.filter(tenant=result.tenant).values_list("action", flat=True))
    assert {"tenant.create", "subscription.start"} <= actions


# --- Append-only ---------------------------------------------------------------------------


@pytest.fixture
def entry(tenant):
    return audit.record(
        tenant=tenant, actor="test", action="update", object_type="x", object_id="1"
    )


@pytest.mark.parametrize("who", ["owner", "superuser"])
def test_nobody_can_add_change_or_delete_entries_in_the_admin(client, tenant, entry, who):
    user = (
        MembershipFactory(tenant=tenant).user
        if who == "owner"
        else UserFactory(is_superuser=True, username="root@example.com")
    )
    client.force_login(user)
    base = "/admin/compliance/auditlog/"

    assert client.get(f"{base}{entry.pk}/change/").status_code == 200  # may read it
    assert client.post(f"{base}{entry.pk}/change/", {"action": "forged"}).status_code == 403
    assert client.post(f"{base}{entry.pk}/delete/", {"post": "yes"}).status_code == 403
    assert client.post(f"{base}add/", {"action": "forged"}).status_code == 403
    bulk = client.post(
        base, {"action": "delete_selected", "_selected_action": [entry.pk], "post": "yes"}
    )
    assert bulk.status_code in (200, 302)
    entry.refresh_from_db()
    assert entry.action == "update"


def test_the_api_is_read_only(key_client, entry):
    assert key_client.put(f"{AUDIT}{entry.pk}/", {"action": "x"}, format="json").status_code == 405
    assert (
        key_client.patch(f"{AUDIT}{entry.pk}/", {"action": "x"}, format="json").status_code == 405
    )
    assert key_client.delete(f"{AUDIT}{entry.pk}/").status_code == 405
    assert key_client.post(AUDIT, {"action": "x"}, format="json").status_code == 405
    assert AuditLog.objects.count() == 1


def test_code_cannot_change_or_delete_an_entry_either(entry):
    entry.action = "forged"
    with pytest.raises(AppendOnlyError):
        entry.save()
    with pytest.raises(AppendOnlyError):
        entry.delete()
    with pytest.raises(AppendOnlyError):
        AuditLog.objects.filter(pk=entry.pk).update(action="forged")
    with pytest.raises(AppendOnlyError):
        AuditLog.objects.all().delete()


# --- Reading it ----------------------------------------------------------------------------


def test_the_api_shows_only_the_tenants_entries_with_filters(key_client, tenant, other_tenant):
    old = audit.record(
        tenant=tenant, actor="retention", action="delete", object_type="chatbots.message"
    )
    AuditLog.objects.filter(pk=old.pk)._erasure_redact(
        created_at=timezone.now() - timedelta(days=10)
    )
    mine = audit.record(
        tenant=tenant, actor="importer", action="create", object_type="clientes.cliente"
    )
    audit.record(
        tenant=other_tenant, actor="importer", action="create", object_type="clientes.cliente"
    )

    everything = key_client.get(AUDIT).json()["results"]
    by_action = key_client.get(AUDIT, {"action": "create"}).json()["results"]
    by_type = key_client.get(AUDIT, {"object_type": "chatbots.message"}).json()["results"]
    recent = key_client.get(
        AUDIT, {"since": (timezone.now() - timedelta(days=1)).isoformat()}
    ).json()
    by_actor = key_client.get(AUDIT, {"actor": "retention"}).json()["results"]

    assert [e["id"] for e in everything] == [mine.pk, old.pk]
    assert [e["id"] for e in by_action] == [mine.pk]
    assert [e["id"] for e in by_type] == [old.pk]
    assert [e["id"] for e in recent["results"]] == [mine.pk]
    assert [e["id"] for e in by_actor] == [old.pk]


def test_an_attendant_cannot_read_the_log(client, tenant, entry):
    client.force_login(MembershipFactory(tenant=tenant, role="agent").user)
    assert client.get(AUDIT).status_code == 403
    assert client.get(f"/admin/compliance/auditlog/{entry.pk}/change/").status_code in (302, 403)


def test_a_job_records_itself_as_the_actor(tenant):
    with audit.acting_as(audit.system_actor("retention")):
        entry = audit.record(tenant=tenant, actor=None, action="delete")
    assert (entry.actor_type, entry.actor_label) == ("system", "system:retention")


def test_the_client_ip_comes_from_x_forwarded_for_only_behind_trusted_proxies(
    key_client, settings, db
):
    settings.NUM_PROXIES = 1
    settings.CLIENT_IP_HEADER = ""
    key_client.post(
        "/api/clientes/",
        {"nome": "Eva"},
        format="json",
        HTTP_X_FORWARDED_FOR="203.0.113.9, 198.51.100.7",
    )
    # The proxy appended the address it saw; what is left of it, the client may have forged.
    assert AuditLog.objects.get().ip == "198.51.100.7"


def test_a_model_admin_of_another_app_writes_entries_without_changes_to_its_code(staff, tenant):
    Chatbot.objects.create(tenant=tenant, name="Bot", provider="stub")
    bot = Chatbot.objects.get()
    staff.post(f"/admin/chatbots/chatbot/{bot.pk}/delete/", {"post": "yes"})
    assert AuditLog.objects.filter(object_type="chatbots.chatbot", action="delete").exists()
