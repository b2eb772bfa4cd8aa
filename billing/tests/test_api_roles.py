"""Who may call what: every tenant endpoint × method × role, against the real views.

`MATRIX` is the rule book, written out by hand. Three tests keep it, the code and the README
in step: the matrix covers exactly the endpoints the URLconf serves with the rules their
views declare (billing.api.role_table), README.md shows that same table, and every
(endpoint, method, role) answers as the matrix says: the success status when allowed, a
403 naming the role when not.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import time_machine
from django.conf import settings

from billing.api.permissions import API_KEY_ROLE
from billing.api.role_table import END, START, api_rules, rules_markdown
from billing.tests.api_roles_support import END as END_HANDLER
from billing.tests.api_roles_support import NOW, ROLES, World, client_as

ALL = frozenset(ROLES)
MANAGE = frozenset({"owner", "admin", "api_key"})


@dataclass(frozen=True)
class Case:
    path: str
    method: str
    who: frozenset[str]  # who may
    ok: int  # the answer when allowed
    body: Callable[[World], dict] | None = None  # the query string of a GET
    ids: dict[str, str] = field(default_factory=dict)  # placeholder → World row, if not OBJECTS
    needs: tuple[str, ...] = ()  # rows that must exist first

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


# The row each placeholder names, by the path up to it.
OBJECTS = {
    "/api/chatbots/{id}": "bot",
    "/api/chatbots/{chatbot_id}": "bot",
    "/api/chatbots/{chatbot_id}/steps/{id}": "step",
    "/api/chatbots/conversations/{id}": "conversation",
    "/api/chatbots/conversations/{conversation_id}": "conversation",
    "/api/chatbots/conversations/{conversation_id}/messages/{id}": "message",
    "/api/clientes/{id}": "cliente",
    "/api/pedidos/categorias/{id}": "categoria",
    "/api/pedidos/produtos/{id}": "produto",
    "/api/pedidos/pedidos/{id}": "pedido",
    "/api/pedidos/configuracao/{id}": "configuracao_pedidos",
    "/api/pedidos/taxas-entrega/{id}": "taxa_entrega",
    "/api/agenda/servicos/{id}": "servico",
    "/api/agenda/agendamentos/{id}": "agendamento",
    "/api/compliance/audit/{id}": "audit_entry",
    "/api/chatbots/conversations/{conversation_id}/notes/{id}": "note",
    "/api/inbox/queues/{id}": "queue",
    "/api/inbox/quick-replies/{id}": "quick_reply",
    "/api/campaigns/{id}": "campaign",
    "/api/campaigns/scheduled-messages/{id}": "scheduled_message",
    "/api/integrations/webhooks/{id}": "webhook",
    "/api/integrations/deliveries/{id}": "delivery",
}
OPEN = {"id": "open_conversation"}  # a conversation waiting for a person (inbox)


def _phone(w: World) -> dict:
    return {"phone": w.cliente.telefone}


MATRIX = [
    # Bots: configuration and the provider's secrets.
    Case("/api/chatbots/", "GET", ALL, 200),
    Case("/api/chatbots/", "POST", MANAGE, 201, lambda w: {"name": "Loja", "provider": "stub"}),
    Case("/api/chatbots/{id}/", "GET", ALL, 200),
    Case("/api/chatbots/{id}/", "PUT", MANAGE, 200, lambda w: {"name": "P2", "provider": "stub"}),
    Case(
        "/api/chatbots/{id}/",
        "PATCH",
        MANAGE,
        200,
        lambda w: {"access_token": "TOKEN-NOVO", "app_secret": "SEGREDO-NOVO"},
    ),
    Case("/api/chatbots/{id}/", "DELETE", MANAGE, 204),
    Case("/api/chatbots/{id}/test-connection/", "POST", MANAGE, 200),
    Case("/api/chatbots/{chatbot_id}/steps/", "GET", ALL, 200),
    Case(
        "/api/chatbots/{chatbot_id}/steps/",
        "POST",
        MANAGE,
        201,
        lambda w: {"code": "inicio", "handler_path": END_HANDLER},
    ),
    Case("/api/chatbots/{chatbot_id}/steps/{id}/", "GET", ALL, 200),
    Case(
        "/api/chatbots/{chatbot_id}/steps/{id}/",
        "PUT",
        MANAGE,
        200,
        lambda w: {"code": "fim", "handler_path": END_HANDLER, "order": 2},
    ),
    Case("/api/chatbots/{chatbot_id}/steps/{id}/", "PATCH", MANAGE, 200, lambda w: {"order": 3}),
    Case("/api/chatbots/{chatbot_id}/steps/{id}/", "DELETE", MANAGE, 204),
    # Conversations: attendants take them over, hand them back, close them.
    Case("/api/chatbots/conversations/", "GET", ALL, 200),
    Case("/api/chatbots/conversations/{id}/", "GET", ALL, 200),
    Case("/api/chatbots/conversations/{id}/", "PATCH", ALL, 200, lambda w: {"status": "human"}),
    Case("/api/chatbots/conversations/{conversation_id}/messages/", "GET", ALL, 200),
    Case("/api/chatbots/conversations/{conversation_id}/messages/{id}/", "GET", ALL, 200),
    # The attendant inbox: every member works conversations; managers configure queues.
    Case(
        "/api/chatbots/conversations/{conversation_id}/messages/",
        "POST",
        ALL,
        201,
        lambda w: {"text": "Olá, aqui é da equipe."},
        ids={"conversation_id": "open_conversation"},
    ),
    Case("/api/chatbots/conversations/{conversation_id}/notes/", "GET", ALL, 200),
    Case(
        "/api/chatbots/conversations/{conversation_id}/notes/",
        "POST",
        ALL,
        201,
        lambda w: {"text": "Cliente pediu retorno."},
    ),
    Case("/api/chatbots/conversations/{conversation_id}/notes/{id}/", "GET", ALL, 200),
    Case("/api/chatbots/conversations/{id}/take/", "POST", ALL, 200, ids=OPEN),
    Case(
        "/api/chatbots/conversations/{id}/assign/",
        "POST",
        ALL,
        200,
        lambda w: {"user": None},
        ids=OPEN,
    ),
    Case("/api/chatbots/conversations/{id}/close/", "POST", ALL, 200, ids=OPEN),
    Case("/api/chatbots/conversations/{id}/return-to-bot/", "POST", ALL, 200, ids=OPEN),
    Case("/api/inbox/queues/", "GET", ALL, 200),
    Case(
        "/api/inbox/queues/", "POST", MANAGE, 201, lambda w: {"name": "Suporte", "slug": "suporte"}
    ),
    Case("/api/inbox/queues/{id}/", "GET", ALL, 200),
    Case(
        "/api/inbox/queues/{id}/",
        "PUT",
        MANAGE,
        200,
        lambda w: {"name": "Vendas 2", "slug": "vendas"},
    ),
    Case("/api/inbox/queues/{id}/", "PATCH", MANAGE, 200, lambda w: {"auto_assign": True}),
    Case("/api/inbox/queues/{id}/", "DELETE", MANAGE, 204),
    Case("/api/inbox/quick-replies/", "GET", ALL, 200),
    Case(
        "/api/inbox/quick-replies/",
        "POST",
        MANAGE,
        201,
        lambda w: {"shortcut": "pix", "text": "Chave"},
    ),
    Case("/api/inbox/quick-replies/{id}/", "GET", ALL, 200),
    Case(
        "/api/inbox/quick-replies/{id}/",
        "PUT",
        MANAGE,
        200,
        lambda w: {"shortcut": "oi", "text": "Oi!"},
    ),
    Case("/api/inbox/quick-replies/{id}/", "PATCH", MANAGE, 200, lambda w: {"text": "Olá!!"}),
    Case("/api/inbox/quick-replies/{id}/", "DELETE", MANAGE, 204),
    # Customers: attendants correct names, phones and tags; they neither add nor delete.
    Case("/api/clientes/", "GET", ALL, 200),
    Case(
        "/api/clientes/",
        "POST",
        MANAGE,
        201,
        lambda w: {"nome": "João", "telefone": "11987650000"},
    ),
    Case("/api/clientes/{id}/", "GET", ALL, 200),
    Case(
        "/api/clientes/{id}/",
        "PUT",
        ALL,
        200,
        lambda w: {"nome": "Maria Souza", "telefone": "5511987654321", "tags": ["vip"]},
    ),
    Case("/api/clientes/{id}/", "PATCH", ALL, 200, lambda w: {"tags": ["vip", "delivery"]}),
    Case("/api/clientes/{id}/", "DELETE", MANAGE, 204),
    # Catalog: configuration.
    Case("/api/pedidos/categorias/", "GET", ALL, 200),
    Case("/api/pedidos/categorias/", "POST", MANAGE, 201, lambda w: {"nome": "Bebidas"}),
    Case("/api/pedidos/categorias/{id}/", "GET", ALL, 200),
    Case("/api/pedidos/categorias/{id}/", "PUT", MANAGE, 200, lambda w: {"nome": "Massas"}),
    Case("/api/pedidos/categorias/{id}/", "PATCH", MANAGE, 200, lambda w: {"ativo": False}),
    Case("/api/pedidos/categorias/{id}/", "DELETE", MANAGE, 204),
    Case("/api/pedidos/produtos/", "GET", ALL, 200),
    Case(
        "/api/pedidos/produtos/",
        "POST",
        MANAGE,
        201,
        lambda w: {"categoria": w.categoria.pk, "nome": "Suco", "preco": "8.00"},
    ),
    Case("/api/pedidos/produtos/{id}/", "GET", ALL, 200),
    Case(
        "/api/pedidos/produtos/{id}/",
        "PUT",
        MANAGE,
        200,
        lambda w: {"categoria": w.categoria.pk, "nome": "Calabresa", "preco": "48.00"},
    ),
    Case("/api/pedidos/produtos/{id}/", "PATCH", MANAGE, 200, lambda w: {"preco": "50.00"}),
    Case("/api/pedidos/produtos/{id}/", "DELETE", MANAGE, 204),
    # Orders: attendants move them along; placing one is for managers and integrations.
    Case("/api/pedidos/pedidos/", "GET", ALL, 200),
    Case(
        "/api/pedidos/pedidos/",
        "POST",
        MANAGE,
        201,
        lambda w: {"cliente": w.cliente.pk, "itens": [{"produto": w.produto.pk, "quantidade": 1}]},
    ),
    Case("/api/pedidos/pedidos/{id}/", "GET", ALL, 200),
    Case("/api/pedidos/pedidos/{id}/status/", "POST", ALL, 200, lambda w: {"status": "em_preparo"}),
    # How the tenant takes orders (minimum, hours, Pix key) and delivery fees: configuration.
    Case("/api/pedidos/configuracao/", "GET", ALL, 200),
    Case("/api/pedidos/configuracao/", "POST", MANAGE, 201, lambda w: {"valor_minimo": "25.00"}),
    Case("/api/pedidos/configuracao/{id}/", "GET", ALL, 200),
    Case(
        "/api/pedidos/configuracao/{id}/", "PUT", MANAGE, 200, lambda w: {"valor_minimo": "30.00"}
    ),
    Case(
        "/api/pedidos/configuracao/{id}/", "PATCH", MANAGE, 200, lambda w: {"valor_minimo": "15.00"}
    ),
    Case("/api/pedidos/taxas-entrega/", "GET", ALL, 200),
    Case(
        "/api/pedidos/taxas-entrega/",
        "POST",
        MANAGE,
        201,
        lambda w: {"bairro": "Savassi", "valor": "7.00"},
    ),
    Case("/api/pedidos/taxas-entrega/{id}/", "GET", ALL, 200),
    Case(
        "/api/pedidos/taxas-entrega/{id}/",
        "PUT",
        MANAGE,
        200,
        lambda w: {"bairro": "Centro", "valor": "6.00"},
    ),
    Case("/api/pedidos/taxas-entrega/{id}/", "PATCH", MANAGE, 200, lambda w: {"valor": "4.50"}),
    Case("/api/pedidos/taxas-entrega/{id}/", "DELETE", MANAGE, 204),
    # Agenda: services are configuration; attendants confirm, cancel, remind, mark attendance.
    Case(
        "/api/agenda/disponibilidade/",
        "GET",
        ALL,
        200,
        lambda w: {"servico": w.servico.pk, "data": "2030-03-05"},
        needs=("agenda",),
    ),
    # The agenda's insights are the business's own figures: owners and admins.
    Case("/api/agenda/insights/", "GET", MANAGE, 200, lambda w: {"semanas": 4}),
    Case("/api/agenda/servicos/", "GET", ALL, 200),
    Case(
        "/api/agenda/servicos/",
        "POST",
        MANAGE,
        201,
        lambda w: {"nome": "Limpeza", "duracao_minutos": 40},
    ),
    Case("/api/agenda/servicos/{id}/", "GET", ALL, 200),
    Case(
        "/api/agenda/servicos/{id}/",
        "PUT",
        MANAGE,
        200,
        lambda w: {"nome": "Consulta longa", "duracao_minutos": 60},
    ),
    Case("/api/agenda/servicos/{id}/", "PATCH", MANAGE, 200, lambda w: {"ativo": False}),
    Case("/api/agenda/servicos/{id}/", "DELETE", MANAGE, 204),
    Case("/api/agenda/agendamentos/", "GET", ALL, 200),
    Case(
        "/api/agenda/agendamentos/",
        "POST",
        MANAGE,
        201,
        lambda w: {
            "cliente": w.cliente.pk,
            "servico": w.servico.pk,
            "inicio": "2030-03-05T14:00:00-03:00",
        },
        needs=("agenda",),
    ),
    Case("/api/agenda/agendamentos/{id}/", "GET", ALL, 200),
    Case("/api/agenda/agendamentos/{id}/confirmar/", "POST", ALL, 200),
    Case("/api/agenda/agendamentos/{id}/cancelar/", "POST", ALL, 200, lambda w: {"motivo": "x"}),
    Case("/api/agenda/agendamentos/{id}/lembrar/", "POST", ALL, 202, needs=("bot",)),
    Case(
        "/api/agenda/agendamentos/{id}/presenca/",
        "POST",
        ALL,
        200,
        lambda w: {"compareceu": True},
        ids={"id": "agendamento_passado"},
    ),
    Case(
        "/api/agenda/agendamentos/{id}/reagendar/",
        "POST",
        MANAGE,
        201,
        lambda w: {"inicio": "2030-03-05T11:00:00-03:00"},
        needs=("agenda",),
    ),
    # LGPD and the audit log: owners and admins only, as in the admin.
    Case("/api/compliance/export/", "POST", MANAGE, 200, _phone),
    Case("/api/compliance/erase/", "POST", MANAGE, 200, lambda w: {**_phone(w), "confirm": True}),
    Case(
        "/api/compliance/consent/",
        "POST",
        MANAGE,
        200,
        lambda w: {**_phone(w), "opted_out": True},
    ),
    Case("/api/compliance/audit/", "GET", MANAGE, 200),
    Case("/api/compliance/audit/{id}/", "GET", MANAGE, 200),
    # Campaigns: owners and admins run them; everyone reads them and schedules one message.
    Case("/api/campaigns/", "GET", ALL, 200),
    Case(
        "/api/campaigns/",
        "POST",
        MANAGE,
        201,
        lambda w: {"name": "Maio", "chatbot": w.bot.pk, "template": w.template.pk},
    ),
    Case("/api/campaigns/{id}/", "GET", ALL, 200),
    Case("/api/campaigns/{id}/export/", "GET", ALL, 200),
    Case("/api/campaigns/{id}/preview/", "GET", ALL, 200),
    Case("/api/campaigns/{id}/start/", "POST", MANAGE, 200),
    Case("/api/campaigns/{id}/pause/", "POST", MANAGE, 200, ids={"id": "running_campaign"}),
    Case("/api/campaigns/{id}/resume/", "POST", MANAGE, 200, ids={"id": "paused_campaign"}),
    Case("/api/campaigns/{id}/cancel/", "POST", MANAGE, 200),
    Case("/api/campaigns/{id}/retry-failed/", "POST", MANAGE, 200),
    Case(
        "/api/campaigns/audience-count/",
        "POST",
        ALL,
        200,
        lambda w: {"audience": {"tags": ["vip"]}},
    ),
    Case(
        "/api/campaigns/imports/",
        "POST",
        MANAGE,
        201,
        lambda w: {"content": "telefone,consentimento\n11987650009,site\n"},
    ),
    Case("/api/campaigns/scheduled-messages/", "GET", ALL, 200),
    Case(
        "/api/campaigns/scheduled-messages/",
        "POST",
        ALL,
        201,
        lambda w: {
            "chatbot": w.bot.pk,
            "cliente": w.cliente.pk,
            "text": "Oi",
            "send_at": "2030-03-04T12:00:00-03:00",
        },
    ),
    Case("/api/campaigns/scheduled-messages/{id}/", "GET", ALL, 200),
    Case("/api/campaigns/scheduled-messages/{id}/cancel/", "POST", ALL, 200),
    # Event webhooks: the integration's business, reads included (URLs, customers' data).
    Case("/api/integrations/webhooks/", "GET", MANAGE, 200),
    Case(
        "/api/integrations/webhooks/",
        "POST",
        MANAGE,
        201,
        lambda w: {
            "url": "https://crm.example.com/e",
            "events": ["order.created"],
            "secret": "segredo-do-integrador-123",
        },
    ),
    Case("/api/integrations/webhooks/{id}/", "GET", MANAGE, 200),
    Case(
        "/api/integrations/webhooks/{id}/",
        "PUT",
        MANAGE,
        200,
        lambda w: {"url": "https://erp.example.com/v2", "events": ["order.status"]},
    ),
    Case("/api/integrations/webhooks/{id}/", "PATCH", MANAGE, 200, lambda w: {"active": False}),
    Case("/api/integrations/webhooks/{id}/", "DELETE", MANAGE, 204),
    Case("/api/integrations/deliveries/", "GET", MANAGE, 200),
    Case("/api/integrations/deliveries/{id}/", "GET", MANAGE, 200),
    Case("/api/integrations/deliveries/{id}/redeliver/", "POST", MANAGE, 202),
    # A customer's next best action: agents use it in the inbox.
    Case("/api/recommendations/", "GET", ALL, 200, lambda w: {"cliente": w.cliente.pk}),
    # The numbers: everyone's work.
    Case("/api/analytics/summary/", "GET", ALL, 200),
    Case("/api/analytics/history/", "GET", ALL, 200),
    Case("/api/analytics/history.csv", "GET", ALL, 200),
]


def url_of(case: Case, world: World) -> str:
    def fill(match: re.Match) -> str:
        name = match.group(1)
        row = case.ids.get(name) or OBJECTS[case.path[: match.end()]]
        return str(getattr(world, row).pk)

    return re.sub(r"\{(\w+)\}", fill, case.path)


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(NOW, tick=False):
        yield


def test_the_matrix_covers_every_endpoint_with_the_rules_the_views_declare():
    def who(roles: frozenset[str]) -> frozenset[str]:
        return frozenset(roles | ({"api_key"} if API_KEY_ROLE in roles else set()))

    in_code = {(r.path, r.method): who(r.roles) for r in api_rules()}
    in_matrix = {(c.path, c.method): c.who for c in MATRIX}

    assert len(in_matrix) == len(MATRIX), "an endpoint is twice in the matrix"
    assert sorted(set(in_code) - set(in_matrix)) == [], "endpoints missing from the matrix"
    assert sorted(set(in_matrix) - set(in_code)) == [], "endpoints the URLconf does not serve"
    differ = {
        key: (in_matrix[key], in_code[key]) for key in in_code if in_code[key] != in_matrix[key]
    }
    assert differ == {}, "(matrix, code) disagree"


def test_the_readme_table_is_the_codes_rules():
    readme = Path(settings.BASE_DIR, "README.md").read_text(encoding="utf-8")
    assert START in readme and END in readme, f"README.md lost the {START} … {END} markers"
    shown = readme.split(START, 1)[1].split(END, 1)[0].strip()
    expected = rules_markdown()
    assert shown == expected, f"Replace README.md's table between the markers with:\n{expected}"


@pytest.mark.parametrize("who", ROLES)
@pytest.mark.parametrize("case", MATRIX, ids=str)
def test_each_role_gets_what_the_matrix_says(case, who, tenant):
    world = World(tenant)
    for row in case.needs:
        getattr(world, row)
    url = url_of(case, world)
    body = case.body(world) if case.body else None
    client = client_as(tenant, who)

    if case.method == "GET":
        response = client.get(url, body or {})
    else:
        response = getattr(client, case.method.lower())(url, body, format="json")

    if who in case.who:
        assert response.status_code == case.ok, response.content
    else:
        assert response.status_code == 403, response.content
        detail = response.json()["detail"]
        assert "Atendente" in detail and "Proprietário ou Administrador" in detail, detail
