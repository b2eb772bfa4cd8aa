"""The interceptor chain: loaded from settings in order, checked at start-up, run by contract;
and the registry of what a typed "cancelar" means to each flow."""

from __future__ import annotations

import pytest
from django.test import override_settings

from chatbots import checks
from chatbots.handlers import cancel
from chatbots.handlers.base import Handler, Reply
from chatbots.interceptors import registry
from chatbots.interceptors.base import Interceptor

HERE = __name__

# What answers, in which order, before the current step: the product's behaviour.
EXPECTED_CHAIN = [
    "chatbots.interceptors.consent.OptOutKeywords",
    "chatbots.interceptors.core.HumanHandoff",
    "chatbots.interceptors.core.GlobalCommands",
    "chatbots.interceptors.quota.PlanQuota",
    "chatbots.interceptors.voice.VoiceNote",
    "chatbots.interceptors.survey.SatisfactionAnswer",
    "chatbots.handlers.agenda.buttons.AppointmentButtons",
    "chatbots.interceptors.core.UnsupportedMessage",
    "chatbots.handlers.pedidos.CatalogOrder",
    "chatbots.ai.interceptors.AssistantButtons",
    "chatbots.interceptors.understanding.PersonRequest",
    "chatbots.ai.interceptors.AssistantPersonOffer",
    "chatbots.interceptors.understanding.Greeting",
    "chatbots.interceptors.order_status.OrderStatus",
    "chatbots.interceptors.understanding.FlowIntent",
]

calls: list[str] = []


class Passes(Interceptor):
    def intercept(self, ctx):
        calls.append("passes")
        return None


class Restarts(Interceptor):
    def intercept(self, ctx):
        calls.append("restarts")
        return Reply(clear_state=True, restart=True)


class Answers(Interceptor):
    def intercept(self, ctx):
        calls.append("answers")
        return Reply(handoff=True)


class Gate(Interceptor):
    gates_restart = True
    blocked = True

    def intercept(self, ctx):
        calls.append("gate")
        return Reply() if self.blocked else None


class OpenGate(Gate):
    blocked = False


class NotAnInterceptor:
    def intercept(self, ctx):
        return None


@pytest.fixture(autouse=True)
def _calls():
    calls.clear()
    yield
    calls.clear()


def chain(*names: str):
    return override_settings(CHATBOT_INTERCEPTORS=[f"{HERE}.{name}" for name in names])


# --- Loading ------------------------------------------------------------------------------


def test_the_chain_is_the_settings_list_in_order():
    assert registry.interceptor_paths() == EXPECTED_CHAIN
    assert [i.path() for i in registry.interceptor_chain()] == EXPECTED_CHAIN


def test_the_chain_is_built_once_and_rebuilt_when_the_setting_changes():
    first = registry.interceptor_chain()
    assert registry.interceptor_chain() is first
    with chain("Passes"):
        assert [type(i) for i in registry.interceptor_chain()] == [Passes]
    assert [i.path() for i in registry.interceptor_chain()] == EXPECTED_CHAIN


def test_a_path_that_does_not_import_fails_loudly_naming_it():
    with pytest.raises(registry.InterceptorNotFound, match="acme.nao_existe.Regra") as info:
        registry.load_interceptor("acme.nao_existe.Regra")
    assert info.value.reason == "import"


def test_something_that_is_not_an_interceptor_is_refused():
    with pytest.raises(registry.InterceptorNotFound, match="not a subclass") as info:
        registry.load_interceptor(f"{HERE}.NotAnInterceptor")
    assert info.value.reason == "not_interceptor"


# --- System checks ------------------------------------------------------------------------


def test_the_check_passes_with_the_default_settings():
    assert checks.check_interceptors() == []


def test_the_check_reports_a_path_that_does_not_import_and_one_that_is_not_an_interceptor():
    with chain("Passes", "Missing", "NotAnInterceptor"):
        problems = checks.check_interceptors()
    assert [p.id for p in problems] == ["chatbots.E003", "chatbots.E004"]
    assert f"{HERE}.Missing" in problems[0].msg
    assert "CHATBOT_INTERCEPTORS" in problems[0].hint
    assert f"{HERE}.NotAnInterceptor" in problems[1].msg
    assert "Interceptor" in problems[1].hint


