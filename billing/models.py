"""The account: tenants, who belongs to them, plans and subscriptions, and API keys."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from rest_framework_api_key.models import AbstractAPIKey

from config import egress
from config.fields import EncryptedTextField


class Tenant(models.Model):
    """A business using the platform. Every tenant-owned row points here."""

    name = models.CharField(_("nome"), max_length=200)
    slug = models.SlugField(_("identificador"), max_length=64, unique=True)
    active = models.BooleanField(_("ativo"), default=True)
    time_zone = models.CharField(_("fuso horário"), max_length=64, default="America/Sao_Paulo")
    # The payment webhook finds the tenant by this (X-Company-Domain) or by the slug.
    domain = models.CharField(
        _("domínio"),
        max_length=253,
        blank=True,
        help_text=_("Domínio da empresa (ex.: pizzaria.com.br), usado pelo webhook de pagamentos."),
    )
    created_at = models.DateTimeField(_("criado em"), auto_now_add=True)

    class Meta:
        verbose_name = _("empresa")
        verbose_name_plural = _("empresas")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["domain"], condition=~Q(domain=""), name="tenant_unique_domain"
            )
        ]

    def __str__(self) -> str:
        return self.name


class TenantOwned(models.Model):
    """Abstract base for every row that belongs to one tenant (shared schema, row level)."""

    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, related_name="+", verbose_name=_("empresa")
    )

    class Meta:
        abstract = True


class Membership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner", _("Proprietário")
        ADMIN = "admin", _("Administrador")
        AGENT = "agent", _("Atendente")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(_("papel"), max_length=16, choices=Role.choices, default=Role.AGENT)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("membro")
        verbose_name_plural = _("membros")
        constraints = [
            models.UniqueConstraint(fields=["user", "tenant"], name="membership_unique_user_tenant")
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.tenant} ({self.get_role_display()})"


class Plan(models.Model):
    """What a tenant may use per month. A limit of 0 on messages or AI tokens means no cap."""

    name = models.CharField(_("nome"), max_length=100, unique=True)
    monthly_price = models.DecimalField(
        _("preço mensal"), max_digits=10, decimal_places=2, default=Decimal("0")
    )
    max_messages_per_month = models.PositiveIntegerField(_("mensagens por mês"), default=1000)
    max_chatbots = models.PositiveIntegerField(_("chatbots"), default=1)
    max_staff = models.PositiveIntegerField(_("usuários"), default=3)
    ai_enabled = models.BooleanField(_("respostas com IA"), default=False)
    max_ai_tokens_per_month = models.PositiveIntegerField(_("tokens de IA por mês"), default=0)
    trial_days = models.PositiveIntegerField(_("dias de teste"), default=0)
    active = models.BooleanField(_("ativo"), default=True)

    class Meta:
        verbose_name = _("plano")
        verbose_name_plural = _("planos")
        ordering = ["monthly_price", "name"]

    def __str__(self) -> str:
        return self.name


class Subscription(models.Model):
    class Status(models.TextChoices):
        TRIALING = "trialing", _("Em teste")
        ACTIVE = "active", _("Ativa")
        PAST_DUE = "past_due", _("Pagamento atrasado")
        CANCELED = "canceled", _("Cancelada")

    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, related_name="subscription")
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="subscriptions")
    status = models.CharField(
        _("situação"), max_length=16, choices=Status.choices, default=Status.ACTIVE
    )
    current_period_start = models.DateTimeField(_("início do período"))
    current_period_end = models.DateTimeField(_("fim do período"))
    trial_end = models.DateTimeField(_("fim do teste"), null=True, blank=True)
    # Starts the grace period (BILLING_PAST_DUE_GRACE_DAYS) of a past_due subscription.
    past_due_since = models.DateTimeField(_("em atraso desde"), null=True, blank=True)
    canceled_at = models.DateTimeField(_("cancelada em"), null=True, blank=True)
    # When the newest payment event applied happened: an older event arriving late (payment
    # providers do not promise order) is recorded but changes nothing.
    last_event_at = models.DateTimeField(_("último evento de pagamento"), null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("assinatura")
        verbose_name_plural = _("assinaturas")

    def __str__(self) -> str:
        return f"{self.tenant} – {self.plan} ({self.get_status_display()})"


class TenantAPIKey(AbstractAPIKey):
    """A machine client's key. Stored hashed; belongs to exactly one tenant."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="api_keys")

    class Meta(AbstractAPIKey.Meta):
        verbose_name = _("chave de API")
        verbose_name_plural = _("chaves de API")


class BillingSettings(models.Model):
    """A tenant's own settings for plan notices: where alerts go, what over-quota says."""

    tenant = models.OneToOneField(
        Tenant, on_delete=models.CASCADE, related_name="billing_settings", verbose_name=_("empresa")
    )
    alert_webhook_url = models.URLField(
        _("URL para avisos do plano"),
        max_length=500,
        blank=True,
        help_text=_(
            "Recebe um POST assinado (HMAC-SHA256) quando o uso chega a 80% ou 100% de um limite."
        ),
    )
    alert_webhook_secret = EncryptedTextField(_("segredo da assinatura"), blank=True)
    over_quota_notice = models.TextField(
        _("aviso de limite atingido"),
        blank=True,
        help_text=_(
            "O que o robô responde (uma vez por dia a cada cliente) quando o limite mensal de "
            "mensagens acabou. Em branco: o aviso padrão."
        ),
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("configuração de avisos")
        verbose_name_plural = _("configurações de avisos")

    def __str__(self) -> str:
        return str(self.tenant)

    def clean(self) -> None:
        # The alert is POSTed from inside our network: only a URL the egress policy lets
        # us call (https, a public address: config/egress.py).
        egress.tenant_url_validate(
            self.alert_webhook_url,
            field="alert_webhook_url",
            label=_("A URL para avisos do plano"),
        )


class DailyUsage(TenantOwned):
    """One tenant's metered usage on one day (America/Sao_Paulo by default, TIME_ZONE).

    Written only by billing.metering (flushes add to the counters with F() expressions).
    """

    day = models.DateField(_("dia"))
    messages_in = models.PositiveBigIntegerField(_("mensagens recebidas"), default=0)
    messages_out = models.PositiveBigIntegerField(_("mensagens enviadas"), default=0)
    ai_tokens = models.PositiveBigIntegerField(_("tokens de IA"), default=0)
    estimated_cost = models.DecimalField(
        _("custo estimado (R$)"), max_digits=14, decimal_places=4, default=Decimal("0")
    )
    updated_at = models.DateTimeField(_("atualizado em"), auto_now=True)

    class Meta:
        verbose_name = _("uso diário")
        verbose_name_plural = _("uso diário")
        ordering = ["-day"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "day"], name="dailyusage_unique_tenant_day")
        ]

    def __str__(self) -> str:
        return f"{self.tenant_id} {self.day}"

    @property
    def messages(self) -> int:
        return self.messages_in + self.messages_out


