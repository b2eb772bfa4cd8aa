"""Services offered, business hours, the agenda configuration and the appointments.

Two appointments of one tenant never overlap while active: PostgreSQL refuses it with an
exclusion constraint (a GiST index over the tenant and the [inicio, fim) range); SQLite
(embedded mode) has no exclusion constraints, so `agenda.services` checks under the write
lock that the embedded mode's IMMEDIATE transactions take.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import DateTimeRangeField, RangeBoundary, RangeOperators
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import DEFAULT_DB_ALIAS, connections, models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from billing.models import Tenant, TenantOwned
from clientes.models import Cliente
from config.fields import EncryptedTextField


class TsTzRange(models.Func):
    """tstzrange(inicio, fim, '[)'): a booking ending at 10:30 does not overlap one at 10:30."""

    function = "TSTZRANGE"
    output_field = DateTimeRangeField()


class PostgresExclusionConstraint(ExclusionConstraint):
    """An ExclusionConstraint that other databases skip instead of failing on.

    SQLite cannot express it; there the service's locked check is the guard (see the module
    docstring), so the DDL and the model validation are PostgreSQL-only.
    """

    @staticmethod
    def _is_postgres(connection) -> bool:
        return connection.vendor == "postgresql"

    def constraint_sql(self, model, schema_editor):
        if not self._is_postgres(schema_editor.connection):
            return None
        return super().constraint_sql(model, schema_editor)

    def create_sql(self, model, schema_editor):
        if not self._is_postgres(schema_editor.connection):
            return None
        return super().create_sql(model, schema_editor)

    def remove_sql(self, model, schema_editor):
        if not self._is_postgres(schema_editor.connection):
            return None
        return super().remove_sql(model, schema_editor)

    def validate(self, model, instance, exclude=None, using=DEFAULT_DB_ALIAS):
        if not self._is_postgres(connections[using]):
            return
        return super().validate(model, instance, exclude=exclude, using=using)


def _default_days_ahead() -> int:
    return settings.CAL_DEFAULT_DAYS_AHEAD


# A service created without a duration (the API's `duracao_minutos` is optional).
DURACAO_PADRAO_MINUTOS = 30


class Servico(TenantOwned):
    """Something a customer books: a consultation, a haircut, a meeting."""

    nome = models.CharField(_("nome"), max_length=120)
    duracao_minutos = models.PositiveIntegerField(
        _("duração (minutos)"),
        default=DURACAO_PADRAO_MINUTOS,
        validators=[MinValueValidator(5), MaxValueValidator(24 * 60)],
    )
    preco = models.DecimalField(_("preço"), max_digits=10, decimal_places=2, null=True, blank=True)
    cal_event_type_id = models.PositiveBigIntegerField(
        _("tipo de evento no Cal.com"),
        null=True,
        blank=True,
        help_text=_("ID do tipo de evento no Cal.com; vazio usa o tipo padrão da agenda."),
    )
    ativo = models.BooleanField(_("ativo"), default=True)
    criado_em = models.DateTimeField(_("criado em"), auto_now_add=True)
    atualizado_em = models.DateTimeField(_("atualizado em"), auto_now=True)

    class Meta:
        verbose_name = _("serviço")
        verbose_name_plural = _("serviços")
        ordering = ["nome"]
        constraints = [
            models.CheckConstraint(
                condition=Q(duracao_minutos__gt=0), name="agenda_servico_duracao_positiva"
            ),
        ]

    def __str__(self) -> str:
        return self.nome


class HorarioFuncionamento(TenantOwned):
    """One opening interval of a weekday, in the tenant's time zone (several per day allowed,
    e.g. 08:00-12:00 and 14:00-18:00). Intervals never cross midnight."""

    class DiaSemana(models.IntegerChoices):
        # Python's date.weekday() numbering, so no translation table is needed.
        SEGUNDA = 0, _("segunda-feira")
        TERCA = 1, _("terça-feira")
        QUARTA = 2, _("quarta-feira")
        QUINTA = 3, _("quinta-feira")
        SEXTA = 4, _("sexta-feira")
        SABADO = 5, _("sábado")
        DOMINGO = 6, _("domingo")

    dia_semana = models.PositiveSmallIntegerField(_("dia da semana"), choices=DiaSemana.choices)
    abre = models.TimeField(_("abre às"))
    fecha = models.TimeField(_("fecha às"))

    class Meta:
        verbose_name = _("horário de funcionamento")
        verbose_name_plural = _("horários de funcionamento")
        ordering = ["dia_semana", "abre"]
        indexes = [models.Index(fields=["tenant", "dia_semana"], name="agenda_horario_dia_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(fecha__gt=F("abre")), name="agenda_horario_fecha_depois_de_abrir"
            ),
            models.CheckConstraint(
                condition=Q(dia_semana__lte=6), name="agenda_horario_dia_semana_valido"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_dia_semana_display()} {self.abre:%H:%M}–{self.fecha:%H:%M}"


class DataFechada(TenantOwned):
    """A day without appointments (holiday, vacation), in the tenant's time zone."""

    data = models.DateField(_("data"))
    motivo = models.CharField(_("motivo"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("data fechada")
        verbose_name_plural = _("datas fechadas")
        ordering = ["data"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "data"], name="agenda_data_fechada_unica"),
        ]

    def __str__(self) -> str:
        return f"{self.data:%d/%m/%Y} {self.motivo}".strip()


