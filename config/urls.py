from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from billing.api import auth
from chatbots.webhooks import WhaticketWebhookView
from config import health, metrics
from staff.studio import front_door

api_patterns = [
    # Staff sessions: log in, refresh (rotating), log out (billing/api/auth.py).
    path("auth/token/", auth.TokenObtainView.as_view(), name="token_obtain_pair"),
    path("auth/token/refresh/", auth.TokenRefreshView.as_view(), name="token_refresh"),
    path("auth/logout/", auth.LogoutView.as_view(), name="token_logout"),
    path("clientes/", include("clientes.api.urls")),
    path("pedidos/", include("pedidos.api.urls")),
    path("chatbots/", include("chatbots.urls")),
    path("chatbots/", include("chatbots.api.urls")),
    path("inbox/", include("inbox.api.urls")),
    path("campaigns/", include("campaigns.api.urls")),
    path("agenda/", include("agenda.api.urls")),
    path("compliance/", include("compliance.api.urls")),
    path("billing/", include("billing.api.urls")),
    path("analytics/", include("billing.api.analytics_urls")),
    path("integrations/", include("integrations.api.urls")),
    path("recommendations/", include("insights.api.urls")),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
]

urlpatterns = [
    # The front door: what the product is, links to the staff app, admin and API docs.
    path("", front_door, name="front-door"),
    path("admin/", admin.site.urls),
    # The staff app: attendants answer customers, internal chat (staff/urls.py).
    path("atendimento/", include("staff.urls")),
    path("arquivos/", include("media.urls")),
    path("api/", include(api_patterns)),
    # The original system's Whaticket webhook URL, kept for its users (/api/chatbots/webhook/
    # whaticket/ is the same view).
    re_path(r"^webhook/whaticket(?:/(?P<bot_id>\d+))?/?$", WhaticketWebhookView.as_view()),
    path("healthz", health.healthz, name="healthz"),
    path("healthz/live", health.live, name="healthz-live"),
    # django-prometheus's exporter, behind a token or an address allow-list (config.metrics).
    path("metrics", metrics.metrics, name="prometheus-django-metrics"),
]

# Errors under /api/ answer JSON, elsewhere Django's pages (billing.api.exceptions).
handler400 = "billing.api.exceptions.api_bad_request"
handler403 = "billing.api.exceptions.api_permission_denied"
handler404 = "billing.api.exceptions.api_not_found"
handler500 = "billing.api.exceptions.api_server_error"
