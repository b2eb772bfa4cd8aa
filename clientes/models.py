from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from billing.models import TenantOwned


class Cliente(TenantOwned):
    """An end customer of a tenant, identified by phone or WhatsApp user id."""

    nome = models.CharField(_("nome"), max_length=200, blank=True)
    telefone = models.CharField(
        _("telefone"),
        max_length=20,
        blank=True,
        help_text=_("Só dígitos, com DDI e DDD (ex.: 5511987654321)."),
    )
    wa_id = models.CharField(_("WhatsApp ID"), max_length=32, blank=True)
    whatsapp_user_id = models.CharField(
        _("ID de usuário do WhatsApp (BSUID)"), max_length=64, blank=True
    )
    tags = models.JSONField(_("etiquetas"), default=list, blank=True)
    # The language of the templates sent to this customer (Meta's codes: pt_BR, en_US, es);
    # empty: the bot's own language (chatbots.outbox.window.customer_language).
    idioma = models.CharField(_("idioma"), max_length=16, blank=True)
    # Consent to proactive messages (campaigns, reactivation, optional reminders): when the
    # customer opted out, else null. A cache of compliance.ConsentEvent's latest entry, so
    # every proactive send checks it without a join; written only by compliance.consent.
    optout_em = models.DateTimeField(_("recusou mensagens em"), null=True, blank=True)
    criado_em = models.DateTimeField(_("criado em"), auto_now_add=True)
    atualizado_em = models.DateTimeField(_("atualizado em"), auto_now=True)

    class Meta:
        verbose_name = _("cliente")
        verbose_name_plural = _("clientes")
        ordering = ["-criado_em"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "telefone"],
                condition=~Q(telefone=""),
                name="cliente_unique_tenant_telefone",
            ),
            models.UniqueConstraint(
                fields=["tenant", "whatsapp_user_id"],
                condition=~Q(whatsapp_user_id=""),
                name="cliente_unique_tenant_bsuid",
            ),
        ]

    def __str__(self) -> str:
        return self.nome or self.telefone or self.whatsapp_user_id or f"#{self.pk}"
