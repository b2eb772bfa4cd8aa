"""The demo menu seed_demo installs: a few categories, a dozen products (some with the
synonyms customers type), the store's address and two delivery fees. Idempotent. No Pix
key: a demo must never show a code that pays someone."""

from __future__ import annotations

from decimal import Decimal

from billing.models import Tenant
from pedidos import checkout, services
from pedidos.models import Categoria, ConfiguracaoPedidos, Produto, TaxaEntrega

MENU = {
    "Pizzas": [
        ("Pizza Margherita", "Molho de tomate, mussarela e manjericão", "49.90"),
        ("Pizza Calabresa", "Calabresa fatiada e cebola", "47.90"),
        ("Pizza Quatro Queijos", "Mussarela, provolone, parmesão e gorgonzola", "54.90"),
        ("Pizza Portuguesa", "Presunto, ovo, cebola e azeitona", "52.90"),
        ("Pizza Frango com Catupiry", "Frango desfiado e Catupiry", "53.90"),
    ],
    "Bebidas": [
        ("Coca-Cola 2L", "Garrafa de 2 litros", "14.00"),
        ("Refrigerante lata", "350 ml", "6.00"),
        ("Suco natural", "Laranja ou limão, 500 ml", "9.50"),
        ("Água mineral", "500 ml", "4.00"),
    ],
    "Sobremesas": [
        ("Pizza de Chocolate", "Chocolate ao leite e granulado", "39.90"),
        ("Pudim", "Fatia", "12.00"),
        ("Petit gâteau", "Com sorvete de creme", "18.90"),
        ("Açaí 300 ml", "Com granola e banana", "16.00"),
    ],
}


SINONIMOS = {
    "Coca-Cola 2L": "coca, coca cola, refri",
    "Refrigerante lata": "lata, latinha, refri",
    "Pizza Frango com Catupiry": "frango",
}
BAIRROS = {"Centro": "5.00", "Jardim América": "8.00"}


def catalogo_demo(*, tenant: Tenant) -> None:
    for ordem, (nome_categoria, produtos) in enumerate(MENU.items(), start=1):
        categoria = Categoria.objects.filter(tenant=tenant, nome=nome_categoria).first()
        if categoria is None:
            categoria = services.categoria_create(tenant=tenant, nome=nome_categoria, ordem=ordem)
        for nome, descricao, preco in produtos:
            if not Produto.objects.filter(tenant=tenant, nome=nome).exists():
                services.produto_create(
                    tenant=tenant,
                    categoria=categoria,
                    nome=nome,
                    descricao=descricao,
                    preco=Decimal(preco),
                    sinonimos=SINONIMOS.get(nome, ""),
                )
    if not ConfiguracaoPedidos.objects.filter(tenant=tenant).exists():
        checkout.configuracao_save(
            tenant=tenant,
            endereco_loja="Rua das Palmeiras, 45 – Centro",
            taxa_entrega_padrao=Decimal("12.00"),
        )
    for bairro, valor in BAIRROS.items():
        if not TaxaEntrega.objects.filter(tenant=tenant, bairro=bairro).exists():
            checkout.taxa_entrega_create(tenant=tenant, bairro=bairro, valor=Decimal(valor))
