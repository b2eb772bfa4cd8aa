"""Analytics routes, under /api/analytics/."""

from django.urls import path

from billing.api.views import AnalyticsHistoryView, AnalyticsSummaryView

urlpatterns = [
    path("summary/", AnalyticsSummaryView.as_view(), name="analytics-summary"),
    path("history/", AnalyticsHistoryView.as_view(), name="analytics-history"),
    path(
        "history.csv",
        AnalyticsHistoryView.as_view(),
        {"format": "csv"},
        name="analytics-history-csv",
    ),
]
