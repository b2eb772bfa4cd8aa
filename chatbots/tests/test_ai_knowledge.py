"""Answers without a model: keyword match on the knowledge entries, then our own facts."""

from __future__ import annotations

from decimal import Decimal

from agenda.models import HorarioFuncionamento, Servico
from chatbots.ai.knowledge import local_answer
from chatbots.models import BusinessProfile, KnowledgeEntry


def test_it_finds_the_entry_however_the_customer_words_it(tenant):
    KnowledgeEntry.objects.create(
        tenant=tenant, question="Vocês abrem domingo?", answer="Domingo abrimos das 8h às 12h."
    )
    KnowledgeEntry.objects.create(
        tenant=tenant, question="Aceitam cartão?", answer="Aceitamos Pix, débito e crédito."
    )

    assert local_answer(tenant=tenant, text="Bom dia, vcs funcionam aos DOMINGOS?") == (
        "Domingo abrimos das 8h às 12h."
    )
    assert local_answer(tenant=tenant, text="posso pagar com pix?") == (
        "Aceitamos Pix, débito e crédito."
    )


def test_a_question_about_something_else_finds_nothing(tenant):
    KnowledgeEntry.objects.create(
        tenant=tenant, question="Vocês abrem domingo?", answer="Domingo abrimos das 8h às 12h."
    )

    assert local_answer(tenant=tenant, text="vocês consertam bicicleta?") == ""


def test_prices_come_from_the_services_and_products_named(tenant):
    Servico.objects.create(tenant=tenant, nome="Corte de cabelo", duracao_minutos=30, preco=50)
    Servico.objects.create(tenant=tenant, nome="Escova", duracao_minutos=45, preco=Decimal("70"))

    assert local_answer(tenant=tenant, text="quanto custa o corte?") == (
        "• Corte de cabelo: R$ 50,00 (30 min)"
    )


def test_hours_come_from_the_agenda_and_the_address_from_the_profile(tenant):
    from datetime import time

    HorarioFuncionamento.objects.create(tenant=tenant, dia_semana=0, abre=time(9), fecha=time(18))
    BusinessProfile.objects.create(tenant=tenant, address="Rua Augusta, 500")

    hours = local_answer(tenant=tenant, text="que horas vocês abrem?")
    assert "segunda-feira: 09:00–18:00" in hours
    assert "domingo: fechado" in hours
    assert local_answer(tenant=tenant, text="onde fica a loja?") == "Estamos em: Rua Augusta, 500"


def test_inactive_entries_and_other_tenants_entries_are_never_used(tenant, other_tenant):
    KnowledgeEntry.objects.create(
        tenant=tenant, question="Tem estacionamento?", answer="Sim, gratuito.", active=False
    )
    KnowledgeEntry.objects.create(
        tenant=other_tenant, question="Tem estacionamento?", answer="Temos valet."
    )

    assert local_answer(tenant=tenant, text="tem estacionamento?") == ""
