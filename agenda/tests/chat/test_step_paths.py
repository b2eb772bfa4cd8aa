"""The agenda steps keep the handler paths saved steps name, whichever module defines them."""

from chatbots import starter_flows
from chatbots.handlers import agenda as agenda_handlers
from chatbots.handlers import registry
from chatbots.handlers.agenda.buttons import AppointmentButtons
from chatbots.interceptors.base import Interceptor

STEPS = [
    "AgendaInicioHandler",
    "EscolherServicoHandler",
    "EscolherDiaHandler",
    "EscolherHorarioHandler",
    "ConfirmarAgendamentoHandler",
    "MeuHorarioHandler",
]


def test_every_agenda_step_is_registered_under_the_package_path():
    for name in STEPS:
        path = f"chatbots.handlers.agenda.{name}"
        handler = registry.load_handler(path)
        assert handler is getattr(agenda_handlers, name)
        assert handler.path() == path


def test_the_starter_flow_names_only_loadable_agenda_paths():
    specs = starter_flows.agenda_flow()
    assert [path.rsplit(".", 1)[1] for _code, path, _config in specs] == STEPS
    assert registry.validate_flow(specs) == []


def test_every_agenda_step_owns_a_typed_cancelar():
    for name in STEPS:
        assert getattr(agenda_handlers, name).owns_cancel is True


def test_the_appointment_buttons_follow_the_interceptor_contract():
    assert issubclass(AppointmentButtons, Interceptor)
    assert AppointmentButtons.gates_restart is False
