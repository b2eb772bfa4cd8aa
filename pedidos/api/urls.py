from django.urls import path
from rest_framework.routers import DefaultRouter

from pedidos.api.pix import pix_qr
from pedidos.api.views import (
    CategoriaViewSet,
    ConfiguracaoPedidosViewSet,
    PedidoViewSet,
    ProdutoViewSet,
    TaxaEntregaViewSet,
)

router = DefaultRouter()
router.register("categorias", CategoriaViewSet, basename="categoria")
router.register("produtos", ProdutoViewSet, basename="produto")
router.register("pedidos", PedidoViewSet, basename="pedido")
router.register("configuracao", ConfiguracaoPedidosViewSet, basename="configuracao-pedidos")
router.register("taxas-entrega", TaxaEntregaViewSet, basename="taxa-entrega")
urlpatterns = [
    path("pix/<str:token>.png", pix_qr, name="pedido-pix-qr"),
    *router.urls,
]
