"""The demo menu seed_demo installs: a few categories, a dozen products. Idempotent."""

from __future__ import annotations

from decimal import Decimal

from billing.models import Tenant
from pedidos import services
from pedidos.models import Categoria, Produto

MENU = {
    "Pizzas": [
        ("Pizza Margherita", "Molho de tomate, mussarela e manjericão", "49.90"),
        ("Pizza Calabresa", "Calabresa fatiada e cebola", "47.90"),
        ("Pizza Quatro Queijos", "Mussarela, provolone, parmesão e gorgonzola", "54.90"),
        ("Pizza Portuguesa", "Presunto, ovo, cebola e azeitona", "52.90"),
        ("Pizza Frango com Catupiry", "Frango desfiado e Catupiry", "53.90"),
    ],
    "Bebidas": [
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
                )
