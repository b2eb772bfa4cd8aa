"""Fixtures shared by every app's tests. Tests run on real PostgreSQL and Redis."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from billing.services import api_key_create
from tests.factories import ClienteFactory, MembershipFactory, TenantFactory


@pytest.fixture(autouse=True)
def _clean_cache():
    """Redis is shared by the whole run: start every test with an empty cache."""
    cache.clear()
    yield


@pytest.fixture
def celery_eager():
    """Run Celery tasks inline (on_commit hooks still decide *when* they are queued)."""
    from config.celery import app

    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield app
    app.conf.task_always_eager = False
    app.conf.task_eager_propagates = False


@pytest.fixture
def tenant(db):
    return TenantFactory(slug="padaria", name="Padaria Pão Quente")


@pytest.fixture
def other_tenant(db):
    return TenantFactory(slug="clinica", name="Clínica Sorriso")


@pytest.fixture
def api_client():
    return APIClient()


@pytest.fixture
def key_client(tenant):
    """An API client authenticated with an API key of `tenant`."""
    _, key = api_key_create(tenant=tenant, name="integração")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return client


@pytest.fixture
def owner(tenant):
    return MembershipFactory(tenant=tenant).user


@pytest.fixture
def cliente(tenant):
    return ClienteFactory(tenant=tenant, nome="Maria", telefone="5511987654321")
