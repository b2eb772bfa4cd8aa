"""The API documents itself, and the docs page works without reaching a CDN."""

from __future__ import annotations

import re

import yaml
from drf_spectacular.validation import validate_schema


def test_the_schema_is_valid_openapi_and_lists_clientes(client, db):
    response = client.get("/api/schema/")
    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    validate_schema(schema)  # raises on an invalid document
    assert "/api/clientes/" in schema["paths"]
    assert "/api/clientes/{id}/" in schema["paths"]
    assert "ApiKeyAuth" in schema["components"]["securitySchemes"]


def test_the_docs_page_loads_its_assets_from_this_server(client, db):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    for host in ("cdn.jsdelivr.net", "unpkg.com", "cdnjs.cloudflare.com"):
        assert host not in html
    assets = re.findall(r'(?:src|href)="([^"]+\.(?:js|css))"', html)
    assert assets, "the page references Swagger UI's script and style"
    for url in assets:
        assert url.startswith("/static/"), url
        assert client.get(url).status_code == 200, url
