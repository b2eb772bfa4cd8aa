"""GET /api/pedidos/pix/<token>.png: an order's Pix QR code, for WhatsApp to fetch.

WhatsApp downloads a media message's `link` itself, without our credentials, so the link
is signed instead (pedidos.pix.image_token: the order id, a week at most) and the image is
drawn from the order as it is now: a cancelled order, or one no longer paid by Pix, has
none (404). The code in it is the same the customer got as text (pedidos.checkout.pix_code).
"""

from __future__ import annotations

from django.http import Http404, HttpResponse
from django.views.decorators.http import require_GET

from pedidos import checkout, pix
from pedidos.models import Pedido
from pedidos.status import StatusPedido


@require_GET
def pix_qr(request, token: str) -> HttpResponse:
    pedido_id = pix.image_pedido_id(token)
    pedido = (
        Pedido.objects.select_related("tenant").filter(pk=pedido_id).first() if pedido_id else None
    )
    if pedido is None or pedido.status == StatusPedido.CANCELADO:
        raise Http404
    code = checkout.pix_code(
        pedido=pedido, configuracao=checkout.configuracao_get(tenant=pedido.tenant)
    )
    if not code:
        raise Http404
    response = HttpResponse(pix.qr_png(code), content_type="image/png")
    response["Cache-Control"] = "private, max-age=3600"
    return response
