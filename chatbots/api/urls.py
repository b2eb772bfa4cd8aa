"""REST routes for bots, steps, conversations and messages."""

urlpatterns: list = []
