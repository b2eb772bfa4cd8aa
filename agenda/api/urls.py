from django.urls import path
from rest_framework.routers import DefaultRouter

from agenda.api import views

router = DefaultRouter()
router.register("servicos", views.ServicoViewSet, basename="agenda-servico")
router.register("agendamentos", views.AgendamentoViewSet, basename="agenda-agendamento")

urlpatterns = [
    path("disponibilidade/", views.DisponibilidadeView.as_view(), name="agenda-disponibilidade"),
    path("insights/", views.AgendaInsightsView.as_view(), name="agenda-insights"),
    # Cal.com webhook: the tenant in the path, or in the X-Cal-Company header (for setups
    # where one subscriber URL serves several tenants).
    path("webhook/cal/", views.cal_webhook, name="agenda-cal-webhook"),
    path("webhook/cal/<slug:tenant_slug>/", views.cal_webhook, name="agenda-cal-webhook-tenant"),
    *router.urls,
]
