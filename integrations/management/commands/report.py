"""manage.py report --tenant <id|slug> --month YYYY-MM [--output FILE] [--email]"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q

from billing.models import Tenant
from integrations import report


class Command(BaseCommand):
    help = "Gera o relatório mensal (PDF) de uma empresa; com --email, envia aos proprietários."

    def add_arguments(self, parser):
        parser.add_argument("--tenant", required=True, help="ID ou identificador (slug)")
        parser.add_argument("--month", required=True, help="AAAA-MM, ex.: 2026-11")
        parser.add_argument("--output", help="arquivo PDF (padrão: relatorio-<slug>-<mês>.pdf)")
        parser.add_argument(
            "--email",
            action="store_true",
            help="envia aos proprietários em vez de gravar (uma vez por mês e empresa)",
        )

    def handle(self, *args, tenant: str, month: str, output: str | None, email: bool, **opts):
        lookup = Q(slug=tenant) | (Q(pk=int(tenant)) if tenant.isdigit() else Q())
        found = Tenant.objects.filter(lookup).first()
        if found is None:
            raise CommandError(f"Empresa “{tenant}” não encontrada (use o ID ou o slug).")
        try:
            first_day = report.month_parse(month)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        if email:
            sent = report.report_email(tenant_id=found.pk, month=first_day)
            self.stdout.write(
                "enviado"
                if sent
                else "não enviado (já enviado antes, ou sem proprietários com e-mail)"
            )
            return
        path = Path(output or report.report_filename(found, first_day))
        path.write_bytes(report.report_render(tenant=found, month=first_day))
        self.stdout.write(str(path))
