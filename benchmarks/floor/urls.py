"""One view that reads the body and answers like the webhook does, touching nothing else."""

from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from config.health import live


@csrf_exempt
def floor(request: HttpRequest) -> JsonResponse:
    request.body  # noqa: B018 (read it, as the webhook must before answering)
    return JsonResponse({"status": "ok"})


urlpatterns = [
    path("api/chatbots/webhook/", floor),
    path("healthz/live", live),
]
