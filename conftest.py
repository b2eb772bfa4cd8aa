"""Fixtures shared by every app's tests. Tests run on real PostgreSQL and Redis."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from billing.services import api_key_create
from tests.factories import ClienteFactory, MembershipFactory, TenantFactory

pytest_plugins = [
    "tests.fakes.graph",
    "tests.fakes.whaticket",
    "tests.fakes.evolution",
    "tests.fakes.files",
    "tests.fakes.dns",
    "tests.fakes.listener",
    "tests.fakes.gemini",
    "tests.conversation",
    "tests.delayed",
]


@pytest.fixture(autouse=True, scope="session")
def _static_files_without_collectstatic():
    """Production settings hash static files from STATIC_ROOT, which tests never collect, so
    every page using {% static %} (admin, /api/docs/) would fail: use the app folders instead."""
    from django.conf import settings
    from django.test.utils import override_settings

    plain = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
    with override_settings(
        STORAGES={**settings.STORAGES, "staticfiles": plain}, WHITENOISE_USE_FINDERS=True
    ):
        yield


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    """Real PBKDF2 costs ~1 s a login on this machine; tests check who logs in, not hashing."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _clean_cache():
    """Redis is shared by the whole run: start every test with an empty cache, and with no
    webhook routes remembered from an earlier test's (rolled back) bots."""
    from chatbots import routing, selectors

    cache.clear()
    routing.clear()
    selectors.active_steps_forget()
    yield


@pytest.fixture(autouse=True)
def _no_real_dns(fake_dns):
    """Tenant URLs resolve through tests/fakes/dns.py: no test depends on the real DNS."""


@pytest.fixture
def private_egress(settings):
    """Tenant URLs are called only at public addresses (config/egress.py); the fakes listen
    on 127.0.0.1, so a test (or fake fixture) that points a tenant's URL at one opts in."""
    settings.EGRESS_ALLOW_PRIVATE = True


@pytest.fixture(autouse=True)
def _no_burst_window(settings):
    """Tests send a message and read its answer before the next one: no burst window
    (chatbots.bursts). The burst tests set CHATBOT_DEBOUNCE_MS or the bot's option."""
    settings.CHATBOT_DEBOUNCE_MS = 0


@pytest.fixture(autouse=True)
def _joins_allowed():
    """Celery keeps "a join would block here" in one flag for the whole process, and eager
    calls save and restore it around each task: two threads doing that at once (the
    concurrency tests, a test worker thread) can leave it set, and a later test's
    `.delay().get()` then raises "Never call result.get() within a task!"."""
    yield
    from celery._state import _set_task_join_will_block

    _set_task_join_will_block(False)


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
