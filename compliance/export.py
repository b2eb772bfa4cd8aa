"""LGPD access requests (art. 18, II): everything a tenant holds on one person.

`person_export` gathers the customer record(s), conversations and messages, orders and
their items, appointments and their feedback, the consent history and the audit entries
about them, within ONE tenant, as a JSON-able document. `export_zip` turns it into a ZIP
of CSV files (one per table) plus the JSON, for people who open it in a spreadsheet.
"""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Q
from django.utils import timezone

from chatbots.models import Conversation, Message
from clientes.models import Cliente
from compliance import audit
from compliance.models import AuditLog, ConsentEvent
from compliance.selectors import agenda_models, identity_check, person_clientes
from config import csv_safe
from media import services as media_services
from pedidos.models import ItemPedido, Pedido

CLIENTE_FIELDS = (
    "id",
    "nome",
    "telefone",
    "wa_id",
    "whatsapp_user_id",
    "tags",
    "optout_em",
    "criado_em",
    "atualizado_em",
)
CONVERSATION_FIELDS = (
    "id",
    "chatbot__name",
    "status",
    "current_step",
    "last_customer_message_at",
    "created_at",
    "updated_at",
)
MESSAGE_FIELDS = (
    "id",
    "conversation_id",
    "direction",
    "type",
    "text",
    "payload",
    "status",
    "error_code",
    "created_at",
    "sent_at",
    "delivered_at",
    "read_at",
)
PEDIDO_FIELDS = (
    "id",
    "status",
    "total",
    "observacoes",
    "modo_entrega",
    "endereco_entrega",
    "bairro",
    "latitude",
    "longitude",
    "forma_pagamento",
    "troco_para",
    "taxa_entrega",
    "criado_em",
    "confirmado_em",
    "atualizado_em",
)
ITEM_FIELDS = ("id", "pedido_id", "produto__nome", "quantidade", "preco_unitario")
AGENDAMENTO_FIELDS = (
    "id",
    "servico__nome",
    "inicio",
    "fim",
    "status",
    "origem",
    "observacoes",
    "compareceu",
    "criado_em",
)
FEEDBACK_FIELDS = ("id", "agendamento_id", "nota", "comentario", "recebido_em")
CONSENT_FIELDS = ("id", "opted_out", "source", "actor_label", "detail", "occurred_at")
AUDIT_FIELDS = (
    "id",
    "created_at",
    "action",
    "actor_label",
    "object_type",
    "object_id",
    "changes",
)


def _rows(queryset, fields: tuple[str, ...]) -> list[dict[str, Any]]:
    return [
        {name.replace("__", "_"): value for name, value in row.items()}
        for row in queryset.values(*fields)
    ]


def _cliente_document(cliente: Cliente) -> dict[str, Any]:
    (record,) = _rows(Cliente.objects.filter(pk=cliente.pk), CLIENTE_FIELDS)
    conversations = _rows(
        Conversation.objects.filter(cliente=cliente).order_by("id"), CONVERSATION_FIELDS
    )
    messages = _rows(
        Message.objects.filter(conversation__cliente=cliente).order_by("conversation_id", "id"),
        MESSAGE_FIELDS,
    )
    for conversation in conversations:
        conversation["messages"] = [
            m for m in messages if m["conversation_id"] == conversation["id"]
        ]
    pedidos = _rows(Pedido.objects.filter(cliente=cliente).order_by("id"), PEDIDO_FIELDS)
    itens = _rows(
        ItemPedido.objects.filter(pedido__cliente=cliente).order_by("pedido_id", "id"),
        ITEM_FIELDS,
    )
    for pedido in pedidos:
        pedido["itens"] = [i for i in itens if i["pedido_id"] == pedido["id"]]
    agendamentos: list[dict[str, Any]] = []
    Agendamento, FeedbackEvent = agenda_models()
    if Agendamento is not None:
        agendamentos = _rows(
            Agendamento.objects.filter(cliente=cliente).order_by("inicio", "id"),
            AGENDAMENTO_FIELDS,
        )
        feedback = {
            f["agendamento_id"]: f
            for f in _rows(
                FeedbackEvent.objects.filter(agendamento__cliente=cliente), FEEDBACK_FIELDS
            )
        }
        for agendamento in agendamentos:
            agendamento["feedback"] = feedback.get(agendamento["id"])
    history = _rows(
        ConsentEvent.objects.filter(cliente=cliente).order_by("occurred_at", "id"),
        CONSENT_FIELDS,
    )
    refs = Q(object_type="clientes.cliente", object_id=str(cliente.pk))
    refs |= Q(object_type="pedidos.pedido", object_id__in=[str(p["id"]) for p in pedidos])
    refs |= Q(
        object_type="chatbots.conversation", object_id__in=[str(c["id"]) for c in conversations]
    )
    if agendamentos:
        refs |= Q(
            object_type="agenda.agendamento",
            object_id__in=[str(a["id"]) for a in agendamentos],
        )
    entries = _rows(
        AuditLog.objects.filter(refs, tenant_id=cliente.tenant_id).order_by("created_at", "id"),
        AUDIT_FIELDS,
    )
    files = media_services.files_for_export([m["id"] for m in messages])
    return {
        "cliente": record,
        "consentimento": {
            "recusou_mensagens": record["optout_em"] is not None,
            "recusou_em": record["optout_em"],
            "historico": history,
        },
        "conversas": conversations,
        "pedidos": pedidos,
        "agendamentos": agendamentos,
        "auditoria": entries,
        # The files they sent (photos, voice notes, PDFs): listed here, the bytes in the ZIP.
        "arquivos": files,
    }


