"""Satisfaction after a human conversation: when an attendant closes a ticket, an optional
survey (SurveyConfig: a 1–5 list or three buttons), and the scores per agent and queue.

`surveys_due` (the `bulk_surveys_due` task, every minute) sends one survey per ticket an
attendant closed (Ticket.Outcome.CLOSED; not one the bot took back) in the last day, once its
delay passed, through the outbox (`send_to_customer`, proactive: a customer who opted out
gets none). Inside WhatsApp's 24-hour window it goes as the list or buttons; outside it only
an approved template may (Meta:
https://developers.facebook.com/docs/whatsapp/cloud-api/guides/send-message-templates): the
bot's template of purpose `satisfaction_survey`, whose quick-reply buttons the customer
taps; without one the survey row records why nothing went.

`survey_answer` reads the answer (a tapped row or button `csat:N`, a digit 1–5, or the
button's title) within SURVEY_ANSWER_WINDOW of the survey;
chatbots.interceptors.survey calls it before the flow sees the message.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import Avg, Count, F
from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns.models import Survey, SurveyConfig
from chatbots import outbox
from chatbots.models import Conversation, Message
from inbox.models import Ticket

PURPOSE = "satisfaction_survey"
PREFIX = "csat:"
LOOKBACK = timedelta(days=1)  # tickets closed longer ago than this are not surveyed
SURVEY_ANSWER_WINDOW = timedelta(hours=24)
BATCH = 200
DIGIT = re.compile(r"^\s*([1-5])\s*(?:estrelas?)?\s*[.!]?\s*$", re.IGNORECASE)


def _labels() -> dict[int, str]:
    return {5: _("Ótimo"), 3: _("Regular"), 1: _("Ruim")}


def survey_message(config: SurveyConfig) -> outbox.Outbound:
    if config.kind == SurveyConfig.Kind.SCALE:
        rows = [
            outbox.Row(id=f"{PREFIX}{n}", title=str(n), description=label)
            # In the order of the numbers: a customer who types "4" for the fourth row
            # (chatbots.numbered) gives a 4.
            for n, label in (
                (1, _("Péssimo")),
                (2, _("Ruim")),
                (3, _("Regular")),
                (4, _("Bom")),
                (5, _("Excelente")),
            )
        ]
        return outbox.ListMessage(
            body=config.question,
            button=_("Dar nota"),
            sections=[outbox.Section(title=_("Nota"), rows=rows)],
        )
    return outbox.Buttons(
        body=config.question,
        buttons=[outbox.Button(id=f"{PREFIX}{n}", title=t) for n, t in _labels().items()],
    )


def surveys_due(*, now: datetime | None = None) -> int:
    """Send the surveys whose time came; return how many were handed to the outbox."""
    now = now or timezone.now()
    sent = 0
    configs = SurveyConfig.objects.filter(enabled=True)
    for config in configs:
        due = (
            Ticket.objects.filter(
                tenant_id=config.tenant_id,
                status=Ticket.Status.CLOSED,
                outcome=Ticket.Outcome.CLOSED,
                closed_at__gt=now - LOOKBACK,
                closed_at__lte=now - timedelta(minutes=config.delay_minutes),
            )
            .exclude(pk__in=Survey.objects.filter(tenant_id=config.tenant_id).values("ticket_id"))
            .select_related("conversation__chatbot", "conversation__cliente", "queue")
            .order_by("closed_at")[:BATCH]
        )
        for ticket in due:
            sent += _send(config, ticket, now)
    return sent


def _send(config: SurveyConfig, ticket: Ticket, now: datetime) -> int:
    conversation = ticket.conversation
    try:
        with transaction.atomic():
            survey = Survey.objects.create(
                tenant_id=ticket.tenant_id,
                ticket=ticket,
                conversation=conversation,
                agent_id=ticket.assigned_to_id,
                queue=ticket.queue,
                status=Survey.Status.SENT,
                sent_at=now,
            )
            row = outbox.send_to_customer(
                chatbot=conversation.chatbot,
                cliente=conversation.cliente,
                message=survey_message(config),
                template=outbox.template_for(
                    chatbot=conversation.chatbot,
                    purpose=PURPOSE,
                    params=[],
                    cliente=conversation.cliente,
                ),
                reason=PURPOSE,
                proactive=True,
            )
            survey.message = row
            if row.status == Message.Status.FAILED:
                survey.status, survey.reason = Survey.Status.FAILED, row.error_code
            survey.save(update_fields=["message", "status", "reason"])
            if survey.status == Survey.Status.SENT:
                transaction.on_commit(lambda: _mark_pending(conversation.pk))
    except IntegrityError:  # another run surveyed this ticket
        return 0
    return int(survey.status == Survey.Status.SENT)


def survey_score_of(text: str, reply_id: str = "") -> int | None:
    """The score a message gives (1–5), or None when it does not read as one."""
    if reply_id.startswith(PREFIX) and reply_id[len(PREFIX) :].isdigit():
        n = int(reply_id[len(PREFIX) :])
        return n if 1 <= n <= 5 else None
    if match := DIGIT.match(text or ""):
        return int(match.group(1))
    title = (text or "").strip().casefold()
    for n, label in _labels().items():
        if title == label.casefold():
            return n
    return None


def _key(conversation_id: int) -> str:
    return f"campaigns:survey-pending:{conversation_id}"


def _mark_pending(conversation_id: int) -> None:
    # A flag in the cache, so that the bot-only path (every "1" typed at a menu) asks the
    # database only for a conversation that was really surveyed.
    cache.set(_key(conversation_id), 1, timeout=int(SURVEY_ANSWER_WINDOW.total_seconds()))


def survey_maybe_pending(conversation: Conversation) -> bool:
    return bool(cache.get(_key(conversation.pk)))


def survey_pending(conversation: Conversation, *, now: datetime | None = None) -> Survey | None:
    now = now or timezone.now()
    return (
        Survey.objects.filter(
            conversation=conversation,
            status=Survey.Status.SENT,
            sent_at__gt=now - SURVEY_ANSWER_WINDOW,
        )
        .order_by("-sent_at")
        .first()
    )


def survey_answer(conversation: Conversation, *, text: str, reply_id: str = "") -> int | None:
    """Record the customer's score when this message answers their pending survey."""
    score = survey_score_of(text, reply_id)
    if score is None:
        return None
    survey = survey_pending(conversation)
    if survey is None:
        return None
    Survey.objects.filter(pk=survey.pk, status=Survey.Status.SENT).update(
        status=Survey.Status.ANSWERED, score=score, answered_at=timezone.now()
    )
    cache.delete(_key(conversation.pk))
    return score


def survey_scores(*, tenant_id: int, since: datetime | None = None) -> dict[str, list[dict]]:
    """Average score and answers per agent and per queue (the dashboard)."""
    answered = Survey.objects.filter(tenant_id=tenant_id, status=Survey.Status.ANSWERED)
    if since is not None:
        answered = answered.filter(answered_at__gte=since)
    by_agent = (
        answered.values(name=F("agent__first_name"), username=F("agent__username"))
        .annotate(average=Avg("score"), answers=Count("pk"))
        .order_by("-average", "username")
    )
    by_queue = (
        answered.values(name=F("queue__name"))
        .annotate(average=Avg("score"), answers=Count("pk"))
        .order_by("-average", "name")
    )
    return {"agents": list(by_agent), "queues": list(by_queue)}
