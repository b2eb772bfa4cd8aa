"""The project's URLs plus one view that fails with a secret and a phone in its exception,
to see what an exception report (log line, 500 page) lets through."""

from django.urls import path

from chatbots.models import Chatbot
from config.urls import urlpatterns as project_urlpatterns


def boom(request):
    bot = Chatbot.objects.get(phone_number_id=request.GET["pnid"])
    raise RuntimeError(
        f"Meta refused token {bot.access_token} (app secret {bot.app_secret}) "
        f"sending to 5511987654321"
    )


urlpatterns = [path("boom/", boom), *project_urlpatterns]
