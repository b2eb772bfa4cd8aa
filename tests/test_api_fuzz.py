"""schemathesis over /api/schema/: every operation, with inputs the schema allows and some
it does not, answered without a server error, as a tenant's owner.

Short and deterministic in the test command (tests/fuzz.py: FUZZ_EXAMPLES, a fiftieth of it
per operation, derandomized); `make fuzz` runs many more. The calls go through the Django
WSGI app in-process, so they see the test's database transaction.
"""

from __future__ import annotations

import json

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import settings
from rest_framework_simplejwt.tokens import RefreshToken
from schemathesis.checks import not_a_server_error

from tests import fuzz
from tests.factories import ChatbotFactory, ClienteFactory

PER_OPERATION = max(fuzz.EXAMPLES // 50, 3)


@pytest.fixture
def _keep_the_test_connection():
    """The WSGI handler closes the database connection after each request; Django's test
    client stops it from doing so, and so must we: the test's transaction lives on it."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def api_schema(db, tenant, owner, settings, _keep_the_test_connection):
    settings.ALLOWED_HOSTS = ["*"]
    # Something for the detail, update and delete operations to find now and then.
    ChatbotFactory(tenant=tenant, name="Padaria", provider="stub")
    ClienteFactory(tenant=tenant, nome="Maria", telefone="5511987654321")


def load_schema():
    """What /api/schema/ serves, built when the module is collected (no request, no
    database), with its calls going to the WSGI app. schemathesis' lazy loader
    (`from_fixture`) does not run on pytest 9."""
    document = SchemaGenerator().get_schema(request=None, public=True)
    loaded = schemathesis.openapi.from_dict(json.loads(OpenApiJsonRenderer().render(document)))
    # A handler of its own: importing config.wsgi here, at collection, builds the WSGI app
    # that config.asgi serves before the test settings apply, and the browser tests' live
    # server then never opens their live socket.
    loaded.app = WSGIHandler()
    # The coverage phase (every boundary and every kind of wrong value, for each parameter)
    # takes minutes; the short run only fuzzes, `make fuzz` does both.
    loaded.config.phases.coverage.enabled = fuzz.EXAMPLES >= 1000
    return loaded


schema = load_schema()


@pytest.fixture
def owner_headers(owner) -> dict[str, str]:
    return {"Authorization": f"Bearer {RefreshToken.for_user(owner).access_token}"}


@schema.parametrize()
@settings(
    fuzz.FUZZ_SETTINGS,
    max_examples=PER_OPERATION,
)
def test_the_api_gives_no_server_error(case, api_schema, owner_headers):
    case.call_and_validate(headers=owner_headers, checks=[not_a_server_error])
