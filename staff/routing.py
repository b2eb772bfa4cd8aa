"""WebSocket routes (config/asgi.py)."""

from django.urls import path

from staff.consumers import InboxConsumer

websocket_urlpatterns = [
    path("ws/atendimento/", InboxConsumer.as_asgi()),
]
