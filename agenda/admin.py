"""Admin of the agenda: appointments by day with the status actions, the figures staff ask
for (attendance rate, satisfaction), services, business hours, closed dates and the agenda
configuration (Cal.com secrets are write-only: never rendered back)."""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from agenda import notifications, selectors, services, waitlist
from agenda.availability import configuracao_get_active, horario_validate
from agenda.errors import AgendaErro, SlotTaken
from agenda.models import (
    Agendamento,
    CalWebhookEvento,
    ConfiguracaoAgenda,
    DataFechada,
    FeedbackEvent,
    HorarioFuncionamento,
    ListaEspera,
    ModeloFalta,
    OfertaVaga,
    Servico,
)
from billing.admin_tenancy import TenantConsistencyForm, TenantScopedAdmin
from billing.tenancy import user_tenants
from clientes.models import Cliente

# How many tenants' figures the appointment list shows at once (a superuser sees many).
FIGURAS_MAX_EMPRESAS = 5


@admin.register(Servico)
class ServicoAdmin(TenantScopedAdmin):
    list_display = ["nome", "duracao_minutos", "preco", "cal_event_type_id", "ativo", "tenant"]
    list_filter = ["ativo"]
    search_fields = ["nome"]
    list_select_related = ["tenant"]

    def delete_model(self, request, obj):
        services.servico_delete(servico=obj)


@admin.register(HorarioFuncionamento)
class HorarioFuncionamentoAdmin(TenantScopedAdmin):
    list_display = ["dia_semana", "abre", "fecha", "tenant"]
    list_filter = ["dia_semana"]
    list_select_related = ["tenant"]


@admin.register(DataFechada)
class DataFechadaAdmin(TenantScopedAdmin):
    list_display = ["data", "motivo", "tenant"]
    date_hierarchy = "data"
    list_select_related = ["tenant"]


class ConfiguracaoAgendaForm(TenantConsistencyForm):
    """Secrets are typed in, never shown: an empty field keeps the stored value."""

    SEGREDOS = ("cal_api_key", "cal_webhook_secret")

    cal_api_key = forms.CharField(
        label=gettext_lazy("chave de API do Cal.com"),
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text=gettext_lazy("Deixe em branco para manter a chave atual."),
    )
    cal_webhook_secret = forms.CharField(
        label=gettext_lazy("segredo do webhook do Cal.com"),
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text=gettext_lazy("Deixe em branco para manter o segredo atual."),
    )
    limpar_segredos = forms.BooleanField(
        label=gettext_lazy("apagar a chave e o segredo do Cal.com"), required=False
    )

    class Meta:
        model = ConfiguracaoAgenda
        fields = "__all__"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._guardados = {campo: getattr(self.instance, campo, "") for campo in self.SEGREDOS}
        for campo in self.SEGREDOS:
            if self._guardados[campo]:
                self.fields[campo].help_text = _(
                    "Configurado. Deixe em branco para manter; digite para trocar."
                )

    def clean(self):
        cleaned = super().clean()
        for campo in self.SEGREDOS:
            if cleaned.get("limpar_segredos"):
                cleaned[campo] = ""
            elif not cleaned.get(campo):
                cleaned[campo] = self._guardados[campo]
            setattr(self.instance, campo, cleaned[campo])
        return cleaned


@admin.register(ConfiguracaoAgenda)
class ConfiguracaoAgendaAdmin(TenantScopedAdmin):
    form = ConfiguracaoAgendaForm
    list_display = ["tenant", "fonte", "dias_antecedencia", "antecedencia_minima_minutos"]
    list_select_related = ["tenant"]
    fieldsets = [
        (None, {"fields": ["tenant", "fonte"]}),
        (
            gettext_lazy("Regras"),
            {
                "fields": [
                    "dias_antecedencia",
                    "antecedencia_minima_minutos",
                    "tolerancia_no_show_minutos",
                ]
            },
        ),
        (
            gettext_lazy("Cal.com"),
            {
                "fields": [
                    "cal_username",
                    "cal_event_type_id",
                    "cal_api_key",
                    "cal_webhook_secret",
                    "limpar_segredos",
                ]
            },
        ),
    ]


class ClienteListFilter(admin.SimpleListFilter):
    """Filter by one customer (?cliente=<id>) without listing every customer in the sidebar."""

    title = gettext_lazy("cliente")
    parameter_name = "cliente"

    def lookups(self, request, model_admin):
        valor = self.value()
        if not valor or not str(valor).isdigit():
            return []
        cliente = Cliente.objects.filter(pk=valor, tenant__in=user_tenants(request.user)).first()
        return [(str(cliente.pk), str(cliente))] if cliente else []

    def queryset(self, request, queryset):
        valor = self.value()
        if valor and str(valor).isdigit():
            return queryset.filter(cliente_id=int(valor))
        return queryset


