"""Campaigns: one template (or several variants) sent to an audience of a tenant's customers.

`CampaignRecipient` is the ledger: one row per (campaign, customer), written when the
campaign starts, and moved from `pending` to `sent` in the same transaction that queues the
customer's message in the outbox. A worker killed mid-run leaves either both (the outbox then
delivers the message exactly once) or neither (the row is still pending and the next run sends
it), never a customer messaged twice (campaigns.services).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from billing.models import TenantOwned
from chatbots.models import Chatbot, Conversation, Message, MessageTemplate
from clientes.models import Cliente
from inbox.models import Queue, Ticket


class Campaign(TenantOwned):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Rascunho")
        # The assistant writes each customer's parameters before the first send.
        PREPARING = "preparing", _("Preparando as sugestões do assistente")
        SCHEDULED = "scheduled", _("Agendada")
        RUNNING = "running", _("Enviando")
        WAITING = "waiting", _("Aguardando a próxima janela de 24 h")
        PAUSED = "paused", _("Pausada")
        CANCELED = "canceled", _("Cancelada")
        DONE = "done", _("Concluída")

    class Goal(models.TextChoices):
        REPLY = "reply", _("Resposta")
        READ = "read", _("Leitura")
        ORDER = "order", _("Pedido em 24 h")

    class Strategy(models.TextChoices):
        THOMPSON = "thompson", _("Amostragem de Thompson")
        EPSILON = "epsilon", _("Epsilon-greedy")

    name = models.CharField(_("nome"), max_length=120)
    chatbot = models.ForeignKey(Chatbot, on_delete=models.CASCADE, related_name="campaigns")
    # The audience definition (campaigns.audience documents its keys).
    audience = models.JSONField(_("público"), default=dict, blank=True)
    status = models.CharField(
        _("situação"), max_length=16, choices=Status.choices, default=Status.DRAFT
    )
    goal = models.CharField(_("objetivo"), max_length=8, choices=Goal.choices, default=Goal.REPLY)
    strategy = models.CharField(
        _("divisão do tráfego"), max_length=16, choices=Strategy.choices, default=Strategy.THOMPSON
    )
    scheduled_at = models.DateTimeField(_("começa em"), null=True, blank=True)
    # Recurring: when a run is done, the same campaign is scheduled again this many days
    # after its start (campaigns.services.campaign_repeat), with a fresh ledger.
    repeat_days = models.PositiveSmallIntegerField(
        _("repetir a cada (dias)"), null=True, blank=True
    )
    # What a customer's reply does: the flow step the conversation enters with the message
    # (its handler takes the reply), or an inbox queue the reply opens a ticket in.
    reply_step = models.CharField(_("etapa para a resposta"), max_length=64, blank=True)
    reply_queue = models.ForeignKey(
        Queue,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("fila para a resposta"),
    )
    # When the tier's 24-hour window has room again (status WAITING).
    next_run_at = models.DateTimeField(_("próxima rodada"), null=True, blank=True)
    # The last batch's time: a running campaign silent for long lost its task (a worker gone
    # for good) and campaigns.services.campaigns_due starts it again.
    last_batch_at = models.DateTimeField(_("último lote em"), null=True, blank=True)
    # Why the campaign stopped by itself (quota, account restriction), in pt-BR.
    stopped_reason = models.TextField(_("motivo da parada"), blank=True)
    created_at = models.DateTimeField(_("criada em"), auto_now_add=True)
    started_at = models.DateTimeField(_("iniciada em"), null=True, blank=True)
    finished_at = models.DateTimeField(_("concluída em"), null=True, blank=True)

    class Meta:
        verbose_name = _("campanha")
        verbose_name_plural = _("campanhas")
        ordering = ["-pk"]

    def __str__(self) -> str:
        return self.name


class Variant(TenantOwned):
    """A template and its parameters. `params` is a list, in the template's order, of
    `{"field": "nome"}` (a customer field, campaigns.params) or `{"value": "..."}`."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="variants")
    label = models.CharField(_("rótulo"), max_length=40, default="A")
    template = models.ForeignKey(MessageTemplate, on_delete=models.PROTECT, related_name="+")
    params = models.JSONField(_("parâmetros"), default=list, blank=True)
    # The A/B test's decision: once set, every later message uses this variant.
    winner = models.BooleanField(_("vencedora"), default=False)

    class Meta:
        verbose_name = _("variante")
        verbose_name_plural = _("variantes")
        ordering = ["campaign", "pk"]

    def __str__(self) -> str:
        return f"{self.label}: {self.template.name}"


