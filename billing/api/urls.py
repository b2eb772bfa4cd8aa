"""Billing routes, under /api/billing/."""

from django.urls import path

from billing.api.views import PaymentWebhookView, TenantProvisionView

urlpatterns = [
    path("webhook/", PaymentWebhookView.as_view(), name="billing-webhook"),
    path("tenants/", TenantProvisionView.as_view(), name="billing-tenant-provision"),
]
