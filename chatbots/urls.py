"""Webhook routes (owned by the inbound webhook code), mounted under /api/chatbots/."""

from django.urls import path

from chatbots.views import MetaWebhookView

urlpatterns = [
    path("webhook/", MetaWebhookView.as_view(), name="chatbots-webhook-meta"),
]
