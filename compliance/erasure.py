"""LGPD erasure (art. 18, VI): delete a person's data, keep the business's records anonymous.

For each customer row of the person in the tenant, in one transaction:

* conversations, their messages and the raw inbound events of the contact: deleted;
* confirmed orders and appointments, which the business must keep (tax, accounting):
  moved to the tenant's anonymous placeholder customer, their free text (notes, delivery
  address, feedback comment) blanked; totals, items, dates and statuses kept. Open carts
  are not records: deleted;
* the consent history, reactivation sends and the customer row: deleted;
* audit entries and admin history about them: the diffs and names are redacted (the
  entries stay: who did what, when);
* an OptOutMarker (HMAC of the phone / WhatsApp user id) is kept so the person is never
  messaged proactively again, and a customer created again with that phone starts opted out.

Idempotent: a second request finds nothing and changes nothing. Audited with counts only,
never with what was erased.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from chatbots.models import Conversation, InboundEvent, Message
from clientes.models import Cliente
from clientes.phones import InvalidPhone, phone_variants
from compliance import audit, consent
from compliance.models import AnonymousCustomer, AuditLog
from compliance.selectors import agenda_models, contact_keys, identity_check, person_clientes
from media import services as media_services
from pedidos.models import Pedido
from pedidos.status import StatusPedido

logger = logging.getLogger(__name__)

REDACTED = {"redacted": "LGPD erasure"}
ERASED_REPR = "[dados apagados (LGPD)]"
# Free text on the records that are kept: may name people, addresses, health details.
PEDIDO_TEXT_FIELDS = ("observacoes", "endereco_entrega")
PEDIDO_LOCATION_FIELDS = ("latitude", "longitude")  # a WhatsApp location sent as the address
AGENDAMENTO_TEXT_FIELDS = ("observacoes",)
FEEDBACK_TEXT_FIELDS = ("comentario",)
MIN_NAME_CHARS = 4  # shorter names ("Ana") would match unrelated audit diffs


@dataclass
class ErasureResult:
    clientes: int = 0
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def erased(self) -> bool:
        return self.clientes > 0

    def add(self, key: str, n: int) -> None:
        self.counts[key] = self.counts.get(key, 0) + n


def anonymous_cliente(*, tenant) -> Cliente:
    """The tenant's placeholder customer for records kept after an erasure (created once)."""
    found = AnonymousCustomer.objects.select_related("cliente").filter(tenant=tenant).first()
    if found is not None:
        return found.cliente
    try:
        with transaction.atomic():
            cliente = Cliente.objects.create(
                tenant=tenant, nome=_("Cliente anônimo (dados apagados)")
            )
            AnonymousCustomer.objects.create(tenant=tenant, cliente=cliente)
            return cliente
    except IntegrityError:  # created concurrently by another erasure
        return AnonymousCustomer.objects.get(tenant=tenant).cliente


def _needles(cliente: Cliente, extra: tuple[str, ...]) -> list[str]:
    needles: set[str] = set()
    for raw in (cliente.telefone, cliente.wa_id, *extra):
        if raw:
            try:
                needles.update(phone_variants(raw))
            except InvalidPhone:
                needles.add(raw)
    if cliente.whatsapp_user_id:
        needles.add(cliente.whatsapp_user_id)
    if len(cliente.nome.strip()) >= MIN_NAME_CHARS:
        needles.add(cliente.nome.strip())
    return sorted(needles)


