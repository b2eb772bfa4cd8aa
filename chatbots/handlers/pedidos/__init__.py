"""The order flow: the original system's six steps, the checkout, and what a customer
says beside the question at any step.

    inicio ─▶ selecionar_categoria ─▶ selecionar_produto ─▶ informar_quantidade
                  ▲        (a product's name typed anywhere finds it)      │
                  └──────────── adicionar_mais ◀──────────────────────────┘
                                    │ Finalizar (minimum order)
                                    ▼
      informar_nome ─▶ modo_entrega ─▶ informar_endereco ─▶ forma_pagamento ─▶
      observacoes_pedido ─▶ confirmar_pedido (summary; Pix code and QR when paid by Pix)

- `catalog`: inicio to informar_quantidade, the product search;
- `cart`: adicionar_mais and confirmar_pedido, cancelling, the checkout run inside the
  confirmation for flows without the checkout steps;
- `checkout_steps`: name, delivery or pickup, address (typed or a location), payment and
  change, notes; `route`: which of them comes next;
- `intake`: an order typed anywhere else ("quero uma pizza calabresa" as the first
  message), opened with what was said filled in (chatbots.handlers.intents);
- `aside`: a greeting, a question about the business, "atendente", at any order step;
- `whatsapp_catalog`: carts sent from the WhatsApp catalog (an interceptor);
- `base`: step codes, state keys and the base class.

The cart is a `rascunho` Pedido (pedidos.services), so it survives across messages, workers
and restarts; a customer who comes back resumes it. Steps name their handler
`chatbots.handlers.pedidos.<Class>` (OrderStep.path; DESIGN.md fixes the six original
ones): the classes are re-exported here under that path, whichever module defines them.
"""

from chatbots.handlers.pedidos.cart import (
    AdicionarMaisHandler,
    ConfirmarPedidoHandler,
    cancel_open_order,
)
from chatbots.handlers.pedidos.catalog import (
    InformarQuantidadeHandler,
    InicioHandlerPedidos,
    SelecionarCategoriaHandler,
    SelecionarProdutoHandler,
)
from chatbots.handlers.pedidos.checkout_steps import (
    FormaPagamentoHandler,
    InformarEnderecoHandler,
    InformarNomeHandler,
    ModoEntregaHandler,
    ObservacoesHandler,
)
from chatbots.handlers.pedidos.intake import order_from_text
from chatbots.handlers.pedidos.whatsapp_catalog import CatalogOrder, catalog_order

__all__ = [
    "AdicionarMaisHandler",
    "CatalogOrder",
    "ConfirmarPedidoHandler",
    "FormaPagamentoHandler",
    "InformarEnderecoHandler",
    "InformarNomeHandler",
    "InformarQuantidadeHandler",
    "InicioHandlerPedidos",
    "ModoEntregaHandler",
    "ObservacoesHandler",
    "SelecionarCategoriaHandler",
    "SelecionarProdutoHandler",
    "cancel_open_order",
    "catalog_order",
    "order_from_text",
]
