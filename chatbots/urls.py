"""Webhook routes (owned by the inbound webhook code)."""

urlpatterns: list = []
