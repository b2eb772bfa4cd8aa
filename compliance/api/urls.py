from django.urls import path
from rest_framework.routers import SimpleRouter

from compliance.api.views import AuditLogViewSet, ConsentView, EraseView, ExportView

router = SimpleRouter()
router.register("audit", AuditLogViewSet, basename="compliance-audit")
urlpatterns = [
    path("export/", ExportView.as_view(), name="compliance-export"),
    path("erase/", EraseView.as_view(), name="compliance-erase"),
    path("consent/", ConsentView.as_view(), name="compliance-consent"),
    *router.urls,
]