def _redact_history(
    *,
    tenant_id: int,
    gone: dict[type, list[int]],
    kept: dict[type, tuple[list[int], tuple[str, ...]]],
    needles: list[str],
    name: str,
) -> int:
    """Audit entries and admin LogEntries about the person: names and diffs redacted."""
    about_gone = Q()
    for model, ids in gone.items():
        if ids:
            about_gone |= Q(
                object_type=model._meta.label_lower, object_id__in=[str(i) for i in ids]
            )
    mentions = Q()
    for needle in needles:
        mentions |= Q(changes__icontains=needle)
    redacted = 0
    if about_gone or mentions:
        entries = AuditLog.objects.filter(about_gone | mentions, tenant_id=tenant_id)
        redacted = entries.exclude(changes=REDACTED)._erasure_redact(changes=REDACTED)
    # Kept records (orders, appointments): only their blanked free-text fields go.
    for model, (ids, fields) in kept.items():
        if not ids:
            continue
        about = AuditLog.objects.filter(
            tenant_id=tenant_id,
            object_type=model._meta.label_lower,
            object_id__in=[str(i) for i in ids],
        )
        for entry in about.only("pk", "changes"):
            if isinstance(entry.changes, dict) and any(f in entry.changes for f in fields):
                cleaned = {k: v for k, v in entry.changes.items() if k not in fields}
                AuditLog.objects.filter(pk=entry.pk)._erasure_redact(changes=cleaned or REDACTED)
                redacted += 1
    # Django's admin history names objects by str(obj), which for customers and their
    # conversations and appointments is the customer's name or phone.
    for model, ids in [*gone.items(), *((m, i) for m, (i, _f) in kept.items())]:
        if ids:
            LogEntry.objects.filter(
                content_type=ContentType.objects.get_for_model(model),
                object_id__in=[str(i) for i in ids],
            ).update(object_repr=ERASED_REPR, change_message="")
    # By phone or user id only: LogEntry has no tenant, and a name may be another person's.
    for needle in (n for n in needles if n != name):
        LogEntry.objects.filter(object_repr__icontains=needle).filter(
            content_type__app_label__in=["clientes", "chatbots", "pedidos", "agenda"]
        ).update(object_repr=ERASED_REPR)
    return redacted


def _erase_one(cliente: Cliente, *, placeholder: Cliente, extra: tuple[str, ...]) -> ErasureResult:
    result = ErasureResult(clientes=1)
    keys = contact_keys(cliente, extra=extra)
    needles = _needles(cliente, extra)
    conversation_ids = list(
        Conversation.objects.filter(cliente=cliente).values_list("pk", flat=True)
    )
    message_ids = list(
        Message.objects.filter(conversation_id__in=conversation_ids).values_list("pk", flat=True)
    )
    # The files they sent go with their messages: rows now, stored bytes on commit.
    result.add("files", media_services.attachments_delete(message_ids))
    result.add("messages", Message.objects.filter(pk__in=message_ids).delete()[0])
    result.add("conversations", Conversation.objects.filter(pk__in=conversation_ids).delete()[0])
    result.add(
        "inbound_events",
        InboundEvent.objects.filter(tenant_id=cliente.tenant_id, contact_key__in=keys).delete()[0],
    )

    carts = Pedido.objects.filter(cliente=cliente, status=StatusPedido.RASCUNHO)
    result.add("carts", carts.delete()[1].get(Pedido._meta.label, 0))
    pedido_ids = list(Pedido.objects.filter(cliente=cliente).values_list("pk", flat=True))
    result.add(
        "orders_anonymised",
        Pedido.objects.filter(pk__in=pedido_ids).update(
            cliente=placeholder,
            **dict.fromkeys(PEDIDO_TEXT_FIELDS, ""),
            **dict.fromkeys(PEDIDO_LOCATION_FIELDS, None),
        ),
    )
    kept: dict[type, tuple[list[int], tuple[str, ...]]] = {
        Pedido: (pedido_ids, PEDIDO_TEXT_FIELDS + PEDIDO_LOCATION_FIELDS)
    }
    Agendamento, FeedbackEvent = agenda_models()
    if Agendamento is not None:
        agendamento_ids = list(
            Agendamento.objects.filter(cliente=cliente).values_list("pk", flat=True)
        )
        result.add(
            "appointments_anonymised",
            Agendamento.objects.filter(pk__in=agendamento_ids).update(
                cliente=placeholder, **dict.fromkeys(AGENDAMENTO_TEXT_FIELDS, "")
            ),
        )
        feedback_ids = list(
            FeedbackEvent.objects.filter(agendamento_id__in=agendamento_ids).values_list(
                "pk", flat=True
            )
        )
        FeedbackEvent.objects.filter(pk__in=feedback_ids).update(
            **dict.fromkeys(FEEDBACK_TEXT_FIELDS, "")
        )
        kept[Agendamento] = (agendamento_ids, AGENDAMENTO_TEXT_FIELDS)
        kept[FeedbackEvent] = (feedback_ids, FEEDBACK_TEXT_FIELDS)

    result.add(
        "history_redacted",
        _redact_history(
            tenant_id=cliente.tenant_id,
            gone={Cliente: [cliente.pk], Conversation: conversation_ids, Message: message_ids},
            kept=kept,
            needles=needles,
            name=cliente.nome.strip(),
        ),
    )
    for raw in {cliente.telefone, cliente.wa_id, *extra} - {""}:
        consent.marker_add(tenant_id=cliente.tenant_id, telefone=raw)
    consent.marker_add(tenant_id=cliente.tenant_id, user_id=cliente.whatsapp_user_id)
    # Whatever else points at the customer (consent history, reactivation sends) cascades.
    Cliente.objects.filter(pk=cliente.pk).delete()
    return result