def person_export(
    *,
    tenant,
    phone: str = "",
    whatsapp_user_id: str = "",
    actor=None,
    output: str = "json",
) -> dict[str, Any] | None:
    """The person's data in `tenant` as a JSON-able dict, or None when the tenant holds
    nothing on them. Audited (who asked, in which format; never what was exported)."""
    phone, whatsapp_user_id = identity_check(phone=phone, whatsapp_user_id=whatsapp_user_id)
    clientes = person_clientes(tenant_id=tenant.pk, phone=phone, whatsapp_user_id=whatsapp_user_id)
    if not clientes:
        return None
    return _export(
        tenant=tenant,
        clientes=clientes,
        query={"telefone": phone, "whatsapp_user_id": whatsapp_user_id},
        actor=actor,
        output=output,
    )


def cliente_export(*, cliente: Cliente, actor=None, output: str = "json") -> dict[str, Any]:
    """`person_export` of the person behind one customer row (the admin action): that row
    plus any other row of the same phone or WhatsApp user id."""
    others = person_clientes(
        tenant_id=cliente.tenant_id,
        phone=cliente.telefone,
        whatsapp_user_id=cliente.whatsapp_user_id,
    )
    clientes = sorted({c.pk: c for c in [cliente, *others]}.values(), key=lambda c: c.pk)
    return _export(
        tenant=cliente.tenant,
        clientes=clientes,
        query={"cliente_id": cliente.pk},
        actor=actor,
        output=output,
    )


def _export(*, tenant, clientes: list[Cliente], query: dict, actor, output: str) -> dict[str, Any]:
    document = {
        "gerado_em": timezone.now(),
        "empresa": {"nome": tenant.name, "identificador": tenant.slug},
        "pedido_de_acesso": query,
        "titular": [_cliente_document(cliente) for cliente in clientes],
    }
    for cliente in clientes:
        audit.record(
            tenant=tenant,
            actor=actor,
            action="export",
            obj=cliente,
            changes={"output": output},
        )
    # Through the encoder once, so callers get plain JSON types (dates as ISO strings).
    return json.loads(json.dumps(document, cls=DjangoJSONEncoder))


# --- ZIP of CSV files ----------------------------------------------------------------------


def _tables(document: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    tables: dict[str, list[dict[str, Any]]] = {
        "clientes": [],
        "consentimento": [],
        "conversas": [],
        "mensagens": [],
        "pedidos": [],
        "itens_pedido": [],
        "agendamentos": [],
        "avaliacoes": [],
        "auditoria": [],
    }
    for person in document["titular"]:
        cliente_id = person["cliente"]["id"]
        tables["clientes"].append(person["cliente"])
        for event in person["consentimento"]["historico"]:
            tables["consentimento"].append({"cliente_id": cliente_id, **event})
        for conversation in person["conversas"]:
            tables["conversas"].append(
                {
                    "cliente_id": cliente_id,
                    **{k: v for k, v in conversation.items() if k != "messages"},
                }
            )
            tables["mensagens"].extend(conversation["messages"])
        for pedido in person["pedidos"]:
            tables["pedidos"].append(
                {"cliente_id": cliente_id, **{k: v for k, v in pedido.items() if k != "itens"}}
            )
            tables["itens_pedido"].extend(pedido["itens"])
        for agendamento in person["agendamentos"]:
            feedback = agendamento.get("feedback")
            tables["agendamentos"].append(
                {
                    "cliente_id": cliente_id,
                    **{k: v for k, v in agendamento.items() if k != "feedback"},
                }
            )
            if feedback:
                tables["avaliacoes"].append(feedback)
        tables["auditoria"].extend(person["auditoria"])
    return tables


def _csv(rows: list[dict[str, Any]]) -> bytes:
    """Excel-friendly for Brazil: UTF-8 with BOM (or accents break) and ";" between columns
    (the comma is the decimal separator in pt-BR spreadsheets). Text that a spreadsheet
    would run as a formula (a customer's own name can be one) is written as text
    (config.csv_safe)."""
    buffer = io.StringIO()
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    writer = csv_safe.DictWriter(buffer, fieldnames=columns, delimiter=";", extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow(
            {
                k: json.dumps(v, ensure_ascii=False) if isinstance(v, dict | list) else v
                for k, v in row.items()
            }
        )
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def export_zip(document: dict[str, Any]) -> bytes:
    """The document as a ZIP: one CSV per table and the full `dados.json`."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "dados.json", json.dumps(document, ensure_ascii=False, indent=2, cls=DjangoJSONEncoder)
        )
        for person in document["titular"]:
            for f in person.get("arquivos", []):
                content = media_services.attachment_bytes(message_id=f["message_id"])
                if content is not None:
                    archive.writestr(f["arquivo"], content)
        for name, rows in _tables(document).items():
            archive.writestr(f"{name}.csv", _csv(rows))
    return out.getvalue()
