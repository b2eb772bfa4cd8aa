"""The attendant inbox: queues (teams) of a tenant, the tickets that hand a conversation to
a person, internal notes, quick replies and who is online.

A Ticket is one handoff episode of a conversation: waiting -> open (someone took it) ->
closed. Conversation.status mirrors the open ticket (waiting / human) and returns to
`closed` or `bot` when it ends, because the engine and its interceptors read that field
(chatbots.interceptors.core.HumanHandoff keeps the bot quiet). inbox.services is the only
writer of both.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from billing.models import TenantOwned
from chatbots.models import Conversation

DEFAULT_POSITION_MESSAGE = _(
    "Você é o número {position} na fila de {queue}. Um atendente já vai falar com você."
)
DEFAULT_CLOSED_MESSAGE = _(
    "Nosso atendimento de {queue} está fechado agora. Abrimos {opens_at}; sua mensagem fica "
    "na fila e respondemos assim que abrirmos."
)
DEFAULT_TIMEOUT_MESSAGE = _(
    "Ainda estamos com todos os atendentes ocupados. Obrigado pela paciência: você continua "
    "na fila."
)


class Queue(TenantOwned):
    """A team that attends handed-off conversations (Financeiro, Suporte, Vendas)."""

    class TimeoutAction(models.TextChoices):
        BOT = "bot", _("Voltar para o robô")
        MESSAGE = "message", _("Enviar uma mensagem")

    name = models.CharField(_("nome"), max_length=80)
    slug = models.SlugField(
        _("identificador"),
        max_length=64,
        help_text=_('Usado na configuração da etapa de transferência: {"queue": "suporte"}.'),
    )
    is_default = models.BooleanField(
        _("fila padrão"),
        default=False,
        help_text=_("Recebe as transferências que não indicam fila."),
    )
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="inbox_queues",
        verbose_name=_("atendentes"),
    )
    time_zone = models.CharField(
        _("fuso horário"),
        max_length=64,
        blank=True,
        help_text=_("Vazio: o fuso da empresa (America/Sao_Paulo por padrão)."),
    )
    position_message = models.TextField(
        _("mensagem de posição na fila"),
        blank=True,
        help_text=_("Vazio: o texto padrão. Use {position} e {queue}."),
    )
    closed_message = models.TextField(
        _("mensagem fora do horário"),
        blank=True,
        help_text=_("Vazio: o texto padrão. Use {opens_at} e {queue}."),
    )
    timeout_minutes = models.PositiveIntegerField(
        _("tempo máximo de espera (minutos)"),
        default=0,
        help_text=_("0: sem limite. Contado enquanto a fila está aberta."),
    )
    timeout_action = models.CharField(
        _("ao passar do tempo"),
        max_length=16,
        choices=TimeoutAction.choices,
        default=TimeoutAction.MESSAGE,
    )
    timeout_message = models.TextField(
        _("mensagem de espera longa"),
        blank=True,
        help_text=_("Vazio: o texto padrão. Também enviada ao voltar para o robô."),
    )
    auto_assign = models.BooleanField(
        _("distribuição automática"),
        default=False,
        help_text=_("Distribui em rodízio entre os atendentes da fila que estão online."),
    )
    max_per_agent = models.PositiveIntegerField(
        _("limite por atendente"),
        default=0,
        help_text=_("Conversas abertas ao mesmo tempo por atendente; 0: sem limite."),
    )
    created_at = models.DateTimeField(_("criada em"), auto_now_add=True)

    class Meta:
        verbose_name = _("fila de atendimento")
        verbose_name_plural = _("filas de atendimento")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "slug"], name="inbox_queue_unique_slug"),
            models.UniqueConstraint(
                fields=["tenant"], condition=Q(is_default=True), name="inbox_queue_one_default"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class QueueHours(TenantOwned):
    """One opening interval of a queue on a weekday (several per day for a lunch break).
    A queue with no intervals at all is always open."""

    class Weekday(models.IntegerChoices):
        MONDAY = 0, _("Segunda-feira")
        TUESDAY = 1, _("Terça-feira")
        WEDNESDAY = 2, _("Quarta-feira")
        THURSDAY = 3, _("Quinta-feira")
        FRIDAY = 4, _("Sexta-feira")
        SATURDAY = 5, _("Sábado")
        SUNDAY = 6, _("Domingo")

    queue = models.ForeignKey(Queue, on_delete=models.CASCADE, related_name="hours")
    weekday = models.PositiveSmallIntegerField(_("dia da semana"), choices=Weekday.choices)
    opens = models.TimeField(_("abre"))
    closes = models.TimeField(_("fecha"))

    class Meta:
        verbose_name = _("horário")
        verbose_name_plural = _("horários")
        ordering = ["queue", "weekday", "opens"]
        constraints = [
            models.CheckConstraint(
                condition=Q(closes__gt=models.F("opens")), name="inbox_hours_closes_after_opens"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.opens:%H:%M}–{self.closes:%H:%M}"


class QueueHoliday(TenantOwned):
    """A day the queue is closed all day."""

    queue = models.ForeignKey(Queue, on_delete=models.CASCADE, related_name="holidays")
    date = models.DateField(_("data"))
    name = models.CharField(_("nome"), max_length=80, blank=True)

    class Meta:
        verbose_name = _("feriado")
        verbose_name_plural = _("feriados")
        ordering = ["queue", "date"]
        constraints = [
            models.UniqueConstraint(fields=["queue", "date"], name="inbox_holiday_unique_day")
        ]

    def __str__(self) -> str:
        return f"{self.date:%d/%m/%Y} {self.name}".strip()


class Ticket(TenantOwned):
    """One handoff episode of a conversation, from the customer's request to its end."""

    class Status(models.TextChoices):
        WAITING = "waiting", _("Aguardando atendente")
        OPEN = "open", _("Em atendimento")
        CLOSED = "closed", _("Encerrado")

    class Outcome(models.TextChoices):
        CLOSED = "closed", _("Encerrado pelo atendente")
        BOT = "bot", _("Devolvido ao robô")
        TIMEOUT = "timeout", _("Devolvido ao robô por tempo de espera")

    OPEN_STATUSES = (Status.WAITING, Status.OPEN)

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="tickets", verbose_name=_("conversa")
    )
    queue = models.ForeignKey(
        Queue, on_delete=models.PROTECT, related_name="tickets", verbose_name=_("fila")
    )
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="inbox_tickets",
        verbose_name=_("atendente"),
    )
    status = models.CharField(
        _("situação"), max_length=16, choices=Status.choices, default=Status.WAITING
    )
    outcome = models.CharField(_("desfecho"), max_length=16, choices=Outcome.choices, blank=True)
    opened_at = models.DateTimeField(_("aberto em"), auto_now_add=True)
    assigned_at = models.DateTimeField(_("atribuído em"), null=True, blank=True)
    first_response_at = models.DateTimeField(_("primeira resposta em"), null=True, blank=True)
    closed_at = models.DateTimeField(_("encerrado em"), null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("encerrado por"),
    )
    last_customer_message_at = models.DateTimeField(
        _("última mensagem do cliente"), null=True, blank=True
    )
    unread = models.PositiveIntegerField(_("não lidas"), default=0)
    # When the queue's "long wait" message went out, so the beat task sends it once.
    timeout_notified_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("atendimento")
        verbose_name_plural = _("atendimentos")
        ordering = ["-opened_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["conversation"],
                condition=Q(status__in=["waiting", "open"]),
                name="inbox_ticket_one_open_per_conversation",
            )
        ]
        indexes = [
            models.Index(fields=["tenant", "status", "queue", "opened_at"]),
            models.Index(fields=["assigned_to", "status"]),
            models.Index(fields=["tenant", "closed_at"]),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_status_display()}"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES


