"""Periodic jobs of the agenda (thin: one service call each; the services claim each
appointment with a conditional UPDATE, so overlapping ticks or workers never repeat a
message). Scheduled in config/schedule.py; routed to the `bulk` queue by name."""

from __future__ import annotations

from celery import shared_task

from agenda import noshow, notifications, waitlist


@shared_task(name="agenda.tasks.bulk_send_reminders")
def bulk_send_reminders() -> dict[str, int]:
    """Every 5 minutes: the 24 h and 1 h reminders that are due, once each."""
    return notifications.lembretes_send()


@shared_task(name="agenda.tasks.bulk_mark_no_shows")
def bulk_mark_no_shows() -> int:
    """Every 15 minutes: appointments past their end plus tolerance become no-shows, and
    the customer is offered to book again."""
    return notifications.no_shows_process()


@shared_task(name="agenda.tasks.bulk_send_followups")
def bulk_send_followups() -> int:
    """Every 5 minutes: the satisfaction question, an hour after an attended appointment."""
    return notifications.followups_send()


@shared_task(name="agenda.tasks.bulk_no_show_risk")
def bulk_no_show_risk() -> dict[str, int]:
    """Every 15 minutes: score the next 48 hours' appointments and ask the likely no-shows
    to confirm (once each)."""
    return noshow.risco_process()


@shared_task(name="agenda.tasks.bulk_fit_no_show_models")
def bulk_fit_no_show_models() -> int:
    """Nightly: refit each tenant's no-show model on its history."""
    return noshow.modelos_fit()


@shared_task(name="agenda.tasks.bulk_offer_freed_slot")
def bulk_offer_freed_slot(agendamento_id: int) -> int:
    """After a cancellation or a move: offer the freed time to the waiting list."""
    return waitlist.vaga_offer(agendamento_id=agendamento_id)
