"""Campaign writes: create, start, run, pause, resume, cancel, retry the failures.

The run (`campaign_run`) sends in batches. Each batch is one transaction that locks the
campaign row, claims pending recipients (`SELECT … FOR UPDATE SKIP LOCKED`), queues each
customer's template through the outbox (`send_to_customers`, one call for the batch, in a
number of queries that does not grow with it) and marks the recipient sent with its
message. The outbox rows and the ledger rows commit together: a worker killed mid-batch
rolls both back, and the outbox (with its sweeper) sends a committed row exactly
once. So a campaign stopped by a crash resumes where it was and never messages a customer
twice. Between batches it re-reads what may have changed: a pause or cancel, the plan's
quota (billing.quotas), the account's restriction, and the tier's room for the rolling
24 hours (campaigns.limits); a full tier moves the campaign to WAITING until it frees.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from billing import quotas
from billing.models import Tenant
from billing.template_costs import country_of, rate_for
from campaigns import ab, limits, metrics, replies, stats, suggestions
from campaigns.audience import audience_customers, audience_problems
from campaigns.models import Campaign, CampaignRecipient, Variant
from campaigns.params import (
    count_problem,
    param_problems,
    params_for,
    split_header,
    template_problem,
)
from chatbots import outbox
from chatbots.models import Chatbot, Conversation, Message, Step
from inbox.models import Queue

BATCH = 100
# Batches one task runs before it hands over to a fresh one (Celery's time limits,
# CELERY_TASK_SOFT_TIME_LIMIT); a running campaign without a batch for STALLED is restarted.
TASK_BATCHES = 50
STALLED = timedelta(minutes=10)

# Meta codes after which the same message may go later (Cloud API error codes,
# https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes): throughput
# and rate limits, temporary unavailability, the per-user marketing limit ("ecosystem
# engagement", which Meta says may succeed later), and our own timeouts and 5xx.
RETRYABLE_CODES = {"130429", "131000", "131016", "131049", "131056", "timeout", "http_5xx"}


class CampaignError(ValueError):
    """A campaign that cannot be created or started; the message says what to fix."""


@dataclass(frozen=True)
class Estimate:
    customers: int
    cost: Decimal
    messages_remaining: int | None  # None: the plan has no cap


def campaign_create(
    *,
    tenant: Tenant,
    chatbot: Chatbot,
    name: str,
    variants: list[dict],
    audience: dict | None = None,
    goal: str = Campaign.Goal.REPLY,
    strategy: str = Campaign.Strategy.THOMPSON,
    scheduled_at: datetime | None = None,
    repeat_days: int | None = None,
    reply_step: str = "",
    reply_queue: Queue | None = None,
) -> Campaign:
    """`variants`: `[{"template": MessageTemplate, "params": [...], "label": "A"}, …]`."""
    if chatbot.tenant_id != tenant.pk:
        raise CampaignError(_("Chatbot de outra empresa."))
    if problems := audience_problems(audience or {}):
        raise CampaignError(" ".join(problems))
    if reply_step and not Step.objects.filter(chatbot=chatbot, code=reply_step).exists():
        raise CampaignError(_("O chatbot não tem a etapa %(code)s.") % {"code": reply_step})
    if reply_queue is not None and reply_queue.tenant_id != tenant.pk:
        raise CampaignError(_("Fila de outra empresa."))
    if reply_step and reply_queue is not None:
        raise CampaignError(
            _("A resposta vai para uma etapa do fluxo ou para uma fila, não ambas.")
        )
    if not variants:
        raise CampaignError(_("Escolha ao menos um modelo de mensagem aprovado."))
    for v in variants:
        if problem := template_problem(v["template"], chatbot):
            raise CampaignError(problem)
        if problems := param_problems(v.get("params") or []):
            raise CampaignError("; ".join(problems))
        if problem := count_problem(v["template"], v.get("params") or []):
            raise CampaignError(problem)
    with transaction.atomic():
        campaign = Campaign.objects.create(
            tenant=tenant,
            chatbot=chatbot,
            name=name,
            audience=audience or {},
            goal=goal,
            strategy=strategy,
            scheduled_at=scheduled_at,
            repeat_days=repeat_days,
            reply_step=reply_step,
            reply_queue=reply_queue,
        )
        for i, v in enumerate(variants):
            Variant.objects.create(
                tenant=tenant,
                campaign=campaign,
                label=v.get("label") or "ABCDEFGH"[i % 8],
                template=v["template"],
                params=v.get("params") or [],
            )
        if suggestions.needs_assistant(campaign):
            _enqueue_task("campaign_preview_llm", campaign.pk)
    return campaign


def campaign_estimate(*, campaign: Campaign) -> Estimate:
    """How many customers, what they would cost (the first variant's category, Brazil's or
    the configured rates), and what the plan has left this period."""
    customers = audience_customers(tenant_id=campaign.tenant_id, definition=campaign.audience)
    variant = campaign.variants.select_related("template").first()
    category = variant.template.category if variant else "MARKETING"
    cost = sum(
        (
            rate_for(category=category, country=country_of(p))
            for p in customers.values_list("telefone", flat=True)
        ),
        Decimal("0"),
    )
    state = quotas.quota_state(tenant=campaign.tenant)
    remaining = max(0, state.messages_limit - state.messages_used) if state.messages_limit else None
    return Estimate(customers=customers.count(), cost=cost, messages_remaining=remaining)


def campaign_start(*, campaign: Campaign, now: datetime | None = None) -> Campaign:
    """Write the ledger (one pending row per customer of the audience, now) and run it, at
    `scheduled_at` when that is later."""
    now = now or timezone.now()
    if campaign.status != Campaign.Status.DRAFT:
        raise CampaignError(_("Só um rascunho pode ser iniciado."))
    if why := campaign.chatbot.business_initiated_blocked(now=now):
        raise CampaignError(why)
    estimate = campaign_estimate(campaign=campaign)
    if estimate.customers == 0:
        raise CampaignError(_("O público escolhido não tem nenhum cliente que aceite mensagens."))
    if estimate.messages_remaining is not None and estimate.customers > estimate.messages_remaining:
        raise CampaignError(
            _(
                "A campanha enviaria %(n)d mensagens, mas o plano só tem %(left)d neste "
                "período. Reduza o público ou mude de plano."
            )
            % {"n": estimate.customers, "left": estimate.messages_remaining}
        )
    ids = list(
        audience_customers(tenant_id=campaign.tenant_id, definition=campaign.audience).values_list(
            "pk", flat=True
        )
    )
    with transaction.atomic():
        CampaignRecipient.objects.bulk_create(
            [
                CampaignRecipient(tenant_id=campaign.tenant_id, campaign=campaign, cliente_id=i)
                for i in ids
            ],
            ignore_conflicts=True,
            batch_size=1000,
        )
        campaign.started_at = campaign.last_batch_at = now
        if suggestions.needs_assistant(campaign):
            # The assistant writes each customer's values first (campaigns.suggestions).
            campaign.status = Campaign.Status.PREPARING
            campaign.save(update_fields=["status", "started_at", "last_batch_at"])
            _enqueue_task("campaign_prepare_llm", campaign.pk)
            return campaign
        campaign.save(update_fields=["started_at", "last_batch_at"])
        _go(campaign, now)
    return campaign


def _go(campaign: Campaign, now: datetime) -> None:
    later = campaign.scheduled_at and campaign.scheduled_at > now
    campaign.status = Campaign.Status.SCHEDULED if later else Campaign.Status.RUNNING
    campaign.last_batch_at = now
    campaign.save(update_fields=["status", "last_batch_at"])
    if not later:
        _enqueue(campaign.pk)


def campaign_prepared(*, campaign_id: int) -> bool:
    """A PREPARING campaign whose values are all written goes on: at its time, or now."""
    with transaction.atomic():
        campaign = (
            Campaign.objects.select_for_update()
            .filter(pk=campaign_id, status=Campaign.Status.PREPARING)
            .first()
        )
        if campaign is None or suggestions.unprepared(campaign):
            return False
        _go(campaign, timezone.now())
    return True


def _enqueue(campaign_id: int) -> None:
    _enqueue_task("bulk_campaign_run", campaign_id)


def _enqueue_task(name: str, campaign_id: int) -> None:
    from campaigns import tasks

    task = getattr(tasks, name)
    transaction.on_commit(lambda: task.delay(campaign_id))


def _set_status(campaign: Campaign, status: str, *, allowed: tuple[str, ...], **fields) -> bool:
    changed = Campaign.objects.filter(pk=campaign.pk, status__in=allowed).update(
        status=status, **fields
    )
    if changed:
        campaign.refresh_from_db()
    return bool(changed)


ACTIVE = (
    Campaign.Status.RUNNING,
    Campaign.Status.WAITING,
    Campaign.Status.SCHEDULED,
    Campaign.Status.PREPARING,
)


def campaign_pause(*, campaign: Campaign) -> bool:
    return _set_status(campaign, Campaign.Status.PAUSED, allowed=ACTIVE)


def campaign_resume(*, campaign: Campaign) -> bool:
    """Back to sending; a campaign paused before the assistant finished goes on preparing."""
    preparing = suggestions.unprepared(campaign)
    with transaction.atomic():
        resumed = _set_status(
            campaign,
            Campaign.Status.PREPARING if preparing else Campaign.Status.RUNNING,
            allowed=(Campaign.Status.PAUSED,),
            stopped_reason="",
            last_batch_at=timezone.now(),
        )
        if resumed:
            _enqueue_task("campaign_prepare_llm" if preparing else "bulk_campaign_run", campaign.pk)
    return resumed


def campaign_cancel(*, campaign: Campaign) -> bool:
    return _set_status(
        campaign,
        Campaign.Status.CANCELED,
        allowed=(*ACTIVE, Campaign.Status.PAUSED, Campaign.Status.DRAFT),
        finished_at=timezone.now(),
    )


def campaign_retry_failed(*, campaign: Campaign) -> int:
    """Send again to the customers whose message failed with a retryable Meta code."""
    with transaction.atomic():
        retry = CampaignRecipient.objects.filter(
            campaign=campaign,
            message__status=Message.Status.FAILED,
            message__error_code__in=RETRYABLE_CODES,
        )
        n = retry.update(status=CampaignRecipient.Status.PENDING, message=None, sent_at=None)
        if n and campaign.status in (Campaign.Status.DONE, Campaign.Status.RUNNING):
            Campaign.objects.filter(pk=campaign.pk).update(
                status=Campaign.Status.RUNNING, finished_at=None, last_batch_at=timezone.now()
            )
            _enqueue(campaign.pk)
    return n


def campaigns_due(*, now: datetime | None = None) -> list[int]:
    """Scheduled campaigns whose time came, waiting ones whose tier window freed, and running
    ones whose task was lost (no batch for STALLED). Two runs of one campaign are safe (the
    batch locks the campaign row), only wasted."""
    now = now or timezone.now()
    due = Campaign.objects.filter(
        Q(status=Campaign.Status.SCHEDULED, scheduled_at__lte=now)
        | Q(status=Campaign.Status.WAITING, next_run_at__lte=now)
    )
    ids = list(due.values_list("pk", flat=True))
    due.update(status=Campaign.Status.RUNNING, next_run_at=None, last_batch_at=now)
    stalled = Campaign.objects.filter(
        Q(last_batch_at__lt=now - STALLED) | Q(last_batch_at__isnull=True),
        status=Campaign.Status.RUNNING,
    ).exclude(pk__in=ids)
    stalled_ids = list(stalled.values_list("pk", flat=True))
    stalled.update(last_batch_at=now)
    return ids + stalled_ids


def campaigns_preparing_stalled(*, now: datetime | None = None) -> list[int]:
    """PREPARING campaigns whose preparation task was lost (no pass for STALLED)."""
    now = now or timezone.now()
    stalled = Campaign.objects.filter(
        status=Campaign.Status.PREPARING, last_batch_at__lt=now - STALLED
    )
    ids = list(stalled.values_list("pk", flat=True))
    stalled.update(last_batch_at=now)
    return ids


def campaign_run(
    *,
    campaign_id: int,
    batch: int = BATCH,
    max_batches: int | None = None,
    rng: random.Random | None = None,
) -> int:
    """Send batches until the campaign is done, paused, stopped or waiting for its tier;
    return how many customers were messaged. `max_batches` bounds one call (tests, A/B)."""
    total, _more = campaign_run_some(
        campaign_id=campaign_id, batch=batch, max_batches=max_batches, rng=rng
    )
    return total


def campaign_run_some(
    *,
    campaign_id: int,
    batch: int = BATCH,
    max_batches: int | None = None,
    rng: random.Random | None = None,
) -> tuple[int, bool]:
    """`campaign_run`, and whether batches remain after `max_batches`."""
    rng = rng or random.Random()
    total, batches, more = 0, 0, True
    while max_batches is None or batches < max_batches:
        sent, more = _run_batch(campaign_id, batch=batch, rng=rng)
        total += sent
        batches += 1
        if not more:
            break
    return total, more


def _stop(campaign: Campaign, status: str, reason: str = "", **fields) -> None:
    campaign.status, campaign.stopped_reason = status, reason
    for k, v in fields.items():
        setattr(campaign, k, v)
    campaign.save(update_fields=["status", "stopped_reason", *fields])


def _run_batch(campaign_id: int, *, batch: int, rng: random.Random) -> tuple[int, bool]:
    now = timezone.now()
    with transaction.atomic():
        campaign = (
            Campaign.objects.select_for_update()
            .select_related("chatbot", "tenant")
            .filter(pk=campaign_id)
            .first()
        )
        if campaign is None or campaign.status != Campaign.Status.RUNNING:
            return 0, False
        chatbot = campaign.chatbot
        if why := chatbot.business_initiated_blocked(now=now):
            _stop(campaign, Campaign.Status.PAUSED, why)
            return 0, False
        state = quotas.quota_state(tenant=campaign.tenant, now=now)
        if state.blocked or not quotas.sending_allowed(tenant_id=campaign.tenant_id):
            _stop(campaign, Campaign.Status.PAUSED, _("A cota de mensagens do plano acabou."))
            return 0, False
        room = limits.tier_room(chatbot, now=now)
        size = batch if room is None else min(batch, room)
        if state.messages_limit:
            size = min(size, max(0, state.messages_limit - state.messages_used))
        pending = CampaignRecipient.objects.filter(
            campaign=campaign, status=CampaignRecipient.Status.PENDING
        )
        if size == 0:
            if not pending.exists():
                _finish(campaign, now)
            else:
                _stop(
                    campaign,
                    Campaign.Status.WAITING,
                    _("O número atingiu o limite de clientes por 24 horas da Meta."),
                    next_run_at=limits.tier_frees_at(chatbot, now=now),
                )
            return 0, False
        claimed = list(
            pending.select_for_update(skip_locked=True, of=("self",))
            .select_related("cliente")
            .order_by("pk")[:size]
        )
        if not claimed:
            _finish(campaign, now)
            return 0, False
        campaign_decide(campaign=campaign)
        variants = _variants(campaign)
        arms = stats.arms(campaign=campaign, variants=variants)
        suggested = suggestions.suggestions_of(
            campaign=campaign, cliente_ids=[r.cliente_id for r in claimed]
        )
        sent = 0
        messages = []
        for recipient in claimed:
            recipient.variant = _pick(campaign, variants, arms, rng)
            header, values = split_header(
                recipient.variant.template,
                params_for(
                    recipient.variant.params,
                    recipient.cliente,
                    suggested.get(recipient.cliente_id),
                ),
            )
            message = outbox.Template(
                name=recipient.variant.template.name,
                language=recipient.variant.template.language,
                params=values,
                header=header,
            )
            messages.append((recipient.cliente, message))
        # One call for the batch: its outbox rows are written in a few statements, in this
        # transaction, so they commit with the ledger's rows below or not at all.
        rows = outbox.send_to_customers(
            chatbot=chatbot, messages=messages, reason="campaign", proactive=True
        )
        for recipient, row in zip(claimed, rows, strict=True):
            recipient.message = row
            if row.status == Message.Status.FAILED:
                recipient.status, recipient.reason = (
                    CampaignRecipient.Status.SKIPPED,
                    row.error_code,
                )
            else:
                recipient.status, recipient.sent_at = CampaignRecipient.Status.SENT, now
                sent += 1
        CampaignRecipient.objects.bulk_update(
            claimed, ["status", "reason", "variant", "message", "sent_at"]
        )
        transaction.on_commit(lambda: metrics.batch_counted(claimed))
        Campaign.objects.filter(pk=campaign.pk).update(last_batch_at=now)
        if campaign.reply_step:
            _enter_reply_step(campaign, claimed)
        if campaign.reply_queue_id:
            replies.replies_expect(
                r.message.conversation_id
                for r in claimed
                if r.status == CampaignRecipient.Status.SENT
            )
    return sent, True


def _enter_reply_step(campaign: Campaign, recipients: list[CampaignRecipient]) -> None:
    """The conversations the message went to wait at the campaign's step, so its handler
    takes the reply; one a person is handling (or waiting for) is left alone."""
    ids = [
        r.message.conversation_id for r in recipients if r.status == CampaignRecipient.Status.SENT
    ]
    Conversation.objects.filter(pk__in=ids).exclude(
        status__in=[Conversation.Status.HUMAN, Conversation.Status.WAITING]
    ).update(current_step=campaign.reply_step, updated_at=timezone.now())


def _finish(campaign: Campaign, now: datetime) -> None:
    _stop(campaign, Campaign.Status.DONE, finished_at=now)
    if campaign.repeat_days:
        campaign_repeat(campaign=campaign)


def campaign_repeat(*, campaign: Campaign) -> Campaign:
    """The next run of a recurring campaign: a copy scheduled `repeat_days` after this
    run's start, started now (its ledger is written from the audience as it is today)."""
    base = campaign.scheduled_at or campaign.started_at or timezone.now()
    nxt = campaign_create(
        tenant=campaign.tenant,
        chatbot=campaign.chatbot,
        name=campaign.name,
        variants=[
            {"template": v.template, "params": v.params, "label": v.label}
            for v in _variants(campaign)
        ],
        audience=campaign.audience,
        goal=campaign.goal,
        strategy=campaign.strategy,
        scheduled_at=base + timedelta(days=campaign.repeat_days),
        repeat_days=campaign.repeat_days,
        reply_step=campaign.reply_step,
        reply_queue=campaign.reply_queue,
    )
    try:
        return campaign_start(campaign=nxt)
    except CampaignError as exc:  # nobody left to reach, quota: the copy stays a draft
        Campaign.objects.filter(pk=nxt.pk).update(stopped_reason=str(exc))
        return nxt


def _variants(campaign: Campaign) -> list[Variant]:
    return list(campaign.variants.select_related("template").order_by("pk"))


def _pick(
    campaign: Campaign, variants: list[Variant], arms: list[ab.Arm], rng: random.Random
) -> Variant:
    by_pk = {v.pk: v for v in variants}
    for v in variants:
        if v.winner:
            return v
    return by_pk[ab.choose(arms, strategy=campaign.strategy, rng=rng)]


def campaign_decide(*, campaign: Campaign) -> Variant | None:
    """Keep the winner once the A/B test is confident (campaigns.ab); return it."""
    variants = _variants(campaign)
    if kept := next((v for v in variants if v.winner), None):
        return kept
    key, _conf = ab.winner(stats.arms(campaign=campaign, variants=variants))
    if key is None:
        return None
    Variant.objects.filter(pk=key).update(winner=True)
    return next(v for v in variants if v.pk == key)
