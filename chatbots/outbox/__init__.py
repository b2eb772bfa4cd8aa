"""The outbox: the one door through which the project reaches a customer.

Every outbound message is a Message row saved `queued` and sent by a task, in order, with
retries, the per-number rate governor and WhatsApp's 24-hour window (chatbots.outbox.sending
has the lifecycle). Domain apps (`pedidos`, `agenda`, `compliance`) use only the names
below and import nothing else from `chatbots` but models:

* `send_to_customer(chatbot=, cliente=, message=, template=, reason=, proactive=)`: queue a
  message the business sends on its own; outside the window its approved `template` goes
  instead, or a `failed` row records why nothing went.
* `chatbot_for_customer(cliente=, preferred=)`: the one rule for which bot speaks.
* `approved_template(chatbot=, purpose=, cliente=)`, `template_for(chatbot=, purpose=,
  params=, cliente=)`: the bot's approved template for a purpose (MessageTemplate.purpose),
  in the customer's language when `cliente` is given, as a row or filled in (`params` in
  order, or by name for a template with named parameters). At send time the components
  come from the stored definition and a missing parameter is refused before Meta sees it.
* `template_slots(template)`, `template_text(template, params=, header=)`: the values a
  template row takes (header, body) and the text a customer reads with them (previews).
* `window_open(conversation)`: whether the 24-hour customer-service window is open.
* `conversations_gone_quiet(chatbot=, since=)`: whom a bot has not heard from since then.
* The wire types a message is made of: Text, Buttons, Button, ListMessage, Section, Row,
  Media, Template (and their base, Outbound).
* For the apps that own a rule about what may be sent (billing's subscription, compliance's
  consent): `register_gate(gate, stage=QUEUE | SEND)` and `register_on_sent(hook)`, called
  from their AppConfig.ready(); the contract is in chatbots.outbox.gates.
* For screens that show conversations live (the attendant inbox): `register_on_stored(hook)`
  and `register_on_status(hook)`, called from AppConfig.ready(); see chatbots.outbox.watch.

The engine and the assistant queue a turn's replies with chatbots.outbox.queue
(`queue_replies`, `queue_mark_read`); the sender (chatbots.outbox.sender, `manage.py
run_sender`) sends them in batches, or, when no sender listens, the tasks
(chatbots.outbox.tasks) do, both through chatbots.outbox.sending.
"""

from chatbots.outbox.customers import (
    chatbot_for_customer,
    conversations_gone_quiet,
    send_to_customer,
    send_to_customers,
)
from chatbots.outbox.gates import QUEUE, SEND, Outgoing, Refusal, register_gate, register_on_sent
from chatbots.outbox.watch import register_on_status, register_on_stored
from chatbots.outbox.window import (
    approved_template,
    template_for,
    template_slots,
    template_text,
    window_open,
)
from chatbots.wire import (
    Button,
    Buttons,
    ListMessage,
    Media,
    Outbound,
    Row,
    Section,
    Template,
    Text,
)

__all__ = [
    "QUEUE",
    "SEND",
    "Button",
    "Buttons",
    "ListMessage",
    "Media",
    "Outbound",
    "Outgoing",
    "Refusal",
    "Row",
    "Section",
    "Template",
    "Text",
    "approved_template",
    "chatbot_for_customer",
    "conversations_gone_quiet",
    "register_gate",
    "register_on_sent",
    "register_on_status",
    "register_on_stored",
    "send_to_customer",
    "send_to_customers",
    "template_for",
    "template_slots",
    "template_text",
    "window_open",
]
