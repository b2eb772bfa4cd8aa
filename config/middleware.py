"""Request id: taken from X-Request-ID when a proxy set one, else generated; echoed back."""

from __future__ import annotations

import re
import uuid

from django.http import JsonResponse

from config.logging import request_id_var

_VALID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        rid = incoming if _VALID.match(incoming) else uuid.uuid4().hex
        request.request_id = rid
        token = request_id_var.set(rid)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response["X-Request-ID"] = rid
        return response


class LivenessMiddleware:
    """Answer /healthz/live before anything reads the Host header.

    Platform health checkers (Render, Fly, ECS, Kamal) call the container by an internal
    IP or name; host validation would answer 400 and the platform would restart a healthy
    process. This says only "the process answers", so skipping the host check leaks nothing.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path == "/healthz/live" and request.method in ("GET", "HEAD"):
            return JsonResponse({"status": "ok"})
        return self.get_response(request)
