"""The handler registry: only registered handlers run, and a bad path says what to fix."""

from __future__ import annotations

import sys

import pytest
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.db import connection
from django.test import override_settings

from chatbots import checks
from chatbots.handlers import registry
from chatbots.handlers.base import Context, Handler, Reply
from chatbots.handlers.generic import MenuHandler
from chatbots.models import Chatbot, Step

GENERIC = "chatbots.handlers.generic"


class NotRegistered(Handler):
    """A handler nobody decorated with @register."""

    def handle(self, ctx: Context) -> Reply:
        return Reply()


class NotAHandler:
    pass


@pytest.fixture
def isolated_registry(monkeypatch):
    """Handlers registered by a test disappear after it."""
    monkeypatch.setattr(registry, "_registry", dict(registry._registry))
    monkeypatch.setattr(registry, "_loaded_modules", set(registry._loaded_modules))


@pytest.fixture
def plugin_module(tmp_path, monkeypatch, isolated_registry):
    """A tenant-specific handler module on sys.path, as an integrator would deploy one."""
    (tmp_path / "acme_handlers.py").write_text(
        "from chatbots.handlers.base import Handler, Reply\n"
        "from chatbots.handlers.registry import register\n"
        "\n"
        "@register\n"
        "class Saudacao(Handler):\n"
        "    label = 'Saudação da Acme'\n"
        "    def handle(self, ctx):\n"
        "        return Reply()\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "acme_handlers"
    sys.modules.pop("acme_handlers", None)


def _reason(path: str) -> registry.HandlerNotFound:
    with pytest.raises(registry.HandlerNotFound) as info:
        registry.load_handler(path)
    assert path in str(info.value)
    return info.value


def test_it_loads_a_registered_generic_handler():
    assert registry.load_handler(f"{GENERIC}.MenuHandler") is MenuHandler


def test_it_refuses_a_path_whose_module_does_not_exist():
    error = _reason("chatbots.handlers.nope.Nope")
    assert error.reason == "import"
    assert "não importa" in str(error)
    assert "chatbots.handlers.nope" in str(error)
    assert isinstance(error, LookupError)


def test_it_refuses_a_path_naming_a_missing_class():
    error = _reason(f"{GENERIC}.PizzaHandler")
    assert error.reason == "import"
    assert "não tem “PizzaHandler”" in str(error)


def test_it_refuses_something_that_is_not_a_dotted_path():
    error = _reason("MenuHandler")
    assert error.reason == "import"
    assert "caminho completo" in str(error)


def test_it_refuses_a_class_that_is_not_a_handler():
    error = _reason(f"{__name__}.NotAHandler")
    assert error.reason == "not_handler"
    assert "não é uma subclasse de Handler" in str(error)
    assert _reason("chatbots.wire.Text").reason == "not_handler"


def test_it_refuses_a_handler_subclass_that_is_not_registered():
    error = _reason(f"{__name__}.NotRegistered")
    assert error.reason == "not_registered"
    assert "não está registrado" in str(error)
    assert "CHATBOT_HANDLER_MODULES" in str(error)


def test_it_never_imports_a_module_named_by_a_user(tmp_path, monkeypatch):
    (tmp_path / "side_effect_mod.py").write_text("raise SystemExit('imported!')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    error = _reason("side_effect_mod.Anything")
    assert error.reason == "not_registered"
    assert "side_effect_mod" not in sys.modules


def test_it_loads_handlers_from_modules_in_chatbot_handler_modules(plugin_module):
    with override_settings(CHATBOT_HANDLER_MODULES=[plugin_module]):
        handler = registry.load_handler("acme_handlers.Saudacao")
        assert handler.__name__ == "Saudacao"
        assert ("acme_handlers.Saudacao", "Saudação da Acme") in registry.handler_choices()


def test_it_fails_loudly_naming_a_configured_module_that_does_not_import(isolated_registry):
    with override_settings(CHATBOT_HANDLER_MODULES=["acme.nao_existe"]):
        with pytest.raises(ImproperlyConfigured, match="acme.nao_existe"):
            registry.load_handler(f"{GENERIC}.MenuHandler")


def test_it_refuses_to_register_something_that_is_not_a_handler():
    with pytest.raises(TypeError, match="Handler subclass"):
        registry.register(NotAHandler)


def test_handler_choices_lists_the_generic_handlers_with_labels_sorted():
    choices = registry.handler_choices()
    paths = [path for path, _label in choices]
    for name in (
        "MenuHandler",
        "MessageHandler",
        "QuestionHandler",
        "EndHandler",
        "HandoffHandler",
    ):
        assert f"{GENERIC}.{name}" in paths
    assert dict(choices)[f"{GENERIC}.MenuHandler"] == "Menu de opções"
    labels = [label.casefold() for _path, label in choices]
    assert labels == sorted(labels)


def test_validate_step_names_the_handler_path_when_it_cannot_load():
    with pytest.raises(ValidationError) as info:
        registry.validate_step(handler_path="chatbots.handlers.nope.Nope", config={})
    assert set(info.value.message_dict) == {"handler_path"}
    assert "chatbots.handlers.nope.Nope" in info.value.message_dict["handler_path"][0]


def test_validate_step_names_the_config_when_the_handler_refuses_it():
    with pytest.raises(ValidationError) as info:
        registry.validate_step(handler_path=f"{GENERIC}.MessageHandler", config={"next": "menu"})
    assert set(info.value.message_dict) == {"config"}
    assert "Falta “text”" in info.value.message_dict["config"][0]


def test_validate_step_refuses_a_config_that_is_not_an_object():
    with pytest.raises(ValidationError) as info:
        registry.validate_step(handler_path=f"{GENERIC}.MessageHandler", config=["oi"])
    assert "objeto JSON" in info.value.message_dict["config"][0]


def test_validate_step_accepts_a_good_step():
    registry.validate_step(handler_path=f"{GENERIC}.MessageHandler", config={"text": "Olá!"})


# --- Whole flows ---------------------------------------------------------------------------


def _menu(*targets: str) -> dict:
    return {"text": "Escolha", "options": [{"title": t.title(), "next": t} for t in targets]}


def test_validate_flow_accepts_a_flow_whose_steps_all_exist():
    steps = [
        ("inicio", f"{GENERIC}.MenuHandler", _menu("info", "fim")),
        ("info", f"{GENERIC}.MessageHandler", {"text": "Abrimos às 8h.", "next": "inicio"}),
        ("fim", f"{GENERIC}.EndHandler", {}),
    ]
    assert registry.validate_flow(steps) == []


def test_validate_flow_reports_a_next_naming_a_missing_step():
    steps = [
        ("inicio", f"{GENERIC}.MenuHandler", _menu("info", "pedidos")),
        ("info", f"{GENERIC}.MessageHandler", {"text": "Abrimos às 8h.", "next": "sobre"}),
    ]
    problems = registry.validate_flow(steps)
    assert len(problems) == 2
    assert "“inicio”" in problems[0] and "“pedidos”" in problems[0]
    assert "“info”" in problems[1] and "“sobre”" in problems[1]


def test_validate_flow_reports_duplicate_codes_bad_handlers_and_bad_configs():
    steps = [
        ("inicio", f"{GENERIC}.EndHandler", {}),
        ("inicio", f"{GENERIC}.EndHandler", {}),
        ("x", "chatbots.handlers.nope.Nope", {}),
        ("y", f"{GENERIC}.MessageHandler", {}),
    ]
    problems = registry.validate_flow(steps)
    assert any("“inicio” aparece mais de uma vez" in p for p in problems)
    assert any(p.startswith("Etapa “x”") and "não importa" in p for p in problems)
    assert any(p.startswith("Etapa “y”") and "Falta “text”" in p for p in problems)


# --- System checks -------------------------------------------------------------------------


@pytest.fixture
def chatbot(tenant):
    return Chatbot.objects.create(tenant=tenant, name="Pizzaria")


def _step(chatbot, code, path, config=None, **kwargs):
    return Step.objects.create(
        tenant=chatbot.tenant,
        chatbot=chatbot,
        code=code,
        handler_path=path,
        config=config if config is not None else {},
        **kwargs,
    )


def test_the_check_reports_a_step_whose_handler_does_not_load(chatbot):
    _step(chatbot, "inicio", f"{GENERIC}.EndHandler")
    _step(chatbot, "quebrada", "chatbots.handlers.nope.Nope")
    problems = checks.check_step_handlers(databases=["default"])
    assert [p.id for p in problems] == ["chatbots.E001"]
    error = problems[0]
    assert error.is_serious()
    assert "'quebrada'" in error.msg and "chatbots.handlers.nope.Nope" in error.msg
    assert "Pizzaria" in error.msg
    assert "CHATBOT_HANDLER_MODULES" in error.hint


def test_the_check_stops_the_check_command_when_asked_to_check_the_database(chatbot):
    _step(chatbot, "quebrada", "chatbots.handlers.nope.Nope")
    with pytest.raises(SystemCheckError, match="chatbots.E001"):
        call_command("check", "--database", "default")


def test_the_check_ignores_inactive_steps_and_inactive_bots(chatbot, tenant):
    _step(chatbot, "velha", "chatbots.handlers.nope.Nope", active=False)
    off = Chatbot.objects.create(tenant=tenant, name="Desligado", active=False)
    _step(off, "quebrada", "chatbots.handlers.nope.Nope")
    assert checks.check_step_handlers(databases=["default"]) == []


def test_the_check_warns_about_refused_configs_and_missing_next_steps(chatbot):
    _step(chatbot, "inicio", f"{GENERIC}.MenuHandler", _menu("pedidos"))
    _step(chatbot, "info", f"{GENERIC}.MessageHandler", {"texto": "sem a chave certa"})
    problems = {p.id: p for p in checks.check_step_handlers(databases=["default"])}
    assert set(problems) == {"chatbots.W001", "chatbots.W002"}
    assert "'info'" in problems["chatbots.W001"].msg
    assert "'pedidos'" in problems["chatbots.W002"].msg


def test_the_database_check_does_nothing_when_django_checks_no_database(chatbot):
    _step(chatbot, "quebrada", "chatbots.handlers.nope.Nope")
    assert checks.check_step_handlers(databases=None) == []


def test_the_database_check_skips_a_database_not_migrated_yet(chatbot):
    _step(chatbot, "quebrada", "chatbots.handlers.nope.Nope")
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE chatbots_step RENAME TO chatbots_step_elsewhere")
    assert checks.check_step_handlers(databases=["default"]) == []
    # The failed query did not poison the enclosing transaction.
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE chatbots_step_elsewhere RENAME TO chatbots_step")
    assert Step.objects.filter(code="quebrada").exists()


def test_the_module_check_reports_a_configured_module_that_does_not_import():
    with override_settings(CHATBOT_HANDLER_MODULES=["acme.nao_existe"]):
        problems = checks.check_handler_modules()
    assert [p.id for p in problems] == ["chatbots.E002"]
    assert "acme.nao_existe" in problems[0].msg


def test_the_module_check_passes_with_the_default_settings():
    assert checks.check_handler_modules() == []


def test_the_checks_are_registered_with_django():
    from django.core.checks import registry as django_checks

    registered = django_checks.registry.get_checks()
    assert checks.check_step_handlers in registered
    assert checks.check_handler_modules in registered
    assert "database" in checks.check_step_handlers.tags