class AgendamentoForm(TenantConsistencyForm):
    class Meta:
        model = Agendamento
        fields = ["tenant", "cliente", "servico", "inicio", "observacoes"]

    def clean(self):
        """For a new appointment, the same rules as the service, shown on the form (the
        service still decides: a race or a Cal.com refusal comes back as a message)."""
        cleaned = super().clean()
        campos = [cleaned.get(c) for c in ("tenant", "servico", "inicio")]
        if self.instance.pk is not None or not all(campos):
            return cleaned
        tenant, servico, inicio = campos
        try:
            config = configuracao_get_active(tenant)
        except AgendaErro as exc:
            raise ValidationError(exc.message) from exc
        fim = inicio + timedelta(minutes=servico.duracao_minutos)
        horario_validate(
            tenant=tenant, config=config, inicio=inicio, fim=fim, exigir_antecedencia=False
        )
        if selectors.horario_is_taken(tenant_id=tenant.pk, inicio=inicio, fim=fim):
            raise ValidationError({"inicio": SlotTaken().message})
        return cleaned


@admin.register(Agendamento)
class AgendamentoAdmin(TenantScopedAdmin):
    form = AgendamentoForm
    date_hierarchy = "inicio"
    list_display = [
        "inicio",
        "cliente",
        "servico",
        "status",
        "compareceu",
        "risco_falta",
        "origem",
    ]
    # RelatedOnly: a plain related filter would list every tenant's services.
    list_filter = [
        "status",
        "origem",
        ClienteListFilter,
        ("servico", admin.RelatedOnlyFieldListFilter),
        "inicio",
    ]
    search_fields = ["cliente__nome", "cliente__telefone", "cal_booking_uid"]
    list_select_related = ["cliente", "servico", "tenant"]
    autocomplete_fields = ["cliente"]
    ordering = ["inicio"]
    actions = [
        "acao_confirmar",
        "acao_cancelar",
        "acao_lembrar",
        "acao_compareceu",
        "acao_nao_compareceu",
    ]
    agent_can_change = True
    readonly_fields = [
        "fim",
        "status",
        "origem",
        "cal_booking_uid",
        "reagendado_para",
        "compareceu",
        "confirmado_em",
        "risco_falta",
        "confirmacao_extra_enviada_em",
        "lembrete_24h_enviado_em",
        "lembrete_1h_enviado_em",
        "followup_enviado_em",
        "criado_em",
        "atualizado_em",
    ]

    def get_readonly_fields(self, request, obj=None):
        campos = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            # An existing appointment moves only through the actions (reschedule keeps the
            # history); here only the notes change.
            campos += ["tenant", "cliente", "servico", "inicio"]
        return campos

    def save_model(self, request, obj, form, change):
        if change:
            obj.save(update_fields=["observacoes", "atualizado_em"])
            return
        try:
            novo = services.agendamento_create(
                tenant=obj.tenant,
                cliente=obj.cliente,
                servico=obj.servico,
                inicio=obj.inicio,
                origem=Agendamento.Origem.ADMIN,
                observacoes=obj.observacoes,
            )
        except AgendaErro as exc:
            # Raised after form validation: the admin shows it as an error message.
            raise ValidationError(exc.message) from exc
        obj.pk, obj.fim, obj.status = novo.pk, novo.fim, novo.status
        obj._state.adding = False

    def add_view(self, request, form_url="", extra_context=None):
        try:
            return super().add_view(request, form_url, extra_context)
        except ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def _aplicar(self, request, queryset, servico, sucesso: str) -> None:
        feitos, erros = 0, []
        for agendamento in queryset.select_related("tenant"):
            try:
                servico(agendamento)
                feitos += 1
            except (ValidationError, AgendaErro) as exc:
                texto = exc.message if isinstance(exc, AgendaErro) else " ".join(exc.messages)
                erros.append(f"{agendamento}: {texto}")
        if feitos:
            self.message_user(request, sucesso % {"n": feitos}, messages.SUCCESS)
        for erro in erros[:10]:
            self.message_user(request, erro, messages.ERROR)

    @admin.action(description=gettext_lazy("Confirmar agendamentos selecionados"))
    def acao_confirmar(self, request, queryset):
        self._aplicar(
            request,
            queryset,
            lambda a: services.agendamento_confirm(agendamento=a),
            _("%(n)s agendamento(s) confirmado(s)."),
        )

    @admin.action(description=gettext_lazy("Cancelar agendamentos selecionados"))
    def acao_cancelar(self, request, queryset):
        self._aplicar(
            request,
            queryset,
            lambda a: services.agendamento_cancel(agendamento=a, motivo=_("Cancelado pela equipe")),
            _("%(n)s agendamento(s) cancelado(s)."),
        )

    @admin.action(description=gettext_lazy("Enviar lembrete agora"))
    def acao_lembrar(self, request, queryset):
        """One reminder per selected appointment, now. A reminder that could not go out
        (24-hour window closed and no approved reminder template) is reported as such."""
        enviados, erros = 0, []
        for agendamento in queryset.select_related("tenant", "cliente", "servico"):
            try:
                mensagem = notifications.lembrete_send_now(agendamento=agendamento)
            except ValidationError as exc:
                erros.append(f"{agendamento}: {' '.join(exc.messages)}")
                continue
            if mensagem.status == mensagem.Status.FAILED:
                erros.append(f"{agendamento}: {mensagem.error_detail}")
            else:
                enviados += 1
        if enviados:
            self.message_user(
                request, _("%(n)s lembrete(s) enviado(s).") % {"n": enviados}, messages.SUCCESS
            )
        for erro in erros[:10]:
            self.message_user(request, erro, messages.ERROR)

    @admin.action(description=gettext_lazy("Marcar: compareceu"))
    def acao_compareceu(self, request, queryset):
        self._aplicar(
            request,
            queryset,
            lambda a: services.agendamento_mark_attendance(agendamento=a, compareceu=True),
            _("%(n)s presença(s) registrada(s)."),
        )

    @admin.action(description=gettext_lazy("Marcar: não compareceu"))
    def acao_nao_compareceu(self, request, queryset):
        self._aplicar(
            request,
            queryset,
            lambda a: services.agendamento_mark_attendance(agendamento=a, compareceu=False),
            _("%(n)s falta(s) registrada(s)."),
        )

    def changelist_view(self, request, extra_context=None):
        extra_context = extra_context or {}
        fim = timezone.now()
        inicio = fim - timedelta(days=30)
        figuras = []
        for tenant in user_tenants(request.user).order_by("name")[:FIGURAS_MAX_EMPRESAS]:
            taxa = selectors.agendamento_attendance_rate(tenant=tenant, inicio=inicio, fim=fim)
            media = selectors.feedback_average_score(tenant=tenant, dias=30)
            figuras.append(
                {
                    "empresa": tenant.name,
                    "comparecimento": "—" if taxa is None else f"{taxa:.0%}",
                    "satisfacao": "—" if media is None else f"{media:.1f}/5",
                }
            )
        extra_context["figuras_agenda"] = figuras
        return super().changelist_view(request, extra_context=extra_context)


