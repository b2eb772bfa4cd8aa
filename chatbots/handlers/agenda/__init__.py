"""The appointment flow: book, see, reschedule or cancel an appointment in the chat.

    inicio (Agendar · Meu horário · Encerrar)
      ├─ agenda_servico ─▶ agenda_dia ─▶ agenda_horario ─▶ agenda_confirmar ─▶ booked
      └─ agenda_meu_horario (Confirmar · Reagendar · Cancelar the next appointment)

- `steps`: the booking steps, from inicio to agenda_horario; `confirm`: agenda_confirmar
  and the booking itself;
- `my_appointment`: agenda_meu_horario and the actions on one appointment;
- `buttons`: the interceptor for buttons that carry an appointment, from any step;
- `embedded`: the agenda steps run inside a flow that has none (a reschedule mid-order);
- `intake`: the service, day and time read from free text ("quero marcar um corte amanhã"),
  and the agenda's meaning of the intents typed anywhere (chatbots.handlers.intents);
- `base`: step codes, state keys and the base class of the steps.

Steps name their handler `chatbots.handlers.agenda.<Class>` (AgendaStep.path): the classes
are re-exported here under that path, whichever module defines them.

Errors: no availability source -> "a agenda não está configurada", end; Cal.com down ->
"não consegui acessar a agenda agora", stay at the step with everything chosen so far, so
the customer just tries again; a time taken between offer and confirmation, or typed
("14h") when someone else has it -> say so and offer the free ones nearest to it.

Numbers: a bare number answering a list is the row shown at that position, "Ver mais" and
"Voltar" included (chatbots.numbered); a time is typed with its hour mark ("9h", "09:00",
"9:30").
"""

from chatbots.handlers.agenda import intake  # noqa: F401  (registers the intents' meaning)
from chatbots.handlers.agenda.buttons import AppointmentButtons
from chatbots.handlers.agenda.confirm import ConfirmarAgendamentoHandler
from chatbots.handlers.agenda.embedded import enter_agenda
from chatbots.handlers.agenda.my_appointment import MeuHorarioHandler, appointment_action
from chatbots.handlers.agenda.steps import (
    AgendaInicioHandler,
    EscolherDiaHandler,
    EscolherHorarioHandler,
    EscolherServicoHandler,
)

__all__ = [
    "AgendaInicioHandler",
    "AppointmentButtons",
    "ConfirmarAgendamentoHandler",
    "EscolherDiaHandler",
    "EscolherHorarioHandler",
    "EscolherServicoHandler",
    "MeuHorarioHandler",
    "appointment_action",
    "enter_agenda",
]
