"""An experiment's numbers: per variant, the customers shown it and how many reached the goal.

Read from the conversations' messages and the customers' orders, like a campaign's
(campaigns.stats): a reply is the customer's next message within REPLY_WINDOW; read is the
read receipt (Meta's status webhook) of the first message the bot sent after showing the
step, which is the step's text or a message of the same turn, read together on the phone;
an order is one of the customer's within 24 hours.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.db.models import Count, Exists, OuterRef, Q, Subquery

from campaigns import ab
from chatbots.models import Message
from experiments.models import Exposure, StepExperiment, StepVariant
from pedidos.models import Pedido

REPLY_WINDOW = timedelta(hours=24)
ORDER_WINDOW = timedelta(hours=24)


def _first_read_at() -> Subquery:
    return Subquery(
        Message.objects.filter(
            conversation_id=OuterRef("conversation_id"),
            direction=Message.Direction.OUT,
            created_at__gte=OuterRef("shown_at"),
        )
        .order_by("id")
        .values("read_at")[:1]
    )


def _goal(goal: str) -> Q:
    if goal == StepExperiment.Goal.READ:
        return Q(first_read_at__isnull=False)
    if goal == StepExperiment.Goal.ORDER:
        return Q(
            Exists(
                Pedido.objects.filter(
                    cliente_id=OuterRef("cliente_id"),
                    criado_em__gt=OuterRef("shown_at"),
                    criado_em__lte=OuterRef("shown_at") + ORDER_WINDOW,
                )
            )
        )
    return Q(
        Exists(
            Message.objects.filter(
                conversation_id=OuterRef("conversation_id"),
                direction=Message.Direction.IN,
                created_at__gt=OuterRef("shown_at"),
                created_at__lte=OuterRef("shown_at") + REPLY_WINDOW,
            )
        )
    )


def arms(*, experiment_id: int, goal: str, variant_ids: list[int]) -> list[ab.Arm]:
    """Each variant's customers shown and goals reached (one query)."""
    qs = Exposure.objects.filter(experiment_id=experiment_id)
    if goal == StepExperiment.Goal.READ:
        qs = qs.annotate(first_read_at=_first_read_at())
    rows = (
        qs.values("variant_id")
        .annotate(sent=Count("pk"), ok=Count("pk", filter=_goal(goal)))
        .order_by()
    )
    by_variant = {r["variant_id"]: r for r in rows}
    return [
        ab.Arm(
            key=pk,
            sent=by_variant.get(pk, {}).get("sent", 0),
            successes=by_variant.get(pk, {}).get("ok", 0),
        )
        for pk in variant_ids
    ]


@dataclass(frozen=True)
class ResultRow:
    variant: StepVariant
    shown: int
    goals: int
    rate: float  # 0..1
    # The confidence that the leader's rate is really above this one's (for the leader: above
    # the runner-up's), campaigns.ab.confidence; None with a single variant.
    confidence: float | None
    leader: bool
    winner: bool


def results(*, experiment: StepExperiment) -> list[ResultRow]:
    variants = list(experiment.variants.all())
    found = arms(
        experiment_id=experiment.pk, goal=experiment.goal, variant_ids=[v.pk for v in variants]
    )
    ranked = sorted(found, key=lambda a: (a.rate, a.sent), reverse=True)
    leader = ranked[0] if ranked else None
    rows = []
    for variant, arm in zip(variants, found, strict=True):
        if leader is None or len(found) < 2:
            conf = None
        elif arm.key == leader.key:
            conf = ab.confidence(leader, ranked[1])
        else:
            conf = ab.confidence(leader, arm)
        rows.append(
            ResultRow(
                variant=variant,
                shown=arm.sent,
                goals=arm.successes,
                rate=arm.rate,
                confidence=conf,
                leader=leader is not None and arm.key == leader.key and arm.sent > 0,
                winner=experiment.winner_id == variant.pk,
            )
        )
    return rows
