"""What can go wrong when booking, with the sentence the customer or the staff reads.

Callers (chat handlers, API, admin) catch these and show `str(exc)`; the text is pt-BR.
Everything else that is wrong with the input (a day outside the window, an inactive
service) is a Django ValidationError, which the API already answers as 400.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _


class AgendaErro(Exception):
    default_message = _("Não foi possível concluir a operação na agenda.")

    def __init__(self, message: str | None = None):
        self.message = str(message or self.default_message)
        super().__init__(self.message)


class AgendaNaoConfigurada(AgendaErro):
    """The tenant has no availability source (or the chosen source lacks its settings)."""

    default_message = _("A agenda não está configurada.")


class AgendaIndisponivel(AgendaErro):
    """The external calendar (Cal.com) failed or timed out; nothing was changed."""

    default_message = _("Não consegui acessar a agenda agora. Tente de novo em alguns minutos.")


class SlotTaken(AgendaErro):
    """Someone else holds that time (found by our check or by the database constraint)."""

    default_message = _("Esse horário acabou de ser ocupado. Por favor, escolha outro horário.")


class WebhookAssinaturaInvalida(AgendaErro):
    """A Cal.com webhook whose signature does not match (answer 401, store nothing)."""

    default_message = _("Assinatura X-Cal-Signature-256 inválida.")


class WebhookInvalido(AgendaErro):
    """A Cal.com webhook body we cannot read (answer 400, store nothing)."""

    default_message = _("Corpo do webhook do Cal.com inválido.")
