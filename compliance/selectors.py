"""Reads for LGPD requests: who is "this person" within a tenant, and what points at them."""

from __future__ import annotations

from django.apps import apps
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils.translation import gettext as _

from clientes.models import Cliente
from clientes.phones import InvalidPhone, normalize_phone, phone_variants
from compliance.models import AnonymousCustomer


def identity_check(*, phone: str = "", whatsapp_user_id: str = "") -> tuple[str, str]:
    """Validate how a person is named in a request: (canonical phone or "", user id or "")."""
    phone, whatsapp_user_id = (phone or "").strip(), (whatsapp_user_id or "").strip()
    if not phone and not whatsapp_user_id:
        raise ValidationError(
            {"phone": _("Informe o telefone ou o ID de usuário do WhatsApp da pessoa.")}
        )
    if phone:
        try:
            phone = normalize_phone(phone)
        except InvalidPhone:
            raise ValidationError(
                {"phone": _("Telefone inválido: informe DDD e número, ex.: (11) 98765-4321.")}
            ) from None
    return phone, whatsapp_user_id


def person_clientes(
    *, tenant_id: int, phone: str = "", whatsapp_user_id: str = ""
) -> list[Cliente]:
    """The tenant's customer rows of one person: by phone in any ninth-digit spelling (also
    as WhatsApp id) or by WhatsApp user id. Usually one row, two when a username-only
    contact (user id, no phone) was later seen with the phone."""
    query = Q()
    if phone:
        variants = phone_variants(phone)
        query |= Q(telefone__in=variants) | Q(wa_id__in=variants)
    if whatsapp_user_id:
        query |= Q(whatsapp_user_id=whatsapp_user_id)
    if not query:
        return []
    placeholder = AnonymousCustomer.objects.filter(tenant_id=tenant_id).values("cliente_id")
    return list(
        Cliente.objects.filter(query, tenant_id=tenant_id)
        .exclude(pk__in=placeholder)
        .order_by("pk")
    )


def contact_keys(cliente: Cliente, *, extra: tuple[str, ...] = ()) -> set[str]:
    """Every string the contact may appear as in InboundEvent.contact_key."""
    keys = {k for k in (*extra, cliente.whatsapp_user_id) if k}
    for raw in (cliente.telefone, cliente.wa_id, *extra):
        if not raw:
            continue
        try:
            keys.update(phone_variants(raw))
        except InvalidPhone:
            keys.add(raw)
    return keys


def agenda_models():
    """(Agendamento, FeedbackEvent), or (None, None) when the agenda app is not installed."""
    try:
        return apps.get_model("agenda", "Agendamento"), apps.get_model("agenda", "FeedbackEvent")
    except LookupError:
        return None, None
