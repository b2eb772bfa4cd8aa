"""LGPD: the audit log, the consent ledger, erasure markers, retention and reactivation.

* `AuditLog`: who changed what, append-only. Written by services (compliance.audit.record),
  never edited; only the retention job removes entries, after their retention period.
* Consent: the current state is cached on `Cliente.optout_em` (the message path reads it
  without a join); `ConsentEvent` is its append-only history (who, when, how).
* `OptOutMarker`: what is left of an erased person, a one-way hash of their phone (or
  WhatsApp user id), so they are never messaged proactively again.
* `RetentionPolicy`, `ConsentSettings`: per-tenant overrides of the defaults in settings.
* `ReactivationSend`: one row per customer and daily window of the reactivation job.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from billing.models import Tenant, TenantAPIKey, TenantOwned
from clientes.models import Cliente

# --- Audit log ---------------------------------------------------------------------------


class AppendOnlyError(Exception):
    """Audit entries are never changed or deleted, except by the retention job."""


class AuditLogQuerySet(models.QuerySet):
    """Refuses bulk updates and deletes: the log is append-only (see compliance.audit)."""

    def update(self, **kwargs):
        raise AppendOnlyError("audit entries are append-only")

    def delete(self):
        raise AppendOnlyError("audit entries are removed only by the retention job")

    # The two sanctioned writers, named so a reader finds every caller with one search.
    def _retention_delete(self) -> int:
        return super().delete()[0]

    def _erasure_redact(self, **fields) -> int:
        return super().update(**fields)


class AuditLog(models.Model):
    class ActorType(models.TextChoices):
        USER = "user", _("Usuário")
        API_KEY = "api_key", _("Chave de API")
        SYSTEM = "system", _("Sistema")
        CUSTOMER = "customer", _("Cliente (WhatsApp)")

    # Nullable: admin logins of superusers belong to no tenant, and entries outlive a
    # deleted tenant until their retention period ends.
    tenant = models.ForeignKey(
        Tenant,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("empresa"),
    )
    created_at = models.DateTimeField(_("quando"), auto_now_add=True)
    actor_type = models.CharField(_("tipo de autor"), max_length=16, choices=ActorType.choices)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("usuário"),
    )
    actor_api_key = models.ForeignKey(
        TenantAPIKey,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("chave de API"),
    )
    # Kept when the user or key is deleted: "maria@padaria.com", "api-key:Ab12Cd", "system:retention".
    actor_label = models.CharField(_("autor"), max_length=200)
    action = models.CharField(_("ação"), max_length=64)
    object_type = models.CharField(_("tipo de objeto"), max_length=100, blank=True)
    object_id = models.CharField(_("ID do objeto"), max_length=64, blank=True)
    # {field: [before, after]} or a service's summary; secrets and message texts redacted.
    changes = models.JSONField(_("alterações"), default=dict, blank=True)
    ip = models.GenericIPAddressField(_("IP"), null=True, blank=True)
    request_id = models.CharField(_("ID da requisição"), max_length=64, blank=True)

    objects = AuditLogQuerySet.as_manager()

    class Meta:
        verbose_name = _("registro de auditoria")
        verbose_name_plural = _("registros de auditoria")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["tenant", "-created_at"], name="audit_tenant_time_idx"),
            models.Index(fields=["tenant", "object_type", "object_id"], name="audit_object_idx"),
            models.Index(fields=["created_at"], name="audit_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_label} {self.action}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyError("audit entries are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("audit entries are removed only by the retention job")


# --- Consent ledger ----------------------------------------------------------------------


class ConsentEvent(TenantOwned):
    """One change of a customer's consent to proactive messages. Append-only history."""

    class Source(models.TextChoices):
        KEYWORD = "keyword", _("Palavra-chave no WhatsApp")
        META = "meta", _("Preferência na Meta (WhatsApp)")
        ADMIN = "admin", _("Painel")
        API = "api", _("API")
        ERASURE = "erasure", _("Apagamento (LGPD)")

    cliente = models.ForeignKey(
        Cliente, on_delete=models.CASCADE, related_name="consent_events", verbose_name=_("cliente")
    )
    opted_out = models.BooleanField(_("recusou mensagens"))
    source = models.CharField(_("origem"), max_length=16, choices=Source.choices)
    actor_label = models.CharField(_("autor"), max_length=200, blank=True)
    detail = models.CharField(_("detalhe"), max_length=255, blank=True)
    # When it happened at the source (Meta's timestamp); created_at is when we stored it.
    occurred_at = models.DateTimeField(_("ocorrido em"))
    created_at = models.DateTimeField(_("registrado em"), auto_now_add=True)

    class Meta:
        verbose_name = _("evento de consentimento")
        verbose_name_plural = _("histórico de consentimento")
        ordering = ["-occurred_at", "-id"]
        indexes = [models.Index(fields=["cliente", "-occurred_at"], name="consent_cliente_idx")]

    def __str__(self) -> str:
        state = _("saiu") if self.opted_out else _("voltou")
        return f"{self.cliente_id}: {state} ({self.get_source_display()})"