@admin.register(FeedbackEvent)
class FeedbackEventAdmin(TenantScopedAdmin):
    list_display = ["agendamento", "nota", "recebido_em", "tenant"]
    list_filter = ["nota"]
    date_hierarchy = "recebido_em"
    list_select_related = ["agendamento__cliente", "agendamento__servico", "tenant"]
    readonly_fields = ["tenant", "agendamento", "nota", "comentario", "recebido_em"]

    def has_add_permission(self, request, *args):
        return False


@admin.register(CalWebhookEvento)
class CalWebhookEventoAdmin(TenantScopedAdmin):
    list_display = ["recebido_em", "trigger", "uid", "resultado", "tenant"]
    list_filter = ["trigger"]
    search_fields = ["uid"]
    list_select_related = ["tenant"]
    readonly_fields = ["tenant", "trigger", "uid", "resultado", "recebido_em"]

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ListaEspera)
class ListaEsperaAdmin(TenantScopedAdmin):
    """Who waits for a time (agenda.waitlist); staff may take someone off the list."""

    list_display = ["criado_em", "cliente", "servico", "data", "status", "tenant"]
    list_filter = ["status", ("servico", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["cliente__nome", "cliente__telefone"]
    list_select_related = ["cliente", "servico", "tenant"]
    readonly_fields = ["tenant", "cliente", "servico", "data", "status", "criado_em"]
    actions = ["acao_tirar_da_lista"]

    def has_add_permission(self, request, *args):
        return False  # customers join from the chat

    @admin.action(description=gettext_lazy("Tirar da lista de espera"))
    def acao_tirar_da_lista(self, request, queryset):
        for entrada in queryset:
            waitlist.lista_espera_leave(entrada=entrada)


@admin.register(OfertaVaga)
class OfertaVagaAdmin(TenantScopedAdmin):
    list_display = ["enviada_em", "entrada", "inicio", "status", "agendamento", "tenant"]
    list_filter = ["status"]
    list_select_related = ["entrada__cliente", "entrada__servico", "agendamento", "tenant"]
    readonly_fields = ["tenant", "entrada", "inicio", "status", "agendamento", "enviada_em"]

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ModeloFalta)
class ModeloFaltaAdmin(TenantScopedAdmin):
    """The no-show model of each tenant (agenda.noshow), refitted every night: read-only."""

    list_display = ["tenant", "tipo", "amostras", "taxa_base", "auc", "ajustado_em"]
    list_select_related = ["tenant"]
    readonly_fields = [
        "tenant",
        "tipo",
        "amostras",
        "taxa_base",
        "auc",
        "parametros",
        "ajustado_em",
    ]

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False
