"""REST endpoints of the agenda and the Cal.com webhook. Thin: validate, call one service."""

from __future__ import annotations

import logging
from contextlib import contextmanager
from datetime import datetime, timedelta

import django_filters
from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, status
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from agenda import calcom_webhook, insights, notifications, services
from agenda.api.serializers import (
    AgendaInsightsSerializer,
    AgendamentoCriarSerializer,
    AgendamentoSerializer,
    CancelarSerializer,
    DisponibilidadeQuerySerializer,
    DisponibilidadeSerializer,
    InsightsQuerySerializer,
    LembreteSerializer,
    PresencaSerializer,
    ReagendarSerializer,
    ServicoSerializer,
)
from agenda.availability import free_slots, tenant_time_zone
from agenda.errors import (
    AgendaIndisponivel,
    AgendaNaoConfigurada,
    SlotTaken,
    WebhookAssinaturaInvalida,
    WebhookInvalido,
)
from agenda.models import Agendamento, Servico
from billing.api.filters import UtcIsoDateTimeFilter
from billing.api.permissions import MANAGERS, MEMBERS
from billing.api.viewsets import TenantScopedViewSet
from billing.models import Tenant
from config import webhooks as webhook_http

logger = logging.getLogger(__name__)

CAL_TENANT_HEADER = "X-Cal-Company"


