"""Writes on customers. Phone numbers are always normalized here, never by callers."""

from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from billing.models import Tenant
from clientes.models import Cliente
from clientes.phones import InvalidPhone, normalize_phone


def cliente_clean_phone(*, tenant: Tenant, telefone: str, exclude_pk: int | None = None) -> str:
    """Normalize a phone typed by a person and check that no other cliente of the tenant has it.

    Returns the canonical digits ("" stays ""). Raises ValidationError keyed by "telefone",
    so forms (the admin) show it next to the field before anything is saved.
    """
    if not telefone:
        return ""
    try:
        telefone = normalize_phone(telefone)
    except InvalidPhone:
        raise ValidationError(
            {"telefone": _("Telefone inválido: informe DDD e número, ex.: (11) 98765-4321.")}
        ) from None
    # Canonical form carries the ninth digit, so any spelling of a stored number collides.
    qs = Cliente.objects.filter(tenant=tenant, telefone=telefone)
    if exclude_pk:
        qs = qs.exclude(pk=exclude_pk)
    if qs.exists():
        raise ValidationError({"telefone": _("Já existe um cliente com este telefone.")})
    return telefone


def _clean_tags(tags) -> list[str]:
    if tags is None:
        return []
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise ValidationError({"tags": _("Etiquetas devem ser uma lista de textos.")})
    return sorted({t.strip() for t in tags if t.strip()})


def cliente_create(
    *, tenant: Tenant, nome: str = "", telefone: str = "", tags=None, idioma: str = ""
) -> Cliente:
    telefone = cliente_clean_phone(tenant=tenant, telefone=telefone)
    cliente = Cliente.objects.create(
        tenant=tenant, nome=nome, telefone=telefone, tags=_clean_tags(tags), idioma=idioma
    )
    _created(cliente)
    return cliente


# What other apps do the moment a customer is created, registered at start-up: compliance
# (ComplianceConfig.ready) opts out someone whose data was erased on request (LGPD) when they
# come back. Clientes sits at the bottom of the layers and imports none of those apps.
_created_hooks: list[Callable[..., object]] = []


def cliente_created_hook_register(hook: Callable[..., object]) -> None:
    """Call `hook(cliente=...)` right after every customer is created, in its transaction."""
    if hook not in _created_hooks:
        _created_hooks.append(hook)


def _created(cliente: Cliente) -> None:
    for hook in _created_hooks:
        hook(cliente=cliente)


def clientes_created(clientes: list[Cliente]) -> None:
    """Run the created hooks for customers inserted in bulk (chatbots.processor inserts a
    batch's new customers in one statement), in the caller's transaction."""
    for cliente in clientes:
        _created(cliente)


def cliente_update(*, cliente: Cliente, **changes) -> Cliente:
    if "telefone" in changes:
        changes["telefone"] = cliente_clean_phone(
            tenant=cliente.tenant, telefone=changes["telefone"], exclude_pk=cliente.pk
        )
    if "tags" in changes:
        changes["tags"] = _clean_tags(changes["tags"])
    for field, value in changes.items():
        setattr(cliente, field, value)
    cliente.save()
    return cliente


def cliente_upsert_from_whatsapp(
    *, tenant: Tenant, wa_id: str = "", user_id: str = "", nome: str = ""
) -> Cliente:
    """Find or create the customer behind an inbound message.

    Identity is the phone (any ninth-digit spelling) or, when Meta omits the phone
    (usernames, 2026), the business-scoped user id. Safe under concurrent inbound
    messages from the same new customer: the unique constraint decides, we re-read.
    """
    telefone = normalize_phone(wa_id) if wa_id else ""
    if not telefone and not user_id:
        raise ValidationError(_("Mensagem sem telefone nem ID de usuário do WhatsApp."))
    for _attempt in range(2):
        cliente = None
        if telefone:
            cliente = Cliente.objects.filter(tenant=tenant, telefone=telefone).first()
        if cliente is None and user_id:
            cliente = Cliente.objects.filter(tenant=tenant, whatsapp_user_id=user_id).first()
        if cliente is not None:
            changed = []
            for field, value in (
                ("telefone", telefone),
                ("wa_id", wa_id),
                ("whatsapp_user_id", user_id),
            ):
                if value and getattr(cliente, field) != value:
                    setattr(cliente, field, value)
                    changed.append(field)
            if nome and not cliente.nome:
                cliente.nome = nome
                changed.append("nome")
            if changed:
                cliente.save(update_fields=[*changed, "atualizado_em"])
            return cliente
        try:
            with transaction.atomic():
                cliente = Cliente.objects.create(
                    tenant=tenant,
                    telefone=telefone,
                    wa_id=wa_id,
                    whatsapp_user_id=user_id,
                    nome=nome,
                )
                _created(cliente)
                return cliente
        except IntegrityError:
            continue  # another worker created it first; read theirs
    raise RuntimeError("could not upsert cliente")  # pragma: no cover - needs three racing inserts


def cliente_delete(*, cliente: Cliente) -> None:
    cliente.delete()
