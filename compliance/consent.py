"""The consent ledger: may this customer get proactive messages?

State: `Cliente.optout_em` (null = may be messaged proactively), written only here.
History: one `ConsentEvent` per change, with who, when and how (keyword, Meta's
user_preferences webhook, admin, API, erasure), plus an audit entry.

"Proactive" means the business writes first for its own reasons: campaigns, reactivation,
optional reminders. Replies to the customer and transactional updates (an order status)
are not proactive and are never blocked here: `proactive_gate`, registered with the outbox
(compliance.apps), asks `proactive_refusal` only for sends marked proactive.

Erased people leave an `OptOutMarker`, an HMAC of their phone / WhatsApp user id: a
customer created again with it starts opted out (`cliente_honour_markers`).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from clientes.models import Cliente
from clientes.phones import InvalidPhone, normalize_phone
from compliance import audit
from compliance.models import ConsentEvent, ConsentSettings, OptOutMarker
from config.text import normalize

logger = logging.getLogger(__name__)

OPTED_OUT = "opted_out"  # Message.error_code of a proactive send the ledger refused
META_MARKETING = "marketing_messages"
META_STOP = ("stop",)
META_RESUME = ("resume", "signup")

Source = ConsentEvent.Source

# --- Keywords and settings -----------------------------------------------------------------

_EDGE_PUNCTUATION = re.compile(r"^[^\w]+|[^\w]+$")


def keyword_key(text: str) -> str:
    """How a typed keyword is compared: accents, case, spaces and surrounding punctuation
    ignored ("Sair!" = "SAIR" = "sáir"); the word itself must match exactly."""
    return _EDGE_PUNCTUATION.sub("", normalize(text))


def consent_settings(*, tenant) -> ConsentSettings:
    """The tenant's settings, or an unsaved one holding the defaults.

    The engine loads them with the bot (select_related "chatbot__tenant__consent_settings"),
    so the keyword interceptor costs no query per message.
    """
    try:
        return tenant.consent_settings
    except ConsentSettings.DoesNotExist:
        return ConsentSettings(tenant=tenant)


def optout_keywords(cfg: ConsentSettings) -> list[str]:
    return [str(k) for k in (cfg.optout_keywords or settings.OPTOUT_KEYWORDS) if str(k).strip()]


def optin_keywords(cfg: ConsentSettings) -> list[str]:
    return [str(k) for k in (cfg.optin_keywords or settings.OPTIN_KEYWORDS) if str(k).strip()]


# --- Erasure markers -----------------------------------------------------------------------


def identity_hash(*, kind: str, value: str) -> str:
    """HMAC-SHA256 of one identity ("phone:<canonical digits>" or "bsuid:<id>").

    Keyed with CONSENT_HASH_PEPPER (SECRET_KEY by default): without the key, a list of
    every Brazilian phone number could be hashed to reverse the markers. Changing the key
    forgets every marker, so it is set once and kept.
    """
    key = (settings.CONSENT_HASH_PEPPER or settings.SECRET_KEY).encode()
    return hmac.new(key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()


def identity_hashes(*, telefone: str = "", user_id: str = "") -> list[str]:
    hashes = []
    if telefone:
        try:
            hashes.append(identity_hash(kind="phone", value=normalize_phone(telefone)))
        except InvalidPhone:
            pass
    if user_id:
        hashes.append(identity_hash(kind="bsuid", value=user_id))
    return hashes


def marker_add(*, tenant_id: int, telefone: str = "", user_id: str = "") -> int:
    hashes = identity_hashes(telefone=telefone, user_id=user_id)
    if not hashes:
        return 0
    created = OptOutMarker.objects.bulk_create(
        [OptOutMarker(tenant_id=tenant_id, identity_hash=h) for h in hashes],
        ignore_conflicts=True,
    )
    settings_row, _new = ConsentSettings.objects.get_or_create(tenant_id=tenant_id)
    if not settings_row.has_erasure_markers:
        ConsentSettings.objects.filter(pk=settings_row.pk).update(has_erasure_markers=True)
    return len(created)


def marker_matches(*, tenant_id: int, telefone: str = "", user_id: str = "") -> bool:
    hashes = identity_hashes(telefone=telefone, user_id=user_id)
    return (
        bool(hashes)
        and OptOutMarker.objects.filter(tenant_id=tenant_id, identity_hash__in=hashes).exists()
    )


def _markers_remove(cliente: Cliente) -> int:
    hashes = identity_hashes(telefone=cliente.telefone, user_id=cliente.whatsapp_user_id)
    if not hashes:
        return 0
    deleted, _detail = OptOutMarker.objects.filter(
        tenant_id=cliente.tenant_id, identity_hash__in=hashes
    ).delete()
    return deleted


# --- Changing consent ----------------------------------------------------------------------


# What other apps do when a customer opts out or in (the event webhooks:
# integrations.hooks), registered from their AppConfig.ready: compliance sits below them.
_change_hooks: list[Callable[..., object]] = []


def consent_hook_register(hook: Callable[..., object]) -> None:
    """Call `hook(event=ConsentEvent, cliente=...)` when consent changed, in its transaction."""
    if hook not in _change_hooks:
        _change_hooks.append(hook)


def _default_actor(source: str, cliente: Cliente):
    if source == Source.KEYWORD:
        return audit.customer_actor(cliente)
    if source == Source.META:
        return audit.system_actor("meta-user-preferences")
    return None  # the audit context: the admin user or API client of this request


def _change(
    *,
    cliente: Cliente,
    opted_out: bool,
    source: str,
    actor,
    detail: str,
    occurred_at: datetime | None,
) -> bool:
    now = timezone.now()
    with transaction.atomic():
        rows = Cliente.objects.filter(pk=cliente.pk)
        if opted_out:
            changed = rows.filter(optout_em__isnull=True).update(optout_em=occurred_at or now)
        else:
            changed = rows.filter(optout_em__isnull=False).update(optout_em=None)
            _markers_remove(cliente)  # consent given again overrides an erasure marker
        cliente.optout_em = rows.values_list("optout_em", flat=True).first()
        if not changed:
            return False
        who = audit.actor_from(actor if actor is not None else _default_actor(source, cliente))
        event = ConsentEvent.objects.create(
            tenant_id=cliente.tenant_id,
            cliente=cliente,
            opted_out=opted_out,
            source=source,
            actor_label=who.label,
            detail=detail[:255],
            occurred_at=occurred_at or now,
        )
        audit.record(
            tenant=cliente.tenant_id,
            actor=who,
            action="consent.opt_out" if opted_out else "consent.opt_in",
            obj=cliente,
            changes={"source": source, "detail": detail[:255]},
        )
        for hook in _change_hooks:
            try:
                hook(event=event, cliente=cliente)
            except Exception:  # an integration's failure must never undo a refusal
                logger.exception("consent hook failed", extra={"cliente_id": cliente.pk})
    logger.info(
        "consent changed",
        extra={"cliente_id": cliente.pk, "opted_out": opted_out, "source": source},
    )
    return True


def consent_opt_out(
    *,
    cliente: Cliente,
    source: str,
    actor=None,
    detail: str = "",
    occurred_at: datetime | None = None,
) -> bool:
    """Stop proactive messages to `cliente`. True when this changed the state."""
    return _change(
        cliente=cliente,
        opted_out=True,
        source=source,
        actor=actor,
        detail=detail,
        occurred_at=occurred_at,
    )


def consent_opt_in(
    *,
    cliente: Cliente,
    source: str,
    actor=None,
    detail: str = "",
    occurred_at: datetime | None = None,
) -> bool:
    """Allow proactive messages to `cliente` again. True when this changed the state."""
    return _change(
        cliente=cliente,
        opted_out=False,
        source=source,
        actor=actor,
        detail=detail,
        occurred_at=occurred_at,
    )


def cliente_honour_markers(*, cliente: Cliente) -> bool:
    """Called right after a customer is created: someone erased before starts opted out."""
    if cliente.optout_em is not None:
        return False
    if not consent_settings(tenant=cliente.tenant).has_erasure_markers:
        return False
    if not marker_matches(
        tenant_id=cliente.tenant_id, telefone=cliente.telefone, user_id=cliente.whatsapp_user_id
    ):
        return False
    now = timezone.now()
    Cliente.objects.filter(pk=cliente.pk).update(optout_em=now)
    cliente.optout_em = now
    ConsentEvent.objects.create(
        tenant_id=cliente.tenant_id,
        cliente=cliente,
        opted_out=True,
        source=Source.ERASURE,
        actor_label=audit.system_actor("erasure-marker").label,
        detail=_("dados apagados antes, a pedido do titular (LGPD)"),
        occurred_at=now,
    )
    return True


def consent_history(*, cliente: Cliente):
    return ConsentEvent.objects.filter(cliente=cliente).order_by("-occurred_at", "-id")


# --- Asking the ledger ---------------------------------------------------------------------


def proactive_refusal(*, cliente: Cliente) -> tuple[str, str] | None:
    """(code, pt-BR detail) when a proactive message to `cliente` must not go, else None.

    Reads the state from the database, not from the instance: a job holding customers
    loaded minutes ago still sees an opt-out that arrived since.
    """
    cliente.optout_em = (
        Cliente.objects.filter(pk=cliente.pk).values_list("optout_em", flat=True).first()
    )
    if cliente.optout_em is not None:
        return _opted_out(cliente)
    # Safety net for customers created by a path that did not call cliente_honour_markers.
    if marker_matches(
        tenant_id=cliente.tenant_id, telefone=cliente.telefone, user_id=cliente.whatsapp_user_id
    ):
        return _erased()
    return None


def proactive_refusals(clientes: list[Cliente]) -> list[tuple[str, str] | None]:
    """`proactive_refusal` for each of `clientes`, in order, in two queries."""
    if not clientes:
        return []
    optouts = dict(
        Cliente.objects.filter(pk__in={c.pk for c in clientes}).values_list("pk", "optout_em")
    )
    hashes = {
        c.pk: identity_hashes(telefone=c.telefone, user_id=c.whatsapp_user_id) for c in clientes
    }
    wanted = {h for hs in hashes.values() for h in hs}
    marked = (
        set(
            OptOutMarker.objects.filter(
                tenant_id__in={c.tenant_id for c in clientes}, identity_hash__in=wanted
            ).values_list("tenant_id", "identity_hash")
        )
        if wanted
        else set()
    )
    out: list[tuple[str, str] | None] = []
    for cliente in clientes:
        cliente.optout_em = optouts.get(cliente.pk)
        if cliente.optout_em is not None:
            out.append(_opted_out(cliente))
        elif any((cliente.tenant_id, h) in marked for h in hashes[cliente.pk]):
            out.append(_erased())
        else:
            out.append(None)
    return out


def _opted_out(cliente: Cliente) -> tuple[str, str]:
    return OPTED_OUT, _(
        "O cliente pediu para não receber mensagens proativas em %(when)s (consentimento "
        "retirado). Só respostas e avisos de pedidos e agendamentos são enviados."
    ) % {"when": timezone.localtime(cliente.optout_em).strftime("%d/%m/%Y %H:%M")}


def _erased() -> tuple[str, str]:
    return OPTED_OUT, _("Os dados deste contato foram apagados a pedido dele (LGPD).")


def proactive_gate(outgoing) -> tuple[str, str] | None:
    """The outbox's QUEUE gate (chatbots.outbox.gates; registered in compliance.apps): a
    proactive message waits for the ledger's yes; any other message is not its business."""
    if not outgoing.proactive:
        return None
    return proactive_refusal(cliente=outgoing.cliente)


