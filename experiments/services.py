"""Starting, showing and finishing A/B tests of a step's text.

The engine asks `variant_text` each time it enters a step (chatbots.engine.Flow._goto). A
bot's running experiments are one cached value (Django's cache, shared by every process,
dropped when an experiment starts or ends) remembered for the processor's batch
(config.memo): a bot with none costs a turn no SQL statement. A customer's first showing
picks the variant with campaigns.ab.choose and writes their Exposure; later showings read it
(they keep the text they saw). When campaigns.ab.winner declares a variant the experiment
finishes and the step's config keeps the winner's text.
"""

from __future__ import annotations

import logging
import random

import redis
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from billing.models import Tenant
from campaigns import ab
from chatbots.models import Conversation, Step
from clientes.models import Cliente
from config import memo
from experiments import stats
from experiments.models import Exposure, StepExperiment, StepVariant

logger = logging.getLogger(__name__)

CACHE_SECONDS = 300  # an experiment started in another process is seen within this
VARIANTS_MAX = 4
rng = random.Random()  # tests seed their own (monkeypatch experiments.services.rng)


def _key(chatbot_id: int) -> str:
    return f"experiments:running:{chatbot_id}"


def _load(chatbot_id: int) -> dict[str, dict]:
    running = (
        StepExperiment.objects.filter(step__chatbot_id=chatbot_id, status="running")
        .select_related("step")
        .prefetch_related("variants")
    )
    return {
        e.step.code: {
            "id": e.pk,
            "goal": e.goal,
            "strategy": e.strategy,
            "variants": [(v.pk, v.text) for v in e.variants.all()],
        }
        for e in running
    }


def running_experiments(*, chatbot_id: int) -> dict[str, dict]:
    """step code -> the running experiment at that step (id, goal, strategy, variants)."""

    def compute() -> dict[str, dict]:
        try:
            value = cache.get(_key(chatbot_id))
            if value is None:
                value = _load(chatbot_id)
                cache.set(_key(chatbot_id), value, CACHE_SECONDS)
            return value
        except redis.RedisError:
            # Redis away (a restart): the database answers, so a customer reaching the step
            # gets their text, not the apology of a failed turn.
            logger.warning("A/B tests read from the database: the cache is unavailable")
            return _load(chatbot_id)

    return memo.cached(("experiments.running", chatbot_id), compute)


def _forget(chatbot_id: int) -> None:
    memo.forget(("experiments.running", chatbot_id))
    transaction.on_commit(lambda: _delete_cached(chatbot_id))
    _delete_cached(chatbot_id)


def _delete_cached(chatbot_id: int) -> None:
    try:
        cache.delete(_key(chatbot_id))
    except redis.RedisError:  # the entry lives CACHE_SECONDS at most
        logger.warning("A/B test cache not cleared: the cache is unavailable")


def variant_text(
    *, step: Step, conversation: Conversation, cliente: Cliente, counted: bool = True
) -> str | None:
    """The text this customer sees at `step` while an experiment runs there (None: none).
    `counted=False` (the owner's simulator): one of the variants, no showing recorded."""
    experiment = running_experiments(chatbot_id=step.chatbot_id).get(step.code)
    if experiment is None or cliente is None or cliente.pk is None:
        return None
    texts = dict(experiment["variants"])
    if not counted:
        return rng.choice(sorted(texts.items()))[1]
    shown = (
        Exposure.objects.filter(experiment_id=experiment["id"], cliente_id=cliente.pk)
        .values_list("variant_id", flat=True)
        .first()
    )
    if shown is not None:
        return texts.get(shown)
    arms = stats.arms(
        experiment_id=experiment["id"], goal=experiment["goal"], variant_ids=list(texts)
    )
    won, _confidence = ab.winner(arms)
    if won is not None:
        experiment_finish(experiment_id=experiment["id"], winner_id=won)
        return texts[won]
    chosen = ab.choose(arms, strategy=experiment["strategy"], rng=rng)
    try:
        with transaction.atomic():
            Exposure.objects.create(
                experiment_id=experiment["id"],
                variant_id=chosen,
                cliente_id=cliente.pk,
                conversation_id=conversation.pk,
            )
    except IntegrityError:  # the same customer's other turn got there first: theirs stands
        chosen = Exposure.objects.get(experiment_id=experiment["id"], cliente_id=cliente.pk)
        chosen = chosen.variant_id
    return texts[chosen]


def experiment_start(
    *, tenant: Tenant, step: Step, texts: list[str], goal: str, strategy: str
) -> StepExperiment:
    texts = [t.strip() for t in texts if t and t.strip()]
    if step.chatbot.tenant_id != tenant.pk:
        raise ValidationError(_("Etapa não encontrada."))
    if "text" not in (step.config or {}):
        raise ValidationError(_("Esta etapa não envia um texto configurável para testar."))
    if not 2 <= len(texts) <= VARIANTS_MAX:
        raise ValidationError(
            _("Informe de 2 a %(max)s textos diferentes.") % {"max": VARIANTS_MAX}
        )
    if len(set(texts)) != len(texts):
        raise ValidationError(_("Os textos das variantes devem ser diferentes."))
    if goal not in StepExperiment.Goal.values or strategy not in StepExperiment.Strategy.values:
        raise ValidationError(_("Objetivo ou estratégia inválidos."))
    if StepExperiment.objects.filter(step=step, status="running").exists():
        raise ValidationError(_("Já há um teste em andamento nesta etapa."))
    with transaction.atomic():
        experiment = StepExperiment.objects.create(
            tenant=tenant, step=step, goal=goal, strategy=strategy
        )
        StepVariant.objects.bulk_create(
            StepVariant(experiment=experiment, text=text) for text in texts
        )
        _forget(step.chatbot_id)
    return experiment


def experiment_finish(*, experiment_id: int, winner_id: int | None = None) -> StepExperiment:
    """End the experiment; with a winner, the step keeps the winner's text."""
    with transaction.atomic():
        experiment = (
            StepExperiment.objects.select_for_update().select_related("step").get(pk=experiment_id)
        )
        if experiment.status == StepExperiment.Status.RUNNING:
            experiment.status = StepExperiment.Status.FINISHED
            experiment.finished_at = timezone.now()
            experiment.winner_id = winner_id
            experiment.save(update_fields=["status", "finished_at", "winner"])
            if winner_id is not None:
                step = experiment.step
                text = StepVariant.objects.get(pk=winner_id, experiment=experiment).text
                step.config = {**step.config, "text": text}
                step.save(update_fields=["config"])  # its post_save drops the cached steps
                logger.info(
                    "step experiment won",
                    extra={"experiment_id": experiment.pk, "variant_id": winner_id},
                )
        _forget(experiment.step.chatbot_id)
    return experiment
