"""/api/recommendations/ (insights.api.views)."""

from django.urls import path

from insights.api.views import RecommendationsView

urlpatterns = [path("", RecommendationsView.as_view(), name="recommendations")]
