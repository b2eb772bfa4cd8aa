"""Who a campaign reaches: an audience definition (a JSON object) read into customers.

Keys, all optional and combined with AND:

* `tags`: a list; the customer has at least one of them (Cliente.tags).
* `inactive_days`: no message from the customer for that many days (or never).
* `bought_product`: a Produto id the customer ordered; `spent_over`: the customer's orders
  total more than this (R$); `last_order_before`: an ISO date the last order is before.
* `appointment_service`: a Servico id the customer booked; `no_show`: true for customers who
  missed an appointment.
* `segment`: a customer segment or a list of them (insights.models.Segmento: novos,
  campeoes, fieis, em_risco, perdidos, outros), as of the last daily refresh.
* `cliente_ids`: an explicit list; `import_id`: the customers of a CSV import with their
  opt-in proof (campaigns.imports).

Marketing never reaches a customer who opted out (compliance's consent ledger sets
Cliente.optout_em); the outbox asks the ledger again at send time.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from django.db.models import Exists, Max, OuterRef, Q, QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from agenda.models import Agendamento
from campaigns.models import ContactOptIn
from chatbots.models import Message
from clientes.models import Cliente
from insights.models import PerfilCliente, Segmento
from pedidos.models import ItemPedido

KEYS = {
    "tags",
    "inactive_days",
    "bought_product",
    "spent_over",
    "last_order_before",
    "appointment_service",
    "no_show",
    "cliente_ids",
    "import_id",
    "segment",
}


def audience_problems(definition) -> list[str]:
    """What is wrong with an audience definition, in pt-BR (empty when it is fine)."""
    if not isinstance(definition, dict):
        return [_("O público deve ser um objeto JSON.")]
    problems = [
        _("Critério desconhecido: %(key)s.") % {"key": key} for key in definition if key not in KEYS
    ]
    if (tags := definition.get("tags")) is not None and not isinstance(tags, list):
        problems.append(_("tags deve ser uma lista."))
    if before := definition.get("last_order_before"):
        try:
            date.fromisoformat(str(before))
        except ValueError:
            problems.append(_("last_order_before deve ser uma data AAAA-MM-DD."))
    for key in ("inactive_days", "bought_product", "appointment_service", "import_id"):
        value = definition.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            problems.append(_("%(key)s deve ser um número inteiro.") % {"key": key})
    if (segment := definition.get("segment")) is not None:
        names = segment if isinstance(segment, list) else [segment]
        wrong = [str(n) for n in names if n not in Segmento.values]
        if wrong or not names:
            problems.append(
                _("segment deve ser um ou mais de: %(known)s.")
                % {"known": ", ".join(Segmento.values)}
            )
    return problems


def audience_customers(
    *, tenant_id: int, definition: dict, opted_out: bool = False
) -> QuerySet[Cliente]:
    """The customers `definition` reaches; with `opted_out`, only those it would reach but
    who opted out (counted on the staff form, never messaged)."""
    qs = Cliente.objects.filter(tenant_id=tenant_id, optout_em__isnull=not opted_out)
    if tags := definition.get("tags"):
        any_tag = Q()
        for tag in tags:
            any_tag |= Q(tags__contains=[tag])
        qs = qs.filter(any_tag)
    if days := definition.get("inactive_days"):
        since = timezone.now() - timedelta(days=int(days))
        recent = Message.objects.filter(
            conversation__cliente=OuterRef("pk"),
            direction=Message.Direction.IN,
            created_at__gte=since,
        )
        qs = qs.exclude(Exists(recent))
    if product := definition.get("bought_product"):
        qs = qs.filter(
            Exists(ItemPedido.objects.filter(pedido__cliente=OuterRef("pk"), produto_id=product))
        )
    if (over := definition.get("spent_over")) is not None:
        qs = qs.annotate(_spent=Sum("pedidos__total")).filter(_spent__gt=Decimal(str(over)))
    if before := definition.get("last_order_before"):
        qs = qs.annotate(_last=Max("pedidos__criado_em")).filter(
            _last__date__lt=date.fromisoformat(before)
        )
    if service := definition.get("appointment_service"):
        qs = qs.filter(
            Exists(Agendamento.objects.filter(cliente=OuterRef("pk"), servico_id=service))
        )
    if definition.get("no_show"):
        qs = qs.filter(
            Exists(
                Agendamento.objects.filter(
                    cliente=OuterRef("pk"), status=Agendamento.Status.NAO_COMPARECEU
                )
            )
        )
    if imported := definition.get("import_id"):
        qs = qs.filter(
            Exists(
                ContactOptIn.objects.filter(
                    cliente=OuterRef("pk"), contact_import_id=imported, tenant_id=tenant_id
                )
            )
        )
    if (segment := definition.get("segment")) is not None:
        names = segment if isinstance(segment, list) else [segment]
        qs = qs.filter(
            Exists(PerfilCliente.objects.filter(cliente=OuterRef("pk"), segmento__in=names))
        )
    if (ids := definition.get("cliente_ids")) is not None:
        qs = qs.filter(pk__in=ids)
    return qs.order_by("pk")


def audience_count(*, tenant_id: int, definition: dict, opted_out: bool = False) -> int:
    """How many customers a campaign would reach now (shown before starting); with
    `opted_out`, how many the definition matches but the opt-out keeps out."""
    return audience_customers(
        tenant_id=tenant_id, definition=definition, opted_out=opted_out
    ).count()
