"""A CSV of contacts with the proof of their opt-in, read into customers and an import an
audience can name (`{"import_id": …}`, campaigns.audience).

Columns (a header row; `;` or `,`): `telefone` (required), `nome`, `tags` (separated by
`|`), `consentimento` (required: how the person agreed, e.g. "formulário do site
2026-05-01"), `consentido_em` (optional ISO date-time). A row without a valid phone or
without the proof is rejected and reported, never imported: WhatsApp's Business Messaging
Policy asks for an opt-in before a business messages someone
(https://business.whatsapp.com/policy) and LGPD art. 8 puts the burden of proving consent on
the business. A customer who opted out (compliance's ledger) stays opted out: a list bought
or kept elsewhere is no answer to the customer's own "SAIR".
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from billing.models import Tenant
from campaigns.models import ContactImport, ContactOptIn
from clientes import services as clientes_services
from clientes.models import Cliente
from clientes.phones import InvalidPhone, normalize_phone

MAX_ROWS = 50_000


@dataclass
class ImportResult:
    contact_import: ContactImport
    created: int = 0
    existing: int = 0
    opted_out: int = 0  # imported, but they had said no: campaigns skip them
    rejected: list[str] = field(default_factory=list)  # "linha 3: telefone inválido"


def contacts_import(*, tenant: Tenant, name: str, content: str, by: str = "") -> ImportResult:
    sample = content[:2048]
    delimiter = ";" if sample.count(";") > sample.count(",") else ","
    reader = csv.DictReader(io.StringIO(content), delimiter=delimiter)
    headers = {(h or "").strip().lower() for h in reader.fieldnames or []}
    missing = {"telefone", "consentimento"} - headers
    if missing:
        raise ValidationError(
            _("Faltam as colunas: %(cols)s.") % {"cols": ", ".join(sorted(missing))}
        )
    with transaction.atomic():
        result = ImportResult(
            ContactImport.objects.create(tenant=tenant, name=name[:200], created_by=by[:200])
        )
        seen: set[int] = set()
        for line, raw in enumerate(reader, start=2):
            if line > MAX_ROWS + 1:
                result.rejected.append(_("linha %(n)d: acima do limite de linhas") % {"n": line})
                break
            row = {(k or "").strip().lower(): (v or "").strip() for k, v in raw.items()}
            _import_row(tenant, result, seen, line, row)
    return result


def _import_row(tenant: Tenant, result: ImportResult, seen: set[int], line: int, row: dict) -> None:
    try:
        telefone = normalize_phone(row.get("telefone", ""))
    except InvalidPhone:
        result.rejected.append(_("linha %(n)d: telefone inválido") % {"n": line})
        return
    proof = row.get("consentimento", "")
    if not proof:
        result.rejected.append(_("linha %(n)d: sem a prova do consentimento") % {"n": line})
        return
    cliente = Cliente.objects.filter(tenant=tenant, telefone=telefone).first()
    tags = [t.strip() for t in row.get("tags", "").split("|") if t.strip()]
    if cliente is None:
        cliente = clientes_services.cliente_create(
            tenant=tenant, nome=row.get("nome", ""), telefone=telefone, tags=tags
        )
        result.created += 1
    else:
        result.existing += 1
        if tags and not set(tags) <= set(cliente.tags):
            clientes_services.cliente_update(cliente=cliente, tags=sorted({*cliente.tags, *tags}))
    if cliente.pk in seen:
        return
    seen.add(cliente.pk)
    if cliente.optout_em is not None:
        result.opted_out += 1
    ContactOptIn.objects.create(
        tenant=tenant,
        contact_import=result.contact_import,
        cliente=cliente,
        proof=proof[:255],
        agreed_at=parse_datetime(row.get("consentido_em", "") or "") or None,
    )
