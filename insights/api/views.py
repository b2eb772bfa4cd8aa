"""`GET /api/recommendations/?cliente=<id>`: the next best action for one customer of the
request's tenant (insights.recommendations). Every member reads it (agents use it in the
inbox); 400 names the field for a missing or bad id, 404 for a customer of another tenant."""

from __future__ import annotations

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.api.permissions import MEMBERS
from clientes.models import Cliente
from insights.recommendations import recommendations_for

WHY = {"why": serializers.CharField()}
BODY = inline_serializer(
    "Recommendations",
    {
        "cliente": serializers.IntegerField(),
        "segment": inline_serializer(
            "Segment",
            {"code": serializers.CharField(), "label": serializers.CharField()},
            allow_null=True,
        ),
        "churn": inline_serializer(
            "ChurnRisk",
            {"risk": serializers.CharField(), "label": serializers.CharField(), **WHY},
            allow_null=True,
        ),
        "products": inline_serializer(
            "ProductRecommendation",
            {
                "produto_id": serializers.IntegerField(),
                "nome": serializers.CharField(),
                "source": serializers.ChoiceField(["together", "similar"]),
                "score": serializers.FloatField(),
                **WHY,
            },
            many=True,
        ),
        "services": inline_serializer(
            "ServiceDue",
            {
                "servico_id": serializers.IntegerField(),
                "nome": serializers.CharField(),
                "every_days": serializers.IntegerField(),
                "last_at": serializers.DateTimeField(),
                "due_at": serializers.DateTimeField(),
                **WHY,
            },
            many=True,
        ),
        "actions": inline_serializer(
            "NextBestAction",
            {
                "kind": serializers.ChoiceField(["winback", "reminder", "offer"]),
                "text": serializers.CharField(),
                "template": serializers.CharField(allow_null=True),
                **WHY,
            },
            many=True,
        ),
    },
)


class RecommendationsView(APIView):
    required_roles = {"get": MEMBERS}
    role_operations = {"get": _("ver recomendações")}

    @extend_schema(
        parameters=[OpenApiParameter("cliente", int, required=True)], responses={200: BODY}
    )
    def get(self, request):
        raw = request.query_params.get("cliente", "")
        if not raw.isdigit():
            raise exceptions.ValidationError(
                {"cliente": _("Informe o id numérico do cliente: ?cliente=123.")}
            )
        tenant = getattr(request, "tenant", None)
        if tenant is None:
            raise exceptions.ValidationError(
                {"tenant": _("Indique a empresa com o cabeçalho X-Tenant.")}
            )
        cliente = Cliente.objects.filter(pk=int(raw), tenant=tenant).first()
        if cliente is None:
            raise exceptions.NotFound(_("Cliente não encontrado."))
        return Response(recommendations_for(cliente=cliente))
