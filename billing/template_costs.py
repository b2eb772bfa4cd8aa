"""What delivered WhatsApp templates cost: Meta's rate by category and country.

Meta charges per delivered template, by the template's category (marketing, utility,
authentication) and the customer's country; service messages inside the 24-hour window are
free (Meta: https://developers.facebook.com/docs/whatsapp/pricing). The inbound status
worker calls `template_delivered` the first time one of our templates is delivered (or
read), which adds to the tenant's TemplateCost row of the day; analytics adds those costs
to the estimate (billing.analytics).

Rates are settings.WHATSAPP_TEMPLATE_RATES ({"BR": {"MARKETING": "0.3438", ...}, "*": ...},
R$); a country without rates uses "*", and without either, Brazil's defaults below.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils import timezone

from billing.models import TemplateCost

# Meta's rate card for Brazil (July 2025: US$ 0.0625 marketing, US$ 0.0068 utility and
# authentication) at R$ 5.50 per dollar. Set WHATSAPP_TEMPLATE_RATES to the card in force.
BRAZIL_RATES = {
    "MARKETING": Decimal("0.3438"),
    "UTILITY": Decimal("0.0374"),
    "AUTHENTICATION": Decimal("0.0374"),
}

# Calling code -> ISO country, longest codes first when read (Meta prices by the
# recipient's country code). Unknown codes are "*", priced like the default.
CALLING_CODES = {
    "55": "BR",
    "1": "US",
    "351": "PT",
    "54": "AR",
    "52": "MX",
    "57": "CO",
    "56": "CL",
    "51": "PE",
    "598": "UY",
    "595": "PY",
    "591": "BO",
    "593": "EC",
    "58": "VE",
    "34": "ES",
    "44": "GB",
    "49": "DE",
    "33": "FR",
    "39": "IT",
}


def country_of(phone: str) -> str:
    """The ISO country of canonical phone digits ("5511..." -> "BR"), or "*"."""
    digits = "".join(c for c in phone or "" if c.isdigit())
    for length in (3, 2, 1):
        if country := CALLING_CODES.get(digits[:length]):
            return country
    return "*"


def rate_for(*, category: str, country: str) -> Decimal:
    """R$ per delivered template of `category` to a customer in `country`."""
    category = (category or "UTILITY").upper()
    table = settings.WHATSAPP_TEMPLATE_RATES or {}
    for key in (country, "*"):
        rates = table.get(key)
        if isinstance(rates, dict) and category in rates:
            return Decimal(str(rates[category]))
    return BRAZIL_RATES.get(category, BRAZIL_RATES["UTILITY"])


def template_delivered(
    *, tenant_id: int, category: str, phone: str, at: datetime | None = None
) -> Decimal:
    """Count one delivered template and its cost on the tenant's day; returns the cost."""
    category = (category or "UTILITY").upper()
    country = country_of(phone)
    cost = rate_for(category=category, country=country)
    day = timezone.localdate(at or timezone.now())
    rows = TemplateCost.objects.filter(
        tenant_id=tenant_id, day=day, category=category, country=country
    )
    changes = {"delivered": F("delivered") + 1, "cost": F("cost") + cost}
    if not rows.update(**changes):
        try:
            with transaction.atomic():  # savepoint: losing the insert race is fine
                TemplateCost.objects.create(
                    tenant_id=tenant_id,
                    day=day,
                    category=category,
                    country=country,
                    delivered=1,
                    cost=cost,
                )
        except IntegrityError:
            rows.update(**changes)
    return cost


def costs_between(*, tenant_id: int, first_day: date, last_day: date) -> list[dict]:
    """Delivered templates and their cost by category and country, most expensive first."""
    return list(
        TemplateCost.objects.filter(tenant_id=tenant_id, day__gte=first_day, day__lte=last_day)
        .values("category", "country")
        .annotate(delivered=Sum("delivered"), cost=Sum("cost"))
        .order_by("-cost", "category", "country")
    )


def cost_by_day(*, tenant_id: int, first_day: date, last_day: date) -> dict[date, Decimal]:
    return {
        row["day"]: row["total"]
        for row in TemplateCost.objects.filter(
            tenant_id=tenant_id, day__gte=first_day, day__lte=last_day
        )
        .values("day")
        .annotate(total=Sum("cost"))
        .order_by()
    }
