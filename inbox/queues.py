"""Writes of a tenant's inbox configuration: queues (members, hours, holidays, messages)
and quick replies. Owners and admins call these (admin, API)."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from inbox.models import Queue, QueueHoliday, QueueHours, QuickReply


def _check_queue(tenant_id: int, data: dict[str, Any], instance: Queue | None) -> None:
    slug = data.get("slug")
    if slug:
        taken = Queue.objects.filter(tenant_id=tenant_id, slug=slug)
        if instance is not None:
            taken = taken.exclude(pk=instance.pk)
        if taken.exists():
            raise ValidationError(
                {"slug": _("Já existe uma fila com o identificador “%s”.") % slug}
            )
    zone = data.get("time_zone")
    if zone:
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValidationError(
                {"time_zone": _("Fuso horário desconhecido: use um nome como America/Sao_Paulo.")}
            ) from None


@transaction.atomic
def queue_save(*, tenant_id: int, data: dict[str, Any], instance: Queue | None = None) -> Queue:
    """Create or change a queue; `hours` and `holidays`, when given, replace the old ones.
    Marking it the default unmarks the previous default."""
    data = dict(data)
    members = data.pop("members", None)
    hours = data.pop("hours", None)
    holidays = data.pop("holidays", None)
    _check_queue(tenant_id, data, instance)
    if data.get("is_default"):
        others = Queue.objects.filter(tenant_id=tenant_id, is_default=True)
        if instance is not None:
            others = others.exclude(pk=instance.pk)
        others.update(is_default=False)
    queue = instance or Queue(tenant_id=tenant_id)
    for name, value in data.items():
        setattr(queue, name, value)
    queue.save()
    if members is not None:
        queue.members.set(members)
    if hours is not None:
        queue.hours.all().delete()
        QueueHours.objects.bulk_create(
            QueueHours(tenant_id=tenant_id, queue=queue, **h) for h in hours
        )
    if holidays is not None:
        queue.holidays.all().delete()
        QueueHoliday.objects.bulk_create(
            QueueHoliday(tenant_id=tenant_id, queue=queue, **h) for h in holidays
        )
    return queue


def queue_delete(*, queue: Queue) -> None:
    if queue.tickets.exists():
        raise ValidationError(
            _("A fila tem atendimentos registrados: transfira-os ou mantenha a fila.")
        )
    queue.delete()


def quick_reply_save(
    *, tenant_id: int, data: dict[str, Any], instance: QuickReply | None = None
) -> QuickReply:
    reply = instance or QuickReply(tenant_id=tenant_id)
    for name, value in data.items():
        setattr(reply, name, value)
    taken = QuickReply.objects.filter(
        tenant_id=tenant_id, shortcut=reply.shortcut, queue=reply.queue
    ).exclude(pk=reply.pk)
    if taken.exists():
        raise ValidationError(
            {"shortcut": _("Já existe a resposta rápida /%s para essa fila.") % reply.shortcut}
        )
    reply.save()
    return reply
