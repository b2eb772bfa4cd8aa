"""Webhook routes (owned by the inbound webhook code), mounted under /api/chatbots/."""

from django.urls import path, re_path

from chatbots.webhooks import EvolutionWebhookView, MetaWebhookView, WhaticketWebhookView

urlpatterns = [
    path("webhook/", MetaWebhookView.as_view(), name="chatbots-webhook-meta"),
    path("webhook/whaticket/", WhaticketWebhookView.as_view(), name="chatbots-webhook-whaticket"),
    path(
        "webhook/whaticket/<int:bot_id>/",
        WhaticketWebhookView.as_view(),
        name="chatbots-webhook-whaticket-bot",
    ),
    path(
        "webhook/evolution/<int:bot_id>/",
        EvolutionWebhookView.as_view(),
        name="chatbots-webhook-evolution",
    ),
    # "Webhook by events" appends the event to the URL (".../12/messages-upsert").
    re_path(
        r"^webhook/evolution/(?P<bot_id>\d+)/+(?P<event>[a-z-]+)/?$",
        EvolutionWebhookView.as_view(),
        name="chatbots-webhook-evolution-event",
    ),
]
