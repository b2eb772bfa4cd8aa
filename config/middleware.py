"""Request id: taken from X-Request-ID when a proxy set one, else generated; echoed back."""

from __future__ import annotations

import re
import uuid

from django.http import JsonResponse

from config import webhooks
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


class ContentLengthMiddleware:
    """400 for a Content-Length that is not a whole number, on every path.

    Django's `request.body` and django-prometheus's byte counter (the last middleware) call
    int() on it, so a request with `Content-Length: abc` was a 500; a negative one was read
    as an empty body. The rule and the answer are the webhooks' (config.webhooks).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            webhooks.declared_length(request)
        except webhooks.BodyRefused as exc:
            return webhooks.body_refused(exc)
        return self.get_response(request)
