"""The conversation corpus: every script of tests/conversations/*.yaml, played through the
bot's real webhook on the Meta provider (fake Graph API on 127.0.0.1) and on the stub.

A script marked `xfail: "<why>"` describes a known bug: it must fail (strict), so the day
the fix lands it passes, fails here as XPASS, and the mark comes off. The guide for writing
scripts is tests/conversations/README.md; the reader and the checks are in
tests/conversations/player.py.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
import time_machine

from tests.conversation import CUSTOMER
from tests.conversations import player
from tests.factories import ChatbotFactory, ClienteFactory

OTHER_CUSTOMER = "5511976543210"


def _cases():
    for script in player.scripts():
        for provider in script.providers:
            marks = [pytest.mark.xfail(reason=script.xfail, strict=True)] if script.xfail else []
            yield pytest.param(script, provider, id=f"{script.name}-{provider}", marks=marks)


@pytest.mark.parametrize(("script", "provider"), list(_cases()))
def test_conversation(script, provider, request, tenant, chat_with, delayed):
    with time_machine.travel(player.clock_start(script), tick=False) as clock:
        bot = _given(script, provider, request, tenant)
        customer = script.given.get("customer") or {}
        chat = chat_with(bot, **({"name": str(customer["name"])} if "name" in customer else {}))
        play = player.Player(script=script, chat=chat, clock=clock, delayed=delayed)
        try:
            play.play()
        except AssertionError as exc:
            transcript = "\n".join(play.transcript)
            raise AssertionError(f"{exc}\n\n{script.title}\n{transcript}") from None


def test_every_script_reads_and_the_corpus_covers_every_flow():
    scripts = player.scripts()
    assert len(scripts) >= 40
    assert {s.bot for s in scripts} == set(player.FLOWS)


def test_a_typo_in_a_script_names_the_file_and_the_key(tmp_path):
    bad = tmp_path / "errado.yaml"
    bad.write_text("bot: menu\nsteps:\n  - send: oi\n    expect: {diz: oi}\n", encoding="utf-8")
    with pytest.raises(player.ScriptError, match=r"errado.yaml: passo 1: 'expect' só aceita"):
        player.load(bad)


# --- What a script's `given` sets up ------------------------------------------------------------


def _given(script, provider, request, tenant):
    given = script.given
    options = dict(given.get("options") or {})
    catalog = given.get("catalog", "demo" if script.bot == "pedidos" else None)
    if catalog == "demo":
        from pedidos.demo import catalogo_demo

        catalogo_demo(tenant=tenant)
    elif catalog:
        _catalog(tenant, catalog)
    if given.get("store"):
        from pedidos import checkout

        checkout.configuracao_save(tenant=tenant, **given["store"])
    for bairro, valor in (given.get("fees") or {}).items():
        _fee(tenant, bairro, valor)
    agenda = given.get("agenda", "demo" if script.bot == "agenda" else None)
    if agenda == "demo":
        from agenda.defaults import agenda_demo_install
        from pedidos.demo import SEMANA

        agenda_demo_install(tenant=tenant, horarios=SEMANA)
    knowledge = given.get("knowledge")
    if knowledge == "demo":
        from chatbots.starter_flows import demo_knowledge_install

        demo_knowledge_install(tenant)
    elif knowledge:
        from chatbots.models import KnowledgeEntry

        for entry in knowledge:
            KnowledgeEntry.objects.create(tenant=tenant, **entry)
    if "gemini" in given:
        fake = request.getfixturevalue("fake_gemini")
        fake.answer_with(**given["gemini"])
    for spec in given.get("appointments") or []:
        _appointment(tenant, spec)
    return ChatbotFactory(
        tenant=tenant,
        provider=provider,
        flow=script.bot,
        options=options,
        display_number="5511900000099",
    )


def _catalog(tenant, catalog: dict) -> None:
    from pedidos import services

    for ordem, (categoria_nome, produtos) in enumerate(catalog.items(), start=1):
        categoria = services.categoria_create(tenant=tenant, nome=categoria_nome, ordem=ordem)
        for nome, preco in produtos:
            services.produto_create(
                tenant=tenant, categoria=categoria, nome=nome, preco=Decimal(str(preco))
            )


def _fee(tenant, bairro: str, valor) -> None:
    from pedidos import checkout
    from pedidos.models import TaxaEntrega

    taxa = TaxaEntrega.objects.filter(tenant=tenant, bairro=bairro).first()
    if taxa is None:
        checkout.taxa_entrega_create(tenant=tenant, bairro=bairro, valor=Decimal(str(valor)))
    else:
        checkout.taxa_entrega_update(taxa=taxa, valor=Decimal(str(valor)))


def _appointment(tenant, spec: dict) -> None:
    from agenda.models import Agendamento, Servico

    servico = Servico.objects.get(tenant=tenant, nome=spec["service"])
    from clientes.models import Cliente

    other = spec.get("customer") == "other"
    phone = OTHER_CUSTOMER if other else CUSTOMER
    cliente = Cliente.objects.filter(tenant=tenant, telefone=phone).first() or ClienteFactory(
        tenant=tenant, telefone=phone, nome="João" if other else "Maria"
    )
    start = datetime.fromisoformat(str(spec["start"])).replace(tzinfo=player.SP)
    Agendamento.objects.create(
        tenant=tenant,
        cliente=cliente,
        servico=servico,
        inicio=start,
        fim=start + timedelta(minutes=servico.duracao_minutos),
        status=spec.get("status", Agendamento.Status.CONFIRMADO),
        origem=Agendamento.Origem.ADMIN,
    )