def test_the_interceptor_check_is_registered_with_django():
    from django.core.checks import registry as django_checks

    assert checks.check_interceptors in django_checks.registry.get_checks()


# --- Running ------------------------------------------------------------------------------


def test_the_first_reply_wins_and_nothing_after_it_runs():
    with chain("Passes", "Answers", "Gate"):
        reply = registry.run(object())
    assert reply.handoff
    assert calls == ["passes", "answers"]


def test_none_from_every_interceptor_leaves_the_message_to_the_step():
    with chain("Passes", "OpenGate"):
        assert registry.run(object()) is None


def test_a_restart_is_answered_by_a_later_gate_that_objects():
    with chain("Restarts", "Answers", "Gate"):
        reply = registry.run(object())
    assert reply == Reply()
    # Only gates run after a restart: "answers" is not one.
    assert calls == ["restarts", "gate"]


def test_a_restart_stands_when_the_gates_after_it_let_it_through():
    with chain("Restarts", "OpenGate"):
        reply = registry.run(object())
    assert reply.restart and reply.clear_state
    assert calls == ["restarts", "gate"]


def test_a_gate_before_the_restart_is_not_asked_again():
    with chain("OpenGate", "Restarts"):
        reply = registry.run(object())
    assert reply.restart
    assert calls == ["gate", "restarts"]


def test_only_the_quota_gates_a_restart():
    gates = [i.path() for i in registry.interceptor_chain() if i.gates_restart]
    assert gates == ["chatbots.interceptors.quota.PlanQuota"]


# --- What "cancelar" means ----------------------------------------------------------------


class _Step:
    def __init__(self, handler_path: str):
        self.handler_path = handler_path


class _Ctx:
    def __init__(self, handler_path: str | None):
        self.step = _Step(handler_path) if handler_path else None


class OwnsCancel(Handler):
    owns_cancel = True


def test_a_handler_does_not_own_cancelar_unless_it_says_so():
    assert Handler.owns_cancel is False


def test_a_step_whose_handler_owns_cancelar_takes_it(monkeypatch):
    from chatbots.handlers import registry as handlers

    monkeypatch.setitem(handlers._registry, OwnsCancel.path(), OwnsCancel)
    assert cancel.step_owns_cancel(_Ctx(OwnsCancel.path()))
    assert not cancel.step_owns_cancel(_Ctx("chatbots.handlers.generic.MenuHandler"))
    assert not cancel.step_owns_cancel(_Ctx(None))
    assert not cancel.step_owns_cancel(_Ctx("acme.nao_existe.Etapa"))


def test_the_appointment_steps_own_cancelar():
    ctx = _Ctx("chatbots.handlers.agenda.ConfirmarAgendamentoHandler")
    assert cancel.step_owns_cancel(ctx)


def test_the_order_flow_registers_its_meaning_of_cancelar_once():
    from chatbots.handlers import pedidos

    cancel.register(pedidos.cancel_open_order)  # as a second import of the module would
    assert cancel._meanings.count(pedidos.cancel_open_order) == 1


def test_the_first_flow_with_something_to_cancel_answers(monkeypatch):
    asked: list[str] = []

    def nothing(ctx):
        asked.append("nothing")
        return None

    def cancels(ctx):
        asked.append("cancels")
        return Reply(end=True)

    def never(ctx):
        asked.append("never")
        return Reply()

    from chatbots.handlers import registry as handlers

    handlers.load_modules()  # the real flows registered before the list is swapped
    monkeypatch.setattr(cancel, "_meanings", [])
    for meaning in (nothing, cancels, never):
        cancel.register(meaning)
    assert cancel.cancel_reply(_Ctx(None)) == Reply(end=True)
    assert asked == ["nothing", "cancels"]


def test_the_readme_lists_the_chain_as_configured():
    import re

    from django.conf import settings

    readme = (settings.BASE_DIR / "README.md").read_text(encoding="utf-8")
    listed = re.findall(r"^\| \d+ \| `([\w.]+)` \|", readme, flags=re.MULTILINE)
    assert listed == EXPECTED_CHAIN