class CampaignRecipient(TenantOwned):
    class Status(models.TextChoices):
        PENDING = "pending", _("Na fila")
        SENT = "sent", _("Enviada")
        SKIPPED = "skipped", _("Ignorada")
        FAILED = "failed", _("Falhou")

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="recipients")
    cliente = models.ForeignKey(Cliente, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(
        _("situação"), max_length=8, choices=Status.choices, default=Status.PENDING
    )
    variant = models.ForeignKey(Variant, null=True, blank=True, on_delete=models.SET_NULL)
    message = models.ForeignKey(Message, null=True, blank=True, on_delete=models.SET_NULL)
    # Why nothing went: the outbox's refusal code (opted_out, outside_24h_window…) or Meta's.
    reason = models.CharField(_("motivo"), max_length=64, blank=True)
    sent_at = models.DateTimeField(_("enviada em"), null=True, blank=True, db_index=True)
    # The customer's first reply after the message (campaigns.replies routes it once).
    replied_at = models.DateTimeField(_("respondeu em"), null=True, blank=True)

    class Meta:
        verbose_name = _("destinatário")
        verbose_name_plural = _("destinatários")
        constraints = [
            models.UniqueConstraint(fields=["campaign", "cliente"], name="campaign_recipient_once")
        ]
        indexes = [models.Index(fields=["campaign", "status"])]


class CampaignSuggestion(TenantOwned):
    """The assistant's parameters for one customer of a campaign (campaigns.params,
    `{"assistant": …}`), by instruction: computed once, before the send (and for the
    preview), and read by every later batch, so a resumed campaign sends the same text."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="suggestions")
    cliente = models.ForeignKey(Cliente, on_delete=models.CASCADE, related_name="+")
    values = models.JSONField(_("valores"), default=dict)
    # The instructions whose value is the fixed fallback (the model off, failed or unusable).
    fallbacks = models.JSONField(_("valores padrão usados"), default=list, blank=True)
    created_at = models.DateTimeField(_("calculada em"), auto_now_add=True)

    class Meta:
        verbose_name = _("sugestão do assistente")
        verbose_name_plural = _("sugestões do assistente")
        constraints = [
            models.UniqueConstraint(fields=["campaign", "cliente"], name="campaign_suggestion_once")
        ]


class ContactImport(TenantOwned):
    """A CSV of contacts and the proof of their opt-in (campaigns.imports); an audience
    may be "the customers of this import" (`{"import_id": …}`)."""

    name = models.CharField(_("arquivo"), max_length=200)
    created_at = models.DateTimeField(_("importado em"), auto_now_add=True)
    created_by = models.CharField(_("importado por"), max_length=200, blank=True)
    clientes = models.ManyToManyField(Cliente, through="ContactOptIn", related_name="+")

    class Meta:
        verbose_name = _("importação de contatos")
        verbose_name_plural = _("importações de contatos")
        ordering = ["-pk"]

    def __str__(self) -> str:
        return self.name


class ContactOptIn(TenantOwned):
    """One imported customer and how they agreed to receive messages (LGPD art. 8: the
    controller must be able to prove the consent; WhatsApp's Business Messaging Policy asks
    for an opt-in before a business messages someone, https://business.whatsapp.com/policy)."""

    contact_import = models.ForeignKey(
        ContactImport, on_delete=models.CASCADE, related_name="optins"
    )
    cliente = models.ForeignKey(Cliente, on_delete=models.CASCADE, related_name="+")
    proof = models.CharField(_("prova do consentimento"), max_length=255)
    agreed_at = models.DateTimeField(_("consentiu em"), null=True, blank=True)

    class Meta:
        verbose_name = _("consentimento importado")
        verbose_name_plural = _("consentimentos importados")
        constraints = [
            models.UniqueConstraint(fields=["contact_import", "cliente"], name="contact_optin_once")
        ]


class ScheduledMessage(TenantOwned):
    """A message a staff member scheduled to one customer (campaigns.scheduled): at
    `send_at` it goes as text when the 24-hour window is open, else as the template;
    cancellable until then."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Agendada")
        SENT = "sent", _("Enviada")
        CANCELED = "canceled", _("Cancelada")
        FAILED = "failed", _("Não enviada")

    chatbot = models.ForeignKey(Chatbot, on_delete=models.CASCADE, related_name="+")
    cliente = models.ForeignKey(Cliente, on_delete=models.CASCADE, related_name="+")
    text = models.TextField(_("texto"))
    template = models.ForeignKey(
        MessageTemplate, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    params = models.JSONField(_("parâmetros do modelo"), default=list, blank=True)
    send_at = models.DateTimeField(_("enviar em"), db_index=True)
    status = models.CharField(
        _("situação"), max_length=8, choices=Status.choices, default=Status.PENDING
    )
    reason = models.CharField(_("motivo"), max_length=255, blank=True)
    message = models.ForeignKey(Message, null=True, blank=True, on_delete=models.SET_NULL)
    created_by = models.CharField(_("agendada por"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("criada em"), auto_now_add=True)

    class Meta:
        verbose_name = _("mensagem agendada")
        verbose_name_plural = _("mensagens agendadas")
        ordering = ["send_at", "pk"]
        indexes = [models.Index(fields=["status", "send_at"])]


class SurveyConfig(TenantOwned):
    """The tenant's satisfaction survey after a human conversation (campaigns.surveys)."""

    class Kind(models.TextChoices):
        SCALE = "scale", _("Nota de 1 a 5")
        BUTTONS = "buttons", _("Três botões (ótimo, regular, ruim)")

    enabled = models.BooleanField(_("ativa"), default=False)
    kind = models.CharField(_("formato"), max_length=8, choices=Kind.choices, default=Kind.BUTTONS)
    question = models.CharField(
        _("pergunta"),
        max_length=400,
        default=_("Como você avalia o atendimento que recebeu?"),
    )
    delay_minutes = models.PositiveSmallIntegerField(
        _("enviar quantos minutos depois do encerramento"), default=0
    )

    class Meta:
        verbose_name = _("pesquisa de satisfação")
        verbose_name_plural = _("pesquisas de satisfação")
        constraints = [models.UniqueConstraint(fields=["tenant"], name="survey_config_per_tenant")]


class Survey(TenantOwned):
    """One survey sent after one ticket an attendant closed, and the customer's score."""

    class Status(models.TextChoices):
        SENT = "sent", _("Enviada")
        ANSWERED = "answered", _("Respondida")
        FAILED = "failed", _("Não enviada")

    ticket = models.OneToOneField(Ticket, on_delete=models.CASCADE, related_name="+")
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="+")
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    queue = models.ForeignKey(
        Queue, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    message = models.ForeignKey(Message, null=True, blank=True, on_delete=models.SET_NULL)
    status = models.CharField(_("situação"), max_length=8, choices=Status.choices)
    reason = models.CharField(_("motivo"), max_length=255, blank=True)
    score = models.PositiveSmallIntegerField(_("nota"), null=True, blank=True)
    sent_at = models.DateTimeField(_("enviada em"), db_index=True)
    answered_at = models.DateTimeField(_("respondida em"), null=True, blank=True)

    class Meta:
        verbose_name = _("resposta de satisfação")
        verbose_name_plural = _("respostas de satisfação")
        indexes = [models.Index(fields=["conversation", "status"])]
