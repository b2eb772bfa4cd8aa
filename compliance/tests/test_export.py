"""LGPD export: everything on one person, from every app, and nothing of anyone else."""

from __future__ import annotations

import csv
import io
import json
import zipfile

import pytest

from compliance.models import AuditLog
from compliance.tests.conftest import person_everywhere
from pedidos import services as pedidos
from tests.factories import MembershipFactory

ANA = ("Ana Beatriz Quitéria", "5511987650001")
BRUNO = ("Bruno Henrique Saldanha", "5511987650002")


@pytest.fixture
def people(tenant, other_tenant, bot, loja):
    ana = person_everywhere(
        tenant=tenant, chatbot=bot, nome=ANA[0], telefone=ANA[1], produto=loja["margherita"]
    )
    bruno = person_everywhere(
        tenant=tenant, chatbot=bot, nome=BRUNO[0], telefone=BRUNO[1], produto=loja["margherita"]
    )
    # The same phone at another tenant is another tenant's customer: never exported here.
    cat = pedidos.categoria_create(tenant=other_tenant, nome="Outros")
    outro_produto = pedidos.produto_create(
        tenant=other_tenant, categoria=cat, nome="Outro", preco="1.00"
    )
    from chatbots.models import Chatbot

    other_bot = Chatbot.objects.create(tenant=other_tenant, name="Clínica", provider="stub")
    elsewhere = person_everywhere(
        tenant=other_tenant,
        chatbot=other_bot,
        nome="Ana na Clínica",
        telefone=ANA[1],
        produto=outro_produto,
    )
    return {"ana": ana, "bruno": bruno, "elsewhere": elsewhere}


def test_an_export_holds_the_persons_data_from_every_app_and_nobody_elses(key_client, people):
    response = key_client.post(
        "/api/compliance/export/", {"phone": "(11) 8765-0001"}, format="json"
    )  # typed without the ninth digit, no country code

    assert response.status_code == 200, response.content
    document = response.json()
    (titular,) = document["titular"]
    ana = people["ana"]
    assert titular["cliente"]["id"] == ana["cliente"].pk
    assert titular["cliente"]["nome"] == ANA[0]
    assert [c["id"] for c in titular["conversas"]] == [ana["conversation"].pk]
    assert len(titular["conversas"][0]["messages"]) == 2
    assert ANA[1] in titular["conversas"][0]["messages"][0]["text"]
    (pedido,) = titular["pedidos"]
    assert pedido["id"] == ana["pedido"].pk
    assert pedido["total"] == "99.80"
    assert pedido["itens"][0]["produto_nome"] == "Pizza Margherita"
    (agendamento,) = titular["agendamentos"]
    assert agendamento["feedback"]["nota"] == 5
    assert titular["consentimento"]["recusou_mensagens"] is True
    assert titular["consentimento"]["historico"][0]["source"] == "api"
    assert {e["action"] for e in titular["auditoria"]} >= {"update", "consent.opt_out"}

    dumped = json.dumps(document, ensure_ascii=False)
    assert BRUNO[0] not in dumped and BRUNO[1] not in dumped
    assert "Ana na Clínica" not in dumped
    assert str(people["elsewhere"]["pedido"].pk) not in [str(p["id"]) for p in titular["pedidos"]]


def test_a_person_is_found_by_whatsapp_user_id(key_client, people):
    cliente = people["ana"]["cliente"]
    cliente.whatsapp_user_id = "BR.1234567890"
    cliente.save()

    response = key_client.post(
        "/api/compliance/export/", {"whatsapp_user_id": "BR.1234567890"}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["titular"][0]["cliente"]["id"] == cliente.pk


def test_the_zip_has_one_spreadsheet_per_table(key_client, people):
    response = key_client.post(
        "/api/compliance/export/", {"phone": ANA[1], "output": "zip"}, format="json"
    )

    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    names = set(archive.namelist())
    assert {
        "dados.json",
        "clientes.csv",
        "mensagens.csv",
        "pedidos.csv",
        "itens_pedido.csv",
    } <= names
    assert {"agendamentos.csv", "avaliacoes.csv", "consentimento.csv", "auditoria.csv"} <= names
    raw = archive.read("clientes.csv").decode("utf-8")
    assert raw.startswith("\ufeff")  # Excel needs the BOM to read the accents
    (row,) = list(csv.DictReader(io.StringIO(raw.lstrip("\ufeff")), delimiter=";"))
    assert row["nome"] == ANA[0]
    mensagens = archive.read("mensagens.csv").decode("utf-8")
    assert BRUNO[0] not in mensagens


def test_an_export_is_audited_without_the_data(key_client, people):
    key_client.post("/api/compliance/export/", {"phone": ANA[1]}, format="json")

    entry = AuditLog.objects.get(action="export")
    assert entry.object_id == str(people["ana"]["cliente"].pk)
    assert entry.actor_label.startswith("api-key:")
    assert entry.changes == {"output": "json"}


def test_nobody_held_answers_404(key_client, db):
    response = key_client.post("/api/compliance/export/", {"phone": "11 91234-0000"}, format="json")
    assert response.status_code == 404


def test_a_bad_phone_answers_400_with_the_field(key_client, db):
    response = key_client.post("/api/compliance/export/", {"phone": "12"}, format="json")
    assert response.status_code == 400
    assert "phone" in response.json()


def test_an_attendant_may_not_export(client, tenant, people):
    agent = MembershipFactory(tenant=tenant, role="agent").user
    client.force_login(agent)

    response = client.post(
        "/api/compliance/export/", {"phone": ANA[1]}, content_type="application/json"
    )

    assert response.status_code == 403


def test_the_admin_action_downloads_the_zip(manager_client, people):
    cliente = people["ana"]["cliente"]

    response = manager_client.post(
        "/admin/clientes/cliente/",
        {"action": "export_personal_data", "_selected_action": [cliente.pk]},
    )

    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    document = json.loads(zipfile.ZipFile(io.BytesIO(response.content)).read("dados.json"))
    assert document["titular"][0]["cliente"]["nome"] == ANA[0]
    assert AuditLog.objects.filter(action="export", actor_type="user").exists()


FORMULA_NAME = '=HYPERLINK("http://x","y")'


def test_a_profile_name_that_is_a_formula_is_exported_as_text(key_client, chat_with, bot):
    # The name comes from the customer's own WhatsApp profile, through the webhook.
    customer = chat_with(bot, phone="5511987650003", name=FORMULA_NAME)
    customer.text("oi")

    response = key_client.post(
        "/api/compliance/export/", {"phone": "5511987650003", "output": "zip"}, format="json"
    )

    assert response.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    raw = archive.read("clientes.csv").decode("utf-8").lstrip("\ufeff")
    (row,) = list(csv.DictReader(io.StringIO(raw), delimiter=";"))
    # A leading quote: spreadsheets show the cell as text instead of running it (OWASP).
    assert row["nome"] == "'" + FORMULA_NAME
    cells = [
        value
        for name in archive.namelist()
        if name.endswith(".csv")
        for record in csv.reader(
            io.StringIO(archive.read(name).decode("utf-8").lstrip("\ufeff")), delimiter=";"
        )
        for value in record
    ]
    assert FORMULA_NAME in " ".join(cells)  # in clientes, mensagens, consentimento...
    assert not [value for value in cells if value.startswith("=")]
    # The JSON copy keeps the name exactly as the person wrote it.
    document = json.loads(archive.read("dados.json"))
    assert document["titular"][0]["cliente"]["nome"] == FORMULA_NAME