class UsageFlush(models.Model):
    """A batch of Redis counters already added to DailyUsage (see billing.metering.flush).

    Written in the same transaction as the additions, so a flush that crashed after its
    commit but before deleting its Redis batch is recognized and never added twice.
    """

    batch_id = models.CharField(max_length=64, unique=True)
    applied_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("lote de medição aplicado")
        verbose_name_plural = _("lotes de medição aplicados")

    def __str__(self) -> str:
        return self.batch_id


class TemplateCost(TenantOwned):
    """Delivered WhatsApp templates of one tenant on one day, by Meta's pricing category
    and the customer's country, and what Meta charges for them (billing.template_costs).

    Meta charges per delivered template by category and country (Meta:
    https://developers.facebook.com/docs/whatsapp/pricing), so the estimate cannot be a
    flat price per message. Written only by billing.template_costs with F() additions.
    """

    day = models.DateField(_("dia"))
    category = models.CharField(_("categoria"), max_length=16)
    country = models.CharField(_("país"), max_length=2)
    delivered = models.PositiveIntegerField(_("modelos entregues"), default=0)
    cost = models.DecimalField(
        _("custo estimado (R$)"), max_digits=14, decimal_places=4, default=Decimal("0")
    )

    class Meta:
        verbose_name = _("custo de modelos entregues")
        verbose_name_plural = _("custos de modelos entregues")
        ordering = ["-day", "category", "country"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "day", "category", "country"], name="templatecost_unique_key"
            )
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.category} {self.country}"


class LimitKind(models.TextChoices):
    MESSAGES = "messages", _("Mensagens por mês")
    AI_TOKENS = "ai_tokens", _("Tokens de IA por mês")
    CHATBOTS = "chatbots", _("Chatbots")
    STAFF = "staff", _("Usuários")
    SUBSCRIPTION = "subscription", _("Pagamento em atraso")
    # Not a plan limit: news from Meta about the tenant's WhatsApp account, its numbers and
    # templates (chatbots.account_events), delivered the same way (billing.alerts.notice_raise).
    WHATSAPP = "whatsapp", _("Conta do WhatsApp")


class BillingAlert(TenantOwned):
    """A plan alert that was raised: one per tenant, limit, threshold and period.

    Also the notice staff see in the admin. The unique constraint is what makes each
    threshold alert once per period, even with several workers checking at once.
    """

    kind = models.CharField(_("limite"), max_length=16, choices=LimitKind.choices)
    threshold = models.PositiveSmallIntegerField(_("percentual"))
    period_start = models.DateTimeField(_("início do período"))
    used = models.PositiveBigIntegerField(_("uso"), default=0)
    limit = models.PositiveBigIntegerField(_("limite"), default=0)
    message = models.TextField(_("aviso"))
    created_at = models.DateTimeField(_("criado em"), auto_now_add=True, db_index=True)
    emailed_at = models.DateTimeField(_("e-mail enviado em"), null=True, blank=True)
    webhook_sent_at = models.DateTimeField(_("webhook enviado em"), null=True, blank=True)
    webhook_attempts = models.PositiveSmallIntegerField(_("tentativas do webhook"), default=0)
    webhook_error = models.TextField(_("erro do webhook"), blank=True)
    # What raised a notice that is not a plan threshold (the stored webhook event behind a
    # WhatsApp notice): unique per tenant, so processing an event again alerts nobody twice.
    source = models.CharField(_("origem"), max_length=128, blank=True)

    class Meta:
        verbose_name = _("aviso do plano")
        verbose_name_plural = _("avisos do plano")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "kind", "threshold", "period_start"],
                condition=Q(source=""),
                name="billingalert_once_per_period",
            ),
            models.UniqueConstraint(
                fields=["tenant", "source"],
                condition=~Q(source=""),
                name="billingalert_once_per_source",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.threshold}%"


class PaymentEvent(models.Model):
    """A payment webhook event already applied: the event id makes retries do nothing."""

    event_id = models.CharField(_("ID do evento"), max_length=255, unique=True)
    type = models.CharField(_("tipo"), max_length=64)
    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, related_name="payment_events", verbose_name=_("empresa")
    )
    occurred_at = models.DateTimeField(_("ocorrido em"))
    payload = models.JSONField(_("conteúdo"), default=dict)
    outcome = models.CharField(_("resultado"), max_length=32)
    received_at = models.DateTimeField(_("recebido em"), auto_now_add=True)

    class Meta:
        verbose_name = _("evento de pagamento")
        verbose_name_plural = _("eventos de pagamento")
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return f"{self.type} {self.event_id}"