class HorarioOcupado(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "horario_ocupado"


class AgendaSemConfiguracao(exceptions.APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "agenda_nao_configurada"


class AgendaForaDoAr(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "agenda_indisponivel"


@contextmanager
def _erros_da_agenda():
    """The agenda's errors as HTTP answers whose `detail` is the pt-BR sentence."""
    try:
        yield
    except SlotTaken as exc:
        raise HorarioOcupado(exc.message)
    except AgendaNaoConfigurada as exc:
        raise AgendaSemConfiguracao(exc.message)
    except AgendaIndisponivel as exc:
        raise AgendaForaDoAr(exc.message)


class ServicoViewSet(TenantScopedViewSet):
    """The tenant's bookable services."""

    queryset = Servico.objects.all()
    serializer_class = ServicoSerializer
    filterset_fields = ["ativo"]
    search_fields = ["nome"]
    ordering_fields = ["nome", "duracao_minutos"]

    def perform_create(self, serializer):
        serializer.instance = services.servico_create(
            tenant=self.require_tenant(), **serializer.validated_data
        )

    def perform_update(self, serializer):
        serializer.instance = services.servico_update(
            servico=serializer.instance, **serializer.validated_data
        )

    def perform_destroy(self, instance):
        services.servico_delete(servico=instance)


class AgendamentoFilter(django_filters.FilterSet):
    desde = django_filters.DateFilter(method="filter_desde", label="a partir do dia")
    ate = django_filters.DateFilter(method="filter_ate", label="até o dia (inclusive)")
    inicio_apos = UtcIsoDateTimeFilter(field_name="inicio", lookup_expr="gte")
    inicio_antes = UtcIsoDateTimeFilter(field_name="inicio", lookup_expr="lt")
    cliente = django_filters.NumberFilter(field_name="cliente_id")
    servico = django_filters.NumberFilter(field_name="servico_id")
    status = django_filters.MultipleChoiceFilter(choices=Agendamento.Status.choices)

    class Meta:
        model = Agendamento
        fields = ["desde", "ate", "inicio_apos", "inicio_antes", "cliente", "servico", "status"]

    def _meia_noite(self, dia):
        tenant = getattr(self.request, "tenant", None)
        tz = tenant_time_zone(tenant) if tenant is not None else timezone.get_current_timezone()
        return datetime.combine(dia, datetime.min.time(), tzinfo=tz)

    def filter_desde(self, qs, name, value):
        return qs.filter(inicio__gte=self._meia_noite(value))

    def filter_ate(self, qs, name, value):
        return qs.filter(inicio__lt=self._meia_noite(value + timedelta(days=1)))


class AgendamentoViewSet(TenantScopedViewSet):
    """Appointments. Created through availability rules; changed only through the actions
    (confirm, cancel, reschedule, attendance), never edited field by field.

    Attendants confirm, cancel, remind and mark attendance, the admin's actions for them;
    booking and rescheduling (a new booking) are for owners, admins and integrations."""

    queryset = Agendamento.objects.select_related("cliente", "servico")
    serializer_class = AgendamentoSerializer
    filterset_class = AgendamentoFilter
    search_fields = ["cliente__nome", "cliente__telefone"]
    ordering_fields = ["inicio", "criado_em"]
    http_method_names = ["get", "post", "head", "options"]
    required_roles = dict.fromkeys(["confirmar", "cancelar", "lembrar", "presenca"], MEMBERS)

    def _responder(self, agendamento, code=status.HTTP_200_OK):
        return Response(AgendamentoSerializer(agendamento).data, status=code)

    @extend_schema(request=AgendamentoCriarSerializer, responses={201: AgendamentoSerializer})
    def create(self, request, *args, **kwargs):
        tenant = self.require_tenant()
        entrada = AgendamentoCriarSerializer(
            data=request.data, context=self.get_serializer_context()
        )
        entrada.is_valid(raise_exception=True)
        with _erros_da_agenda():
            agendamento = services.agendamento_create(
                tenant=tenant, origem=Agendamento.Origem.API, **entrada.validated_data
            )
        return self._responder(agendamento, status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=AgendamentoSerializer)
    @action(detail=True, methods=["post"])
    def confirmar(self, request, pk=None):
        return self._responder(services.agendamento_confirm(agendamento=self.get_object()))

    @extend_schema(request=CancelarSerializer, responses=AgendamentoSerializer)
    @action(detail=True, methods=["post"])
    def cancelar(self, request, pk=None):
        entrada = CancelarSerializer(data=request.data)
        entrada.is_valid(raise_exception=True)
        with _erros_da_agenda():
            agendamento = services.agendamento_cancel(
                agendamento=self.get_object(), motivo=entrada.validated_data["motivo"]
            )
        return self._responder(agendamento)

    @extend_schema(request=ReagendarSerializer, responses={201: AgendamentoSerializer})
    @action(detail=True, methods=["post"])
    def reagendar(self, request, pk=None):
        """Answers the NEW appointment; the old one becomes `reagendado`."""
        entrada = ReagendarSerializer(data=request.data)
        entrada.is_valid(raise_exception=True)
        with _erros_da_agenda():
            novo = services.agendamento_reschedule(
                agendamento=self.get_object(), novo_inicio=entrada.validated_data["inicio"]
            )
        return self._responder(novo, status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={202: LembreteSerializer})
    @action(detail=True, methods=["post"])
    def lembrar(self, request, pk=None):
        """Send the reminder now. 202 with the outbound message's status: `queued`, or
        `failed` with the reason (e.g. the 24-hour window is closed and there is no
        approved reminder template)."""
        mensagem = notifications.lembrete_send_now(agendamento=self.get_object())
        saida = LembreteSerializer(
            {
                "mensagem": mensagem.pk,
                "status": mensagem.status,
                "erro": mensagem.error_code,
                "detalhe": mensagem.error_detail,
            }
        )
        return Response(saida.data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=PresencaSerializer, responses=AgendamentoSerializer)
    @action(detail=True, methods=["post"])
    def presenca(self, request, pk=None):
        entrada = PresencaSerializer(data=request.data)
        entrada.is_valid(raise_exception=True)
        agendamento = services.agendamento_mark_attendance(
            agendamento=self.get_object(), compareceu=entrada.validated_data["compareceu"]
        )
        return self._responder(agendamento)


class DisponibilidadeView(APIView):
    """Free times of a service on a day (in the tenant's time zone)."""

    @extend_schema(
        parameters=[
            OpenApiParameter("servico", int, required=True),
            OpenApiParameter("data", str, required=True, description="AAAA-MM-DD"),
        ],
        responses=DisponibilidadeSerializer,
    )
    def get(self, request):
        tenant = getattr(request, "tenant", None)
        if tenant is None:
            raise exceptions.ValidationError(
                {"tenant": _("Indique a empresa com o cabeçalho X-Tenant.")}
            )
        entrada = DisponibilidadeQuerySerializer(data=request.query_params)
        entrada.is_valid(raise_exception=True)
        servico = Servico.objects.filter(
            tenant=tenant, pk=entrada.validated_data["servico"]
        ).first()
        if servico is None:
            raise exceptions.NotFound(_("Serviço não encontrado."))
        dia = entrada.validated_data["data"]
        with _erros_da_agenda():
            slots = free_slots(tenant=tenant, servico=servico, dia=dia)
        saida = DisponibilidadeSerializer(
            {
                "servico": servico.pk,
                "data": dia,
                "horarios": [{"inicio": s.inicio, "fim": s.fim} for s in slots],
            }
        )
        return Response(saida.data)


class AgendaInsightsView(APIView):
    """`GET /api/agenda/insights/?semanas=8`: occupation by weekday and hour, attendance by
    service, the busiest and idlest hours and which hours to open or close, each with its
    reason (agenda.insights). Owners and admins: it is the business's own figures."""

    required_roles = {"get": MANAGERS}

    @extend_schema(
        parameters=[OpenApiParameter("semanas", int, required=False, default=8)],
        responses=AgendaInsightsSerializer,
    )
    def get(self, request):
        tenant = getattr(request, "tenant", None)
        if tenant is None:
            raise exceptions.ValidationError(
                {"tenant": _("Indique a empresa com o cabeçalho X-Tenant.")}
            )
        entrada = InsightsQuerySerializer(data=request.query_params)
        entrada.is_valid(raise_exception=True)
        dados = insights.agenda_insights(tenant=tenant, semanas=entrada.validated_data["semanas"])
        return Response(AgendaInsightsSerializer(dados).data)


def _json(mensagem: str, code: int, **extra) -> JsonResponse:
    return JsonResponse({"detail": mensagem, **extra}, status=code)


@csrf_exempt
@require_POST
def cal_webhook(request: HttpRequest, tenant_slug: str | None = None) -> JsonResponse:
    """POST /api/agenda/webhook/cal/<tenant_slug>/ (or the X-Cal-Company header).

    In this order, storing nothing when refused: 400 without a tenant in the path or the
    header; 400 for a bad Content-Length and 413 over WEBHOOK_MAX_BODY_BYTES (before the
    tenant is looked up, so the answer is the same for every slug); the uniform 401
    (config.webhooks) for an unknown or inactive tenant, one without a webhook secret and a
    bad signature alike, the reason logged; 400 for an unreadable body. 200 otherwise, also
    for repeats and events we do not handle (Cal.com needs no retry for those).
    """
    slug = (tenant_slug or request.headers.get(CAL_TENANT_HEADER, "")).strip()
    if not slug:
        return _json(
            _("Informe a empresa no caminho (/webhook/cal/<empresa>/) ou no cabeçalho %(h)s.")
            % {"h": CAL_TENANT_HEADER},
            400,
        )
    try:
        body = webhook_http.read_body(request, limit=settings.WEBHOOK_MAX_BODY_BYTES)
    except webhook_http.BodyRefused as exc:
        return webhook_http.body_refused(exc)
    tenant = Tenant.objects.filter(slug=slug, active=True).first()
    if tenant is None:
        logger.warning("cal.com webhook refused: no active tenant", extra={"tenant": slug[:64]})
        return webhook_http.unauthorized()
    try:
        resultado = calcom_webhook.calcom_webhook_receive(
            tenant=tenant,
            raw_body=body,
            assinatura=request.headers.get("X-Cal-Signature-256"),
        )
    except WebhookAssinaturaInvalida as exc:
        logger.warning(
            "cal.com webhook refused", extra={"tenant": tenant.slug, "detail": exc.message}
        )
        return webhook_http.unauthorized()
    except WebhookInvalido as exc:
        return _json(exc.message, 400)
    return JsonResponse({"resultado": resultado})