class ConfiguracaoAgenda(TenantOwned):
    """Where a tenant's availability comes from, and its booking rules."""

    class Fonte(models.TextChoices):
        NENHUMA = "", _("Nenhuma (agenda desativada)")
        INTERNA = "interna", _("Agenda própria (horários de funcionamento)")
        CALCOM = "calcom", _("Cal.com")

    # One configuration per tenant: overrides TenantOwned's plain foreign key.
    tenant = models.OneToOneField(
        Tenant, on_delete=models.CASCADE, related_name="+", verbose_name=_("empresa")
    )
    fonte = models.CharField(
        _("fonte da disponibilidade"), max_length=16, choices=Fonte.choices, blank=True
    )
    cal_api_key = EncryptedTextField(_("chave de API do Cal.com"), blank=True)
    cal_webhook_secret = EncryptedTextField(_("segredo do webhook do Cal.com"), blank=True)
    cal_username = models.CharField(_("usuário no Cal.com"), max_length=100, blank=True)
    cal_event_type_id = models.PositiveBigIntegerField(
        _("tipo de evento padrão no Cal.com"), null=True, blank=True
    )
    dias_antecedencia = models.PositiveIntegerField(
        _("dias à frente"),
        default=_default_days_ahead,
        help_text=_("Até quantos dias à frente os clientes podem marcar."),
    )
    antecedencia_minima_minutos = models.PositiveIntegerField(
        _("antecedência mínima (minutos)"),
        default=60,
        help_text=_("Horários que começam antes disso não são oferecidos no chat."),
    )
    tolerancia_no_show_minutos = models.PositiveIntegerField(
        _("tolerância para falta (minutos)"),
        default=15,
        help_text=_("Depois do fim do horário mais esta tolerância, sem presença, é falta."),
    )
    atualizado_em = models.DateTimeField(_("atualizado em"), auto_now=True)

    class Meta:
        verbose_name = _("configuração da agenda")
        verbose_name_plural = _("configurações da agenda")

    def __str__(self) -> str:
        return str(_("Agenda de %(tenant)s") % {"tenant": self.tenant})


