"""What the orders app tells a customer on its own: that their order changed status.

pedidos.services.pedido_change_status calls `pedido_notify_status` after the change
commits. The message goes through the outbox (chatbots.outbox), through the bot the order
came from, or, for an order placed through the API, the bot the customer talks to
(chatbot_for_customer). Outside WhatsApp's 24-hour window the bot's approved template of
purpose TEMPLATE_ORDER_UPDATE goes instead; without one the outbox records that nothing
was sent.
"""

from __future__ import annotations

import logging

from chatbots import outbox
from pedidos import status as st
from pedidos.models import Pedido
from pedidos.money import format_brl

logger = logging.getLogger(__name__)

# MessageTemplate.purpose of the template used outside WhatsApp's 24-hour window.
TEMPLATE_ORDER_UPDATE = "order_update"  # params: order number, status label


def pedido_notify_status(*, pedido_id: int, status: str) -> None:
    """Tell the order's customer that it is now `status` (the text of
    pedidos.status.MENSAGEM_CLIENTE)."""
    pedido = Pedido.objects.select_related("cliente", "chatbot").get(pk=pedido_id)
    chatbot = outbox.chatbot_for_customer(cliente=pedido.cliente, preferred=pedido.chatbot)
    if chatbot is None:
        logger.warning("pedido %s: no bot to tell the customer about %s", pedido_id, status)
        return
    body = str(st.MENSAGEM_CLIENTE[status]).format(
        numero=pedido.numero, total=format_brl(pedido.total)
    )
    outbox.send_to_customer(
        chatbot=chatbot,
        cliente=pedido.cliente,
        message=outbox.Text(body=body),
        template=outbox.template_for(
            chatbot=chatbot,
            purpose=TEMPLATE_ORDER_UPDATE,
            params=[str(pedido.numero), st.label(status)],
            cliente=pedido.cliente,
        ),
        reason=TEMPLATE_ORDER_UPDATE,
    )
