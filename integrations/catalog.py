"""The events an integrator can subscribe to: the one list, which the admin and the API
offer as choices and which refuses anything else.

Each event is emitted by the app that owns the change, through a hook this app registers at
start-up (integrations.apps), after the change commits (integrations.events).
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class EventType(models.TextChoices):
    MESSAGE_RECEIVED = "message.received", _("Mensagem recebida")
    MESSAGE_STATUS = "message.status", _("Situação de mensagem (entregue, lida, falhou)")
    CONVERSATION_HANDOFF = "conversation.handoff", _("Conversa passada a um atendente")
    CONVERSATION_CLOSED = "conversation.closed", _("Atendimento encerrado")
    ORDER_CREATED = "order.created", _("Pedido confirmado")
    ORDER_STATUS = "order.status", _("Situação de pedido")
    APPOINTMENT_CREATED = "appointment.created", _("Agendamento criado")
    APPOINTMENT_RESCHEDULED = "appointment.rescheduled", _("Agendamento remarcado")
    APPOINTMENT_CANCELLED = "appointment.cancelled", _("Agendamento cancelado")
    APPOINTMENT_NO_SHOW = "appointment.no_show", _("Cliente não compareceu")
    CONSENT_OPTED_OUT = "consent.opted_out", _("Cliente saiu das mensagens")
    CONSENT_OPTED_IN = "consent.opted_in", _("Cliente voltou a aceitar mensagens")


#: message.status reports these statuses only ("sent" is ours, not the customer's).
MESSAGE_STATUSES = ("delivered", "read", "failed")
