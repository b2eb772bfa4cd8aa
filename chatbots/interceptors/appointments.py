"""TEMPORARY adapter: the appointment-buttons interceptor of the agenda flow.

Buttons that carry an appointment ("Confirmar", "Reagendar", "Cancelar" on a reminder, the
satisfaction score after it) act on that appointment whatever the step: the tap belongs to
the appointment, not to where the conversation is.

This module only exists until the agenda flow ships its own Interceptor subclass
(`chatbots.handlers.agenda.buttons.AppointmentButtons`); then CHATBOT_INTERCEPTORS names
that class and this file goes.
"""

from __future__ import annotations

from chatbots.handlers.agenda import interceptar
from chatbots.handlers.base import Context, Reply
from chatbots.interceptors.base import Interceptor


class AppointmentButtons(Interceptor):
    """Appointment buttons, the comment after a score and embedded agenda steps."""

    def intercept(self, ctx: Context) -> Reply | None:
        return interceptar(ctx)
