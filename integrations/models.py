"""Event webhooks: where a tenant wants its events (a subscription), and each event sent
there (a delivery) with every attempt to send it (the log the admin and the API show)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from billing.models import TenantOwned
from config import egress
from config.fields import EncryptedTextField
from integrations.catalog import EventType


def events_validate(value) -> None:
    """A non-empty list of known event types, each once."""
    if not isinstance(value, list) or not value:
        raise ValidationError(_("Escolha pelo menos um evento."))
    unknown = [v for v in value if v not in EventType.values]
    if unknown:
        raise ValidationError(
            _("Eventos desconhecidos: %(names)s. Os válidos são: %(valid)s.")
            % {"names": ", ".join(map(str, unknown)), "valid": ", ".join(EventType.values)}
        )
    if len(set(value)) != len(value):
        raise ValidationError(_("Cada evento só pode aparecer uma vez."))


class WebhookSubscription(TenantOwned):
    """A URL of the tenant's own system that receives the events it chose, signed with its
    secret (HMAC-SHA256 over the timestamp and the body, as the plan alerts: billing.signing)."""

    description = models.CharField(_("descrição"), max_length=120, blank=True)
    url = models.URLField(
        _("URL"),
        max_length=500,
        help_text=_("Recebe um POST assinado (HMAC-SHA256) a cada evento escolhido."),
    )
    secret = EncryptedTextField(_("segredo da assinatura"))
    events = models.JSONField(_("eventos"), default=list, validators=[events_validate])
    active = models.BooleanField(_("ativa"), default=True)
    created_at = models.DateTimeField(_("criada em"), auto_now_add=True)
    updated_at = models.DateTimeField(_("atualizada em"), auto_now=True)

    class Meta:
        verbose_name = _("webhook de eventos")
        verbose_name_plural = _("webhooks de eventos")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["tenant", "active"], name="webhooksub_tenant_active")]

    def __str__(self) -> str:
        return self.description or self.url

    def clean(self) -> None:
        # Called from inside our network: only what the egress policy lets us call.
        egress.tenant_url_validate(self.url, field="url", label=_("A URL do webhook de eventos"))


class WebhookDelivery(TenantOwned):
    """One event for one subscription. The payload is what was true when it happened; a
    redelivery sends the same body (same event id) with a fresh timestamp and signature."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Aguardando envio")
        SENDING = "sending", _("Enviando")
        DELIVERED = "delivered", _("Entregue")
        FAILED = "failed", _("Falhou")

    subscription = models.ForeignKey(
        WebhookSubscription,
        on_delete=models.CASCADE,
        related_name="deliveries",
        verbose_name=_("webhook"),
    )
    event_id = models.CharField(_("ID do evento"), max_length=40)
    event_type = models.CharField(_("evento"), max_length=40, choices=EventType.choices)
    payload = models.JSONField(_("conteúdo"))
    status = models.CharField(
        _("situação"), max_length=16, choices=Status.choices, default=Status.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("tentativas"), default=0)
    next_attempt_at = models.DateTimeField(_("próxima tentativa"), null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(_("último código HTTP"), null=True)
    last_error = models.CharField(_("último erro"), max_length=500, blank=True)
    delivered_at = models.DateTimeField(_("entregue em"), null=True, blank=True)
    created_at = models.DateTimeField(_("criado em"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("entrega de evento")
        verbose_name_plural = _("entregas de eventos")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["subscription", "event_id"], name="webhookdelivery_once_per_event"
            )
        ]
        indexes = [
            models.Index(
                fields=["status", "next_attempt_at"],
                name="webhookdelivery_due",
                condition=models.Q(status__in=["pending", "sending"]),
            )
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id}"


class WebhookAttempt(TenantOwned):
    """One POST of a delivery: what the tenant's server answered (code and the start of its
    body), or why there was no answer."""

    delivery = models.ForeignKey(
        WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log"
    )
    number = models.PositiveSmallIntegerField(_("tentativa"))
    at = models.DateTimeField(_("em"), auto_now_add=True)
    status_code = models.PositiveSmallIntegerField(_("código HTTP"), null=True)
    response_excerpt = models.CharField(_("início da resposta"), max_length=500, blank=True)
    error = models.CharField(_("erro"), max_length=500, blank=True)
    duration_ms = models.PositiveIntegerField(_("duração (ms)"), default=0)

    class Meta:
        verbose_name = _("tentativa de entrega")
        verbose_name_plural = _("tentativas de entrega")
        ordering = ["number"]

    def __str__(self) -> str:
        return f"#{self.number} {self.status_code or self.error}"


class MonthlyReport(TenantOwned):
    """A monthly report emailed to the tenant's owners: the row is what makes "once per
    month" hold with several workers or a second run (integrations.report.report_email)."""

    month = models.DateField(_("mês"))
    recipients = models.PositiveSmallIntegerField(_("destinatários"), default=0)
    emailed_at = models.DateTimeField(_("enviado em"), auto_now_add=True)

    class Meta:
        verbose_name = _("relatório mensal")
        verbose_name_plural = _("relatórios mensais")
        ordering = ["-month"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "month"], name="monthlyreport_once")
        ]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m}"
