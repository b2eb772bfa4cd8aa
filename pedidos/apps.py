from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PedidosConfig(AppConfig):
    name = "pedidos"
    verbose_name = _("Pedidos")
