"""Messages a staff member schedules to one customer (ScheduledMessage).

At `send_at` (the `bulk_scheduled_due` task, every minute) the text goes through the outbox
(`send_to_customer`), so every gate applies. Inside WhatsApp's 24-hour window the text goes
as typed; outside it Meta accepts only an approved template (Meta:
https://developers.facebook.com/docs/whatsapp/cloud-api/guides/send-message-templates): the
template the staff member picked, else the bot's approved template of purpose
`scheduled_message` with the text as its parameter. Without either the row fails with the
outbox's reason. Until it is sent it may be cancelled.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns.models import ScheduledMessage
from campaigns.params import template_problem
from chatbots import outbox
from chatbots.models import Chatbot, Message, MessageTemplate
from clientes.models import Cliente

PURPOSE = "scheduled_message"
BATCH = 200


class ScheduleError(ValueError):
    """A message that cannot be scheduled or cancelled; the text says why (pt-BR)."""


def scheduled_create(
    *,
    chatbot: Chatbot,
    cliente: Cliente,
    text: str,
    send_at: datetime,
    template: MessageTemplate | None = None,
    params: list[str] | None = None,
    by: str = "",
    now: datetime | None = None,
) -> ScheduledMessage:
    now = now or timezone.now()
    if cliente.tenant_id != chatbot.tenant_id:
        raise ScheduleError(_("Cliente de outra empresa."))
    if not text.strip():
        raise ScheduleError(_("Escreva a mensagem."))
    if send_at <= now:
        raise ScheduleError(_("Escolha um horário no futuro."))
    if template is not None and (problem := template_problem(template, chatbot)):
        raise ScheduleError(problem)
    return ScheduledMessage.objects.create(
        tenant_id=chatbot.tenant_id,
        chatbot=chatbot,
        cliente=cliente,
        text=text.strip(),
        template=template,
        params=params or [],
        send_at=send_at,
        created_by=by,
    )


def scheduled_cancel(*, scheduled: ScheduledMessage) -> bool:
    """Cancel a message not yet sent; False when it already went (or was cancelled)."""
    changed = ScheduledMessage.objects.filter(
        pk=scheduled.pk, status=ScheduledMessage.Status.PENDING
    ).update(status=ScheduledMessage.Status.CANCELED)
    scheduled.refresh_from_db()
    return bool(changed)


def _template(scheduled: ScheduledMessage) -> outbox.Template | None:
    if scheduled.template is not None:
        return outbox.Template(
            name=scheduled.template.name,
            language=scheduled.template.language,
            params=[str(p) for p in scheduled.params],
        )
    return outbox.template_for(
        chatbot=scheduled.chatbot,
        purpose=PURPOSE,
        params=[scheduled.text],
        cliente=scheduled.cliente,
    )


def scheduled_due(*, now: datetime | None = None) -> int:
    """Send the messages whose time came; return how many were handed to the outbox."""
    now = now or timezone.now()
    sent = 0
    with transaction.atomic():
        due = list(
            ScheduledMessage.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(status=ScheduledMessage.Status.PENDING, send_at__lte=now)
            .select_related("chatbot", "cliente", "template")
            .order_by("send_at", "pk")[:BATCH]
        )
        for scheduled in due:
            row = outbox.send_to_customer(
                chatbot=scheduled.chatbot,
                cliente=scheduled.cliente,
                message=outbox.Text(body=scheduled.text),
                template=_template(scheduled),
                reason="scheduled_message",
                purpose=PURPOSE,
            )
            scheduled.message = row
            if row.status == Message.Status.FAILED:
                scheduled.status = ScheduledMessage.Status.FAILED
                scheduled.reason = (row.error_detail or row.error_code)[:255]
            else:
                scheduled.status = ScheduledMessage.Status.SENT
                sent += 1
        ScheduledMessage.objects.bulk_update(due, ["status", "reason", "message"])
    return sent