class ConsentSettings(models.Model):
    """A tenant's opt-out/opt-in keywords and confirmation texts (blank: the defaults)."""

    # Reverse name used by the engine's select_related: the interceptor reads the settings
    # with the bot's row, at no extra query per message.
    tenant = models.OneToOneField(
        Tenant,
        on_delete=models.CASCADE,
        related_name="consent_settings",
        verbose_name=_("empresa"),
    )
    optout_keywords = models.JSONField(
        _("palavras para sair"),
        default=list,
        blank=True,
        help_text=_(
            'Lista, ex.: ["SAIR", "PARAR"]. Vazia usa o padrão: SAIR, PARAR, STOP, REMOVER, '
            "CANCELAR. Maiúsculas e acentos não importam."
        ),
    )
    optin_keywords = models.JSONField(
        _("palavras para voltar"),
        default=list,
        blank=True,
        help_text=_('Lista, ex.: ["VOLTAR"]. Vazia usa o padrão: VOLTAR.'),
    )
    optout_reply = models.TextField(_("resposta ao sair"), blank=True)
    optin_reply = models.TextField(_("resposta ao voltar"), blank=True)
    # Set when the tenant's first OptOutMarker is written: until then a new customer costs
    # no marker lookup.
    has_erasure_markers = models.BooleanField(default=False, editable=False)
    updated_at = models.DateTimeField(_("atualizado em"), auto_now=True)

    class Meta:
        verbose_name = _("configuração de consentimento")
        verbose_name_plural = _("configurações de consentimento")

    def __str__(self) -> str:
        return str(_("Consentimento de %(tenant)s") % {"tenant": self.tenant})


class OptOutMarker(models.Model):
    """An erased person's phone (or WhatsApp user id) as an HMAC: never messaged again.

    One-way: the hash cannot give the number back, but the same number hashes the same, so
    a customer created again with it starts opted out (compliance.consent).
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    identity_hash = models.CharField(_("hash da identidade"), max_length=64)
    created_at = models.DateTimeField(_("criado em"), auto_now_add=True)

    class Meta:
        verbose_name = _("marcador de exclusão")
        verbose_name_plural = _("marcadores de exclusão")
        constraints = [
            models.UniqueConstraint(fields=["tenant", "identity_hash"], name="optout_marker_unique")
        ]

    def __str__(self) -> str:
        return f"{self.identity_hash[:12]}…"


class AnonymousCustomer(models.Model):
    """The tenant's placeholder Cliente that erased people's kept orders and appointments
    point to (their foreign keys cascade from Cliente, so the real one cannot be deleted
    without it). RESTRICT: the placeholder cannot be deleted on its own, which would take
    those records with it; deleting the whole tenant still works."""

    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, related_name="+")
    cliente = models.OneToOneField(Cliente, on_delete=models.RESTRICT, related_name="+")

    class Meta:
        verbose_name = _("cliente anônimo")
        verbose_name_plural = _("clientes anônimos")

    def __str__(self) -> str:
        return str(self.cliente)


# --- Retention ---------------------------------------------------------------------------


class RetentionPolicy(models.Model):
    """How long a tenant's data is kept; a blank field uses the default from settings."""

    tenant = models.OneToOneField(
        Tenant, on_delete=models.CASCADE, related_name="+", verbose_name=_("empresa")
    )
    message_text_days = models.PositiveIntegerField(
        _("textos de mensagens (dias)"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text=_("Depois disso o texto das mensagens é apagado; a mensagem fica registrada."),
    )
    raw_webhook_days = models.PositiveIntegerField(
        _("webhooks brutos (dias)"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text=_("Eventos recebidos dos provedores, já processados."),
    )
    audit_days = models.PositiveIntegerField(
        _("auditoria (dias)"),
        null=True,
        blank=True,
        # Marco Civil da Internet (Lei 12.965/2014), art. 15: application providers keep
        # access records for 6 months.
        validators=[MinValueValidator(180)],
        help_text=_("Mínimo de 180 dias (Marco Civil da Internet, art. 15)."),
    )
    updated_at = models.DateTimeField(_("atualizado em"), auto_now=True)

    class Meta:
        verbose_name = _("política de retenção")
        verbose_name_plural = _("políticas de retenção")

    def __str__(self) -> str:
        return str(_("Retenção de %(tenant)s") % {"tenant": self.tenant})


# --- Reactivation ------------------------------------------------------------------------


class ReactivationSend(TenantOwned):
    """The reactivation template for one customer in one daily window (the tenant's date)."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Agendado")
        SENDING = "sending", _("Enviando")
        QUEUED = "queued", _("Na fila de envio")
        REFUSED = "refused", _("Recusado")

    chatbot = models.ForeignKey(
        "chatbots.Chatbot", on_delete=models.CASCADE, related_name="+", verbose_name=_("chatbot")
    )
    cliente = models.ForeignKey(
        Cliente, on_delete=models.CASCADE, related_name="+", verbose_name=_("cliente")
    )
    window = models.DateField(_("dia"))
    status = models.CharField(
        _("situação"), max_length=16, choices=Status.choices, default=Status.PENDING
    )
    message = models.ForeignKey(
        "chatbots.Message",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("mensagem"),
    )
    error_code = models.CharField(_("motivo"), max_length=32, blank=True)
    created_at = models.DateTimeField(_("criado em"), auto_now_add=True)

    class Meta:
        verbose_name = _("envio de reativação")
        verbose_name_plural = _("envios de reativação")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["cliente", "window"], name="reactivation_once_a_day")
        ]
        indexes = [models.Index(fields=["tenant", "cliente", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.cliente_id} {self.window} ({self.status})"
