"""Errors under /api/ are JSON; the schema declares them, and its enums."""

from __future__ import annotations

import pytest
import yaml
from django.test import Client

from chatbots.providers.registry import PROVIDERS


@pytest.fixture
def schema(client, db):
    return yaml.safe_load(client.get("/api/schema/").content)


def test_an_unknown_api_url_is_a_json_404(client, db):
    response = client.get("/api/nada-aqui/")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["detail"]


def test_an_unknown_page_elsewhere_is_still_the_html_404(client, db):
    response = client.get("/nada-aqui/")

    assert response.status_code == 404
    assert "text/html" in response["Content-Type"]


def test_an_error_inside_an_api_view_is_a_json_500(key_client, monkeypatch, db):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("clientes.api.views.ClienteViewSet.list", broken)
    key_client.raise_request_exception = False

    response = key_client.get("/api/clientes/")

    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert "boom" not in response.content.decode()  # the error stays in the log
    assert response.json()["detail"]


def test_a_bad_host_under_api_is_a_json_400(db, settings):
    settings.ALLOWED_HOSTS = ["example.com"]
    response = Client(raise_request_exception=False).get("/api/clientes/", HTTP_HOST="evil")

    assert response.status_code == 400
    assert response.json()["detail"]


def test_the_chatbot_provider_is_an_enum_of_the_registered_providers(schema):
    props = schema["components"]["schemas"]["ChatbotRequest"]["properties"]["provider"]
    ref = props["allOf"][0]["$ref"] if "allOf" in props else props.get("$ref", "")
    enum = props.get("enum") or schema["components"]["schemas"][ref.rsplit("/", 1)[-1]]["enum"]

    assert sorted(enum) == sorted(PROVIDERS)


@pytest.mark.parametrize(
    ("method", "path", "codes"),
    [
        ("post", "/api/agenda/servicos/", {"400", "401", "403"}),
        ("get", "/api/agenda/servicos/", {"400", "401", "403", "404"}),
        ("get", "/api/agenda/servicos/{id}/", {"401", "403", "404"}),
        ("patch", "/api/agenda/servicos/{id}/", {"400", "401", "403", "404"}),
        ("delete", "/api/chatbots/{id}/", {"401", "403", "404"}),
        ("post", "/api/auth/token/", {"400", "401"}),
    ],
)
def test_the_schema_declares_the_error_answers_an_operation_has(schema, method, path, codes):
    responses = schema["paths"][path][method]["responses"]

    assert codes <= set(responses)
    assert all(
        responses[c]["content"]["application/json"]["schema"]["$ref"].startswith(
            "#/components/schemas/"
        )
        for c in codes
    )


def test_an_unauthenticated_call_answers_what_the_schema_says(client, schema):
    response = client.get("/api/agenda/servicos/")

    assert str(response.status_code) in schema["paths"]["/api/agenda/servicos/"]["get"]["responses"]
    assert response.status_code in (401, 403)