def proactive_gate_many(outgoings: list) -> list[tuple[str, str] | None]:
    """`proactive_gate` for a batch (chatbots.outbox.gates.register_gate's `many`)."""
    asked = [o for o in outgoings if o.proactive]
    answers = iter(proactive_refusals([o.cliente for o in asked]))
    return [next(answers) if o.proactive else None for o in outgoings]


# --- Meta's user_preferences webhook -------------------------------------------------------


@dataclass(frozen=True)
class PreferenceOutcome:
    """What `preference_apply` did. `tracked` is False for a preference the ledger does not
    keep (another category or value); `note` says why nothing changed, empty when the
    ledger changed."""

    tracked: bool
    note: str = ""


def preference_apply(
    *,
    tenant,
    wa_id: str,
    user_id: str = "",
    nome: str = "",
    category: str,
    value: str,
    detail: str = "",
    occurred_at: datetime,
) -> PreferenceOutcome:
    """Apply one of Meta's `user_preferences` updates to the customer's consent.

    `stop` opts out; `resume` and `signup` opt in. An update older than the customer's last
    consent change (webhooks arrive out of order, Meta:
    https://developers.facebook.com/docs/graph-api/webhooks/getting-started) changes
    nothing. The caller (the engine, which claimed the stored event) finishes the event.
    """
    from clientes.services import cliente_upsert_from_whatsapp

    if category != META_MARKETING or value not in (*META_STOP, *META_RESUME):
        return PreferenceOutcome(tracked=False, note=f"preference {category}:{value}")
    cliente = cliente_upsert_from_whatsapp(tenant=tenant, wa_id=wa_id, user_id=user_id, nome=nome)
    latest = consent_history(cliente=cliente).values_list("occurred_at", flat=True).first()
    if latest is not None and latest > occurred_at:
        return PreferenceOutcome(
            tracked=True, note="older than the customer's latest consent change; not applied"
        )
    change = consent_opt_out if value in META_STOP else consent_opt_in
    change(
        cliente=cliente,
        source=Source.META,
        detail=f"{value}: {detail}"[:255],
        occurred_at=occurred_at,
    )
    return PreferenceOutcome(tracked=True)