class Agendamento(TenantOwned):
    class Status(models.TextChoices):
        PENDENTE = "pendente", _("Pendente")
        CONFIRMADO = "confirmado", _("Confirmado")
        CANCELADO = "cancelado", _("Cancelado")
        REAGENDADO = "reagendado", _("Reagendado")
        CONCLUIDO = "concluido", _("Concluído")
        NAO_COMPARECEU = "nao_compareceu", _("Não compareceu")

    class Origem(models.TextChoices):
        CHAT = "chat", _("Chat")
        ADMIN = "admin", _("Painel")
        API = "api", _("API")
        CALCOM = "calcom", _("Cal.com")

    # Statuses that hold the time slot. The exclusion constraint and the partial indexes
    # below repeat this exact list, so the planner can match the selectors' filters to them.
    ATIVOS = (Status.PENDENTE, Status.CONFIRMADO)

    cliente = models.ForeignKey(
        Cliente, on_delete=models.CASCADE, related_name="agendamentos", verbose_name=_("cliente")
    )
    servico = models.ForeignKey(
        Servico, on_delete=models.PROTECT, related_name="agendamentos", verbose_name=_("serviço")
    )
    inicio = models.DateTimeField(_("início"))
    fim = models.DateTimeField(_("fim"))
    status = models.CharField(
        _("situação"), max_length=16, choices=Status.choices, default=Status.PENDENTE
    )
    origem = models.CharField(_("origem"), max_length=16, choices=Origem.choices)
    cal_booking_uid = models.CharField(_("UID da reserva no Cal.com"), max_length=100, blank=True)
    reagendado_para = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="reagendado_de",
        verbose_name=_("reagendado para"),
    )
    lembrete_24h_enviado_em = models.DateTimeField(
        _("lembrete de 24 h enviado em"), null=True, blank=True
    )
    lembrete_1h_enviado_em = models.DateTimeField(
        _("lembrete de 1 h enviado em"), null=True, blank=True
    )
    followup_enviado_em = models.DateTimeField(
        _("pesquisa de satisfação enviada em"), null=True, blank=True
    )
    compareceu = models.BooleanField(_("compareceu"), null=True, blank=True)
    # When the customer confirmed (chat button, API, admin): kept after the appointment is
    # over, so the no-show model (agenda.noshow) learns what a confirmation is worth.
    confirmado_em = models.DateTimeField(_("confirmado em"), null=True, blank=True)
    risco_falta = models.FloatField(
        _("risco de falta"),
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(1)],
        help_text=_("Probabilidade estimada de o cliente faltar (0 a 1), do modelo da empresa."),
    )
    confirmacao_extra_enviada_em = models.DateTimeField(
        _("pedido de confirmação extra enviado em"), null=True, blank=True
    )
    observacoes = models.TextField(_("observações"), blank=True)
    criado_em = models.DateTimeField(_("criado em"), auto_now_add=True)
    atualizado_em = models.DateTimeField(_("atualizado em"), auto_now=True)

    class Meta:
        verbose_name = _("agendamento")
        verbose_name_plural = _("agendamentos")
        ordering = ["inicio"]
        constraints = [
            models.CheckConstraint(condition=Q(fim__gt=F("inicio")), name="agenda_fim_depois"),
            models.UniqueConstraint(
                fields=["tenant", "cal_booking_uid"],
                condition=~Q(cal_booking_uid=""),
                name="agenda_cal_uid_unico",
            ),
            # One resource per tenant for now: a future `recurso` column joins the
            # expressions as ("recurso", RangeOperators.EQUAL).
            PostgresExclusionConstraint(
                name="agenda_sem_sobreposicao",
                expressions=[
                    ("tenant", RangeOperators.EQUAL),
                    (TsTzRange("inicio", "fim", RangeBoundary()), RangeOperators.OVERLAPS),
                ],
                condition=Q(status__in=["pendente", "confirmado"]),
                violation_error_message=_("Este horário já está ocupado por outro agendamento."),
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "inicio"], name="agenda_tenant_inicio_idx"),
            models.Index(fields=["cliente", "inicio"], name="agenda_cliente_inicio_idx"),
            # The periodic jobs read only these partial indexes, which hold just the rows that
            # still need work, so their cost does not grow with the table's history.
            models.Index(
                fields=["inicio"],
                name="agenda_lembrete_24h_idx",
                condition=Q(
                    lembrete_24h_enviado_em__isnull=True, status__in=["pendente", "confirmado"]
                ),
            ),
            models.Index(
                fields=["inicio"],
                name="agenda_lembrete_1h_idx",
                condition=Q(
                    lembrete_1h_enviado_em__isnull=True, status__in=["pendente", "confirmado"]
                ),
            ),
            models.Index(
                fields=["fim"],
                name="agenda_ativos_fim_idx",
                condition=Q(status__in=["pendente", "confirmado"]),
            ),
            models.Index(
                fields=["inicio"],
                name="agenda_confirmacao_extra_idx",
                condition=Q(confirmacao_extra_enviada_em__isnull=True, status="pendente"),
            ),
            models.Index(
                fields=["fim"],
                name="agenda_followup_idx",
                condition=Q(followup_enviado_em__isnull=True, status="concluido"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.servico} – {self.cliente} ({timezone.localtime(self.inicio):%d/%m/%Y %H:%M})"

    @property
    def ativo(self) -> bool:
        return self.status in self.ATIVOS


class FeedbackEvent(TenantOwned):
    """A customer's satisfaction score (1-5) for an appointment, and an optional comment."""

    agendamento = models.OneToOneField(
        Agendamento,
        on_delete=models.CASCADE,
        related_name="feedback",
        verbose_name=_("agendamento"),
    )
    nota = models.PositiveSmallIntegerField(
        _("nota"), validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    comentario = models.TextField(_("comentário"), blank=True)
    recebido_em = models.DateTimeField(_("recebido em"))

    class Meta:
        verbose_name = _("avaliação")
        verbose_name_plural = _("avaliações")
        ordering = ["-recebido_em"]
        indexes = [models.Index(fields=["tenant", "recebido_em"], name="agenda_feedback_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(nota__gte=1, nota__lte=5), name="agenda_nota_1_a_5")
        ]

    def __str__(self) -> str:
        return f"{self.agendamento} – {self.nota}/5"


class CalWebhookEvento(TenantOwned):
    """A Cal.com webhook already applied: deliveries are at-least-once (Cal.com: https://cal.com/docs/developing/guides/automation/webhooks),
    so (trigger, booking uid) is applied once and repeats are acknowledged without effect."""

    trigger = models.CharField(_("evento"), max_length=64)
    uid = models.CharField(_("UID da reserva"), max_length=100)
    resultado = models.CharField(_("resultado"), max_length=200, blank=True)
    recebido_em = models.DateTimeField(_("recebido em"), auto_now_add=True)

    class Meta:
        verbose_name = _("webhook do Cal.com")
        verbose_name_plural = _("webhooks do Cal.com")
        ordering = ["-recebido_em"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "trigger", "uid"], name="agenda_cal_webhook_unico"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.trigger} {self.uid}"


class ModeloFalta(TenantOwned):
    """A tenant's fitted no-show model (agenda.noshow): a logistic regression kept as plain
    numbers (feature means and scales, coefficients, intercept), so scoring needs no pickle
    and the stored model can be read by anyone. With too little history it is the base
    rate alone (`tipo` = taxa_base, no coefficients)."""

    class Tipo(models.TextChoices):
        LOGISTICA = "logistica", _("Regressão logística")
        TAXA_BASE = "taxa_base", _("Taxa de faltas da empresa")

    tenant = models.OneToOneField(
        Tenant, on_delete=models.CASCADE, related_name="+", verbose_name=_("empresa")
    )
    tipo = models.CharField(_("tipo"), max_length=16, choices=Tipo.choices)
    parametros = models.JSONField(_("parâmetros"), default=dict)
    taxa_base = models.FloatField(_("taxa de faltas"))
    amostras = models.PositiveIntegerField(_("agendamentos usados"))
    auc = models.FloatField(_("AUC na validação"), null=True, blank=True)
    ajustado_em = models.DateTimeField(_("ajustado em"))

    class Meta:
        verbose_name = _("modelo de faltas")
        verbose_name_plural = _("modelos de faltas")

    def __str__(self) -> str:
        return f"{self.get_tipo_display()} ({self.amostras})"


class ListaEspera(TenantOwned):
    """A customer waiting for a time of a service: on a given day, or any day (`data` empty).
    When an appointment of that service is cancelled, the freed time is offered to the
    first ones waiting (agenda.waitlist)."""

    class Status(models.TextChoices):
        AGUARDANDO = "aguardando", _("Aguardando")
        ATENDIDO = "atendido", _("Conseguiu horário")
        SAIU = "saiu", _("Saiu da lista")

    cliente = models.ForeignKey(
        Cliente, on_delete=models.CASCADE, related_name="+", verbose_name=_("cliente")
    )
    servico = models.ForeignKey(
        Servico, on_delete=models.CASCADE, related_name="+", verbose_name=_("serviço")
    )
    data = models.DateField(_("dia"), null=True, blank=True, help_text=_("Vazio: qualquer dia."))
    status = models.CharField(
        _("situação"), max_length=16, choices=Status.choices, default=Status.AGUARDANDO
    )
    criado_em = models.DateTimeField(_("entrou em"), auto_now_add=True)

    class Meta:
        verbose_name = _("lista de espera")
        verbose_name_plural = _("listas de espera")
        ordering = ["criado_em", "id"]
        indexes = [
            models.Index(
                fields=["tenant", "servico", "criado_em"],
                name="agenda_espera_fila_idx",
                condition=Q(status="aguardando"),
            )
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "cliente", "servico", "data"],
                # "Any day" (data NULL) is not covered (NULLs are distinct; PostgreSQL 15's
                # NULLS NOT DISTINCT is not on SQLite): agenda.waitlist checks it first.
                condition=Q(status="aguardando"),
                name="agenda_espera_unica",
            )
        ]

    def __str__(self) -> str:
        return f"{self.cliente} – {self.servico}"


