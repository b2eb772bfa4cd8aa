"""Demo data for a first look: plans, the "Pizzaria Demo" tenant, an `admin` login, clientes.

Idempotent: running it again updates the plans, keeps the admin's password (unless
DEMO_ADMIN_PASSWORD is set) and adds nothing twice. The demo bots (menu, orders, agenda, with
the assistant's knowledge base) come from `chatbots.starter_flows.install_demo(tenant=...)`,
and the output ends with each bot's id and what to type to try it.
"""

from __future__ import annotations

import importlib
import secrets
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from billing.models import Membership, Plan, Tenant
from billing.services import tenant_create
from clientes import selectors as clientes_selectors
from clientes import services as clientes_services

DEMO_SLUG = "demo"
DEMO_NAME = "Pizzaria Demo"
DEMO_PLAN = "Profissional"
ADMIN_USERNAME = "admin"
ADMIN_EMAIL = "admin@example.com"
# Who the demo's instructions write as: fictitious, and no demo bot's or cliente's number.
DEMO_CUSTOMER = "5511987654321"

PLANS = [
    {
        "name": "Básico",
        "monthly_price": Decimal("99.00"),
        "max_messages_per_month": 1000,
        "max_chatbots": 1,
        "max_staff": 3,
        "ai_enabled": False,
        "max_ai_tokens_per_month": 0,
        "trial_days": 7,
    },
    {
        "name": "Profissional",
        "monthly_price": Decimal("249.00"),
        "max_messages_per_month": 10000,
        "max_chatbots": 3,
        "max_staff": 10,
        "ai_enabled": True,
        "max_ai_tokens_per_month": 2_000_000,
        "trial_days": 14,
    },
    {
        "name": "Empresarial",
        "monthly_price": Decimal("699.00"),
        "max_messages_per_month": 100000,
        "max_chatbots": 10,
        "max_staff": 50,
        "ai_enabled": True,
        "max_ai_tokens_per_month": 20_000_000,
        "trial_days": 14,
    },
]

# Fictitious numbers (the 9 0000-xxxx range is not assigned to real mobiles in DDD 11).
CLIENTES = [
    {"nome": "Ana Souza", "telefone": "11 90000-0001", "tags": ["vip"]},
    {"nome": "Bruno Lima", "telefone": "11 90000-0002", "tags": ["delivery"]},
    {"nome": "Carla Dias", "telefone": "11 90000-0003", "tags": []},
]


def plans_seed() -> list[Plan]:
    return [Plan.objects.update_or_create(name=spec["name"], defaults=spec)[0] for spec in PLANS]


def demo_admin_ensure(*, password: str) -> tuple[object, str | None, bool]:
    """Return (user, password_to_show, created). Never resets an existing password silently."""
    User = get_user_model()
    user = User.objects.filter(username=ADMIN_USERNAME).first()
    created = user is None
    generated = None
    if created:
        generated = None if password else secrets.token_urlsafe(12)
        user = User.objects.create_superuser(
            username=ADMIN_USERNAME, email=ADMIN_EMAIL, password=password or generated
        )
    elif password:
        user.set_password(password)
        user.is_staff = user.is_superuser = user.is_active = True
        user.save()
    return user, generated, created


def install_demo_bot(tenant: Tenant):
    """chatbots.starter_flows.install_demo(tenant): the demo bots, or None without it."""
    try:
        flows = importlib.import_module("chatbots.starter_flows")
    except ModuleNotFoundError as exc:
        if exc.name != "chatbots.starter_flows":
            raise  # the module exists but is broken: say so
        return None
    install = getattr(flows, "install_demo", None)
    if install is None:
        return None
    return install(tenant=tenant)


class Command(BaseCommand):
    help = (
        "Create demo data: plans, the 'Pizzaria Demo' tenant, an 'admin' superuser and a few "
        "clientes. Safe to run again. The admin password comes from DEMO_ADMIN_PASSWORD or is "
        "generated and printed once."
    )

    @transaction.atomic
    def handle(self, *args, **options):
        plans = plans_seed()
        self.stdout.write("Plans: " + ", ".join(p.name for p in plans))

        result = tenant_create(slug=DEMO_SLUG, name=DEMO_NAME, plan_name=DEMO_PLAN)
        tenant = result.tenant
        verb = "created" if result.created else "already exists"
        self.stdout.write(f"Tenant {tenant.slug} ({tenant.name}) {verb}.")

        user, generated, created = demo_admin_ensure(password=settings.DEMO_ADMIN_PASSWORD)
        Membership.objects.update_or_create(
            user=user, tenant=tenant, defaults={"role": Membership.Role.OWNER}
        )
        if generated:
            self.stdout.write(
                f"Superuser '{ADMIN_USERNAME}' created. Password (shown once, keep it): {generated}"
            )
        elif created:
            self.stdout.write(
                f"Superuser '{ADMIN_USERNAME}' created with the password in DEMO_ADMIN_PASSWORD."
            )
        elif settings.DEMO_ADMIN_PASSWORD:
            self.stdout.write(
                f"Superuser '{ADMIN_USERNAME}' already exists; password set from DEMO_ADMIN_PASSWORD."
            )
        else:
            self.stdout.write(
                f"Superuser '{ADMIN_USERNAME}' already exists; password unchanged "
                "(set DEMO_ADMIN_PASSWORD to reset it, or run changepassword admin)."
            )

        added = 0
        for spec in CLIENTES:
            if clientes_selectors.cliente_find_by_phone(tenant=tenant, telefone=spec["telefone"]):
                continue
            clientes_services.cliente_create(tenant=tenant, **spec)
            added += 1
        self.stdout.write(f"Clientes: {added} added, {len(CLIENTES) - added} already there.")

        demo_bots = install_demo_bot(tenant) or []
        for line in demo_guide(demo_bots):
            self.stdout.write(line)
        self.stdout.write(self.style.SUCCESS("Demo ready: log in at /admin/."))


def demo_guide(demo_bots) -> list[str]:
    """What the operator reads to try each bot: its id, flow, number and what to type."""
    if not demo_bots:
        return []
    lines = [
        "Bots de demonstração (converse pelo terminal, sem WhatsApp, como o cliente "
        f"{DEMO_CUSTOMER}):",
        f'  python manage.py simulate --bot <id> --phone {DEMO_CUSTOMER} "<mensagem>"',
    ]
    for demo in demo_bots:
        bot = demo.chatbot
        typed = " → ".join(f"“{t}”" for t in demo.try_typing)
        lines.append(f"  #{bot.pk} {bot.name} (fluxo {demo.flow}, número {bot.display_number})")
        lines.append(f"      digite: {typed}")
    if _ai_configured():
        lines.append("Assistente: ligado, com o Gemini (GEMINI_API_KEY definida) e a base de")
        lines.append("  conhecimento da empresa (Painel → Base de conhecimento do assistente).")
    else:
        lines.append("Assistente: ligado sem IA (GEMINI_API_KEY vazia). As perguntas livres são")
        lines.append("  respondidas pela base de conhecimento (Painel → Base de conhecimento do")
        lines.append("  assistente), por palavras-chave; o que ela não cobre recebe as opções da")
        lines.append("  etapa de novo. Defina GEMINI_API_KEY para respostas do Gemini.")
    return lines


def _ai_configured() -> bool:
    from chatbots.ai.client import ai_configured

    return ai_configured()
