"""What the tenant knows about each customer, computed from their orders and visits:
recency, frequency and value (RFM), the usual interval between purchases, how late they are
against it, the segment and the churn risk band.

One row per customer with any history, rewritten for a tenant at a time by
insights.segments.segments_refresh (one SQL statement, daily by the beat task
`insights.refresh`). Nothing else writes it; readers (the campaign audience `segment`, the
win-back list, the recommendations) take it as of the last refresh.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.utils.translation import gettext_lazy as _

from billing.models import TenantOwned
from clientes.models import Cliente


class Segmento(models.TextChoices):
    NOVOS = "novos", _("Novos")
    CAMPEOES = "campeoes", _("Campeões")
    FIEIS = "fieis", _("Fiéis")
    EM_RISCO = "em_risco", _("Em risco")
    PERDIDOS = "perdidos", _("Perdidos")
    OUTROS = "outros", _("Outros")


class Risco(models.TextChoices):
    BAIXO = "baixo", _("Baixo")
    MEDIO = "medio", _("Médio")
    ALTO = "alto", _("Alto")


class PerfilCliente(TenantOwned):
    cliente = models.OneToOneField(
        Cliente, on_delete=models.CASCADE, related_name="perfil", verbose_name=_("cliente")
    )
    compras = models.PositiveIntegerField(_("compras e visitas"))
    valor_total = models.DecimalField(
        _("valor total"), max_digits=14, decimal_places=2, default=Decimal("0.00")
    )
    primeira_em = models.DateTimeField(_("primeira compra ou visita"))
    ultima_em = models.DateTimeField(_("última compra ou visita"))
    # The median of the customer's own intervals (None: a single purchase or visit).
    intervalo_dias = models.FloatField(_("intervalo habitual (dias)"), null=True, blank=True)
    # The interval lateness is measured against: the customer's own, else the tenant's
    # typical one (insights.segments).
    intervalo_base_dias = models.FloatField(_("intervalo de referência (dias)"))
    dias_sem_comprar = models.FloatField(_("dias desde a última"))
    # dias_sem_comprar / intervalo_base_dias: 1 is "on time", 3 is three intervals gone.
    atraso = models.FloatField(_("atraso (intervalos)"))
    r = models.PositiveSmallIntegerField(_("recência (1–5)"))
    f = models.PositiveSmallIntegerField(_("frequência (1–5)"))
    m = models.PositiveSmallIntegerField(_("valor (1–5)"))
    segmento = models.CharField(_("segmento"), max_length=16, choices=Segmento.choices)
    risco = models.CharField(_("risco de perda"), max_length=8, choices=Risco.choices)
    calculado_em = models.DateTimeField(_("calculado em"))

    class Meta:
        verbose_name = _("perfil do cliente")
        verbose_name_plural = _("perfis dos clientes")
        indexes = [
            models.Index(fields=["tenant", "segmento"], name="insights_segmento_idx"),
            models.Index(fields=["tenant", "risco", "-atraso"], name="insights_risco_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.cliente} – {self.get_segmento_display()}"