class OfertaVaga(TenantOwned):
    """A freed time offered to one waiting customer. Several may be offered the same time;
    the first to accept books it (the no-overlap constraint refuses the others)."""

    class Status(models.TextChoices):
        ENVIADA = "enviada", _("Enviada")
        ACEITA = "aceita", _("Aceita")
        PERDIDA = "perdida", _("Preenchida por outro")

    entrada = models.ForeignKey(
        ListaEspera, on_delete=models.CASCADE, related_name="ofertas", verbose_name=_("entrada")
    )
    inicio = models.DateTimeField(_("início"))
    status = models.CharField(
        _("situação"), max_length=16, choices=Status.choices, default=Status.ENVIADA
    )
    agendamento = models.ForeignKey(
        Agendamento,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("agendamento"),
    )
    enviada_em = models.DateTimeField(_("enviada em"), auto_now_add=True)

    class Meta:
        verbose_name = _("oferta de horário")
        verbose_name_plural = _("ofertas de horário")
        ordering = ["-enviada_em"]
        constraints = [
            models.UniqueConstraint(fields=["entrada", "inicio"], name="agenda_oferta_unica")
        ]

    def __str__(self) -> str:
        return f"{self.entrada} @ {timezone.localtime(self.inicio):%d/%m/%Y %H:%M}"