class Note(TenantOwned):
    """An internal note on a conversation: staff read it, the customer never does."""

    conversation = models.ForeignKey(
        Conversation,
        on_delete=models.CASCADE,
        related_name="inbox_notes",
        verbose_name=_("conversa"),
    )
    ticket = models.ForeignKey(
        Ticket, on_delete=models.SET_NULL, null=True, blank=True, related_name="notes"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("autor"),
    )
    text = models.TextField(_("texto"))
    created_at = models.DateTimeField(_("criada em"), auto_now_add=True)

    class Meta:
        verbose_name = _("nota interna")
        verbose_name_plural = _("notas internas")
        ordering = ["conversation", "id"]

    def __str__(self) -> str:
        return f"#{self.pk}"


class QuickReply(TenantOwned):
    """A canned answer an attendant inserts by typing "/" and its shortcut."""

    queue = models.ForeignKey(
        Queue,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="quick_replies",
        verbose_name=_("fila"),
        help_text=_("Vazio: para todas as filas."),
    )
    shortcut = models.SlugField(_("atalho"), max_length=32)
    text = models.TextField(_("texto"))

    class Meta:
        verbose_name = _("resposta rápida")
        verbose_name_plural = _("respostas rápidas")
        ordering = ["shortcut"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "queue", "shortcut"],
                condition=Q(queue__isnull=False),
                name="inbox_quickreply_unique_in_queue",
            ),
            models.UniqueConstraint(
                fields=["tenant", "shortcut"],
                condition=Q(queue__isnull=True),
                name="inbox_quickreply_unique_for_all",
            ),
        ]

    def __str__(self) -> str:
        return f"/{self.shortcut}"


class AgentPresence(TenantOwned):
    """Whether a staff member is online for a tenant (written by the staff app's socket)."""

    class Status(models.TextChoices):
        ONLINE = "online", _("Online")
        AWAY = "away", _("Ausente")
        OFFLINE = "offline", _("Offline")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="inbox_presences"
    )
    status = models.CharField(
        _("situação"), max_length=16, choices=Status.choices, default=Status.OFFLINE
    )
    last_seen = models.DateTimeField(_("visto em"), auto_now=True)

    class Meta:
        verbose_name = _("presença")
        verbose_name_plural = _("presenças")
        constraints = [
            models.UniqueConstraint(fields=["tenant", "user"], name="inbox_presence_unique_user")
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.status})"


class StaffReply(TenantOwned):
    """Who on the staff wrote an outbound message (the Message row itself is the outbox's)."""

    message = models.OneToOneField(
        "chatbots.Message", on_delete=models.CASCADE, related_name="staff_reply"
    )
    ticket = models.ForeignKey(
        Ticket, on_delete=models.SET_NULL, null=True, blank=True, related_name="replies"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("resposta de atendente")
        verbose_name_plural = _("respostas de atendentes")

    def __str__(self) -> str:
        return f"#{self.message_id}"