def person_erase(
    *, tenant, phone: str = "", whatsapp_user_id: str = "", actor=None
) -> ErasureResult:
    """Erase everything `tenant` holds on the person named by phone (any ninth-digit
    spelling) or WhatsApp user id. See the module docstring for what goes and what stays."""
    phone, whatsapp_user_id = identity_check(phone=phone, whatsapp_user_id=whatsapp_user_id)
    with transaction.atomic():
        clientes = person_clientes(
            tenant_id=tenant.pk, phone=phone, whatsapp_user_id=whatsapp_user_id
        )
        return _erase(
            tenant=tenant,
            clientes=clientes,
            phone=phone,
            whatsapp_user_id=whatsapp_user_id,
            actor=actor,
        )


def cliente_erase(*, cliente: Cliente, actor=None) -> ErasureResult:
    """`person_erase` of the person behind one customer row (the admin action): that row
    and any other row of the same phone or WhatsApp user id."""
    with transaction.atomic():
        others = person_clientes(
            tenant_id=cliente.tenant_id,
            phone=cliente.telefone,
            whatsapp_user_id=cliente.whatsapp_user_id,
        )
        clientes = sorted({c.pk: c for c in [cliente, *others]}.values(), key=lambda c: c.pk)
        return _erase(
            tenant=cliente.tenant,
            clientes=clientes,
            phone=cliente.telefone,
            whatsapp_user_id=cliente.whatsapp_user_id,
            actor=actor,
        )


def _erase(*, tenant, clientes, phone: str, whatsapp_user_id: str, actor) -> ErasureResult:
    extra = tuple(x for x in (phone,) if x)
    result = ErasureResult()
    placeholder = anonymous_cliente(tenant=tenant) if clientes else None
    for cliente in clientes:
        pk = cliente.pk
        one = _erase_one(cliente, placeholder=placeholder, extra=extra)
        result.clientes += 1
        for key, n in one.counts.items():
            result.add(key, n)
        audit.record(
            tenant=tenant,
            actor=actor,
            action="erase",
            object_type=Cliente._meta.label_lower,
            object_id=str(pk),
            changes={"counts": one.counts},
        )
    # Even when nothing is held (or it was erased before): the person asked not to be
    # contacted, so the marker must exist.
    consent.marker_add(tenant_id=tenant.pk, telefone=phone, user_id=whatsapp_user_id)
    if not clientes:
        audit.record(
            tenant=tenant,
            actor=actor,
            action="erase",
            object_type=Cliente._meta.label_lower,
            changes={"result": "nothing_held"},
        )
    logger.info(
        "personal data erased",
        extra={"tenant_id": tenant.pk, "clientes": result.clientes, "counts": result.counts},
    )
    return result
