"""A/B tests of a flow step's text: which text customers see at the step, and how it did.

A `StepExperiment` runs on one step with two or more `StepVariant` texts; each customer who
reaches the step gets one variant and keeps it (an `Exposure` per customer and experiment,
written the first time it is shown). The goal (reply, read, order within 24 h) is read from
the conversation's messages and the customer's orders when the numbers are asked for
(experiments.stats), never stored twice. The traffic split and the winner rule are the
campaigns' (campaigns.ab).
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from billing.models import TenantOwned
from campaigns.models import Campaign
from chatbots.models import Conversation, Step
from clientes.models import Cliente


class StepExperiment(TenantOwned):
    class Status(models.TextChoices):
        RUNNING = "running", _("Em andamento")
        FINISHED = "finished", _("Encerrado")

    Goal = Campaign.Goal
    Strategy = Campaign.Strategy

    step = models.ForeignKey(
        Step, on_delete=models.CASCADE, related_name="experiments", verbose_name=_("etapa")
    )
    goal = models.CharField(_("objetivo"), max_length=10, choices=Goal.choices, default="reply")
    strategy = models.CharField(
        _("estratégia"), max_length=10, choices=Strategy.choices, default="thompson"
    )
    status = models.CharField(
        _("situação"), max_length=10, choices=Status.choices, default=Status.RUNNING
    )
    winner = models.ForeignKey(
        "StepVariant",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("vencedora"),
    )
    started_at = models.DateTimeField(_("início"), auto_now_add=True)
    finished_at = models.DateTimeField(_("fim"), null=True, blank=True)

    class Meta:
        verbose_name = _("teste A/B de etapa")
        verbose_name_plural = _("testes A/B de etapas")
        constraints = [
            # One running test per step: a customer reaching it sees one experiment's text.
            models.UniqueConstraint(
                fields=["step"], condition=models.Q(status="running"), name="one_running_per_step"
            )
        ]

    def __str__(self) -> str:
        return f"{self.step.code} ({self.get_status_display()})"


class StepVariant(models.Model):
    experiment = models.ForeignKey(
        StepExperiment, on_delete=models.CASCADE, related_name="variants"
    )
    text = models.TextField(_("texto"))

    class Meta:
        ordering = ["pk"]
        verbose_name = _("variante")
        verbose_name_plural = _("variantes")

    def __str__(self) -> str:
        return self.text[:60]


class Exposure(models.Model):
    """One customer shown one variant of an experiment (the first time; they keep it)."""

    experiment = models.ForeignKey(
        StepExperiment, on_delete=models.CASCADE, related_name="exposures"
    )
    variant = models.ForeignKey(StepVariant, on_delete=models.CASCADE, related_name="exposures")
    cliente = models.ForeignKey(Cliente, on_delete=models.CASCADE, related_name="+")
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="+")
    shown_at = models.DateTimeField(_("mostrada em"), auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["experiment", "cliente"], name="one_variant_per_customer"
            )
        ]

    def __str__(self) -> str:
        return f"{self.cliente_id} → {self.variant_id}"
