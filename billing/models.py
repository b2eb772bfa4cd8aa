"""The account: tenants, who belongs to them, plans and subscriptions, and API keys."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from rest_framework_api_key.models import AbstractAPIKey


class Tenant(models.Model):
    """A business using the platform. Every tenant-owned row points here."""

    name = models.CharField(_("nome"), max_length=200)
    slug = models.SlugField(_("identificador"), max_length=64, unique=True)
    active = models.BooleanField(_("ativo"), default=True)
    time_zone = models.CharField(_("fuso horário"), max_length=64, default="America/Sao_Paulo")
    created_at = models.DateTimeField(_("criado em"), auto_now_add=True)

    class Meta:
        verbose_name = _("empresa")
        verbose_name_plural = _("empresas")
        ordering = ["name"]

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
