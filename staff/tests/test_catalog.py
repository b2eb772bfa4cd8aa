"""Products and services in the staff app (/atendimento/catalogo/): owners and admins list,
create, edit and deactivate them; agents and other tenants cannot."""

from __future__ import annotations

from decimal import Decimal

import pytest

from agenda.models import Servico
from billing.models import Membership
from pedidos.models import Categoria, Produto
from tests.factories import (
    CategoriaFactory,
    MembershipFactory,
    ProdutoFactory,
    ServicoFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner(client):
    membership = MembershipFactory(role=Membership.Role.OWNER)
    client.force_login(membership.user)
    return membership


def test_an_owner_adds_a_product_in_a_new_category(client, owner):
    response = client.post(
        "/atendimento/catalogo/produtos/novo/",
        {"nome": "Pizza Margherita", "nova_categoria": "Pizzas", "preco": "45.90", "ativo": "on"},
    )
    assert response.status_code == 302
    produto = Produto.objects.get(tenant=owner.tenant)
    assert (produto.nome, produto.preco, produto.categoria.nome) == (
        "Pizza Margherita",
        Decimal("45.90"),
        "Pizzas",
    )
    page = client.get("/atendimento/catalogo/").content.decode()
    assert "Pizza Margherita" in page and "R$ 45,90" in page


def test_a_negative_price_is_refused_at_its_field(client, owner):
    categoria = CategoriaFactory(tenant=owner.tenant)
    response = client.post(
        "/atendimento/catalogo/produtos/novo/",
        {"nome": "Suco", "categoria": categoria.pk, "preco": "-1"},
    )
    assert response.status_code == 200
    assert response.context["form"].errors["preco"]
    assert not Produto.objects.exists()


def test_an_owner_edits_and_deactivates_a_product(client, owner):
    categoria = CategoriaFactory(tenant=owner.tenant)
    produto = ProdutoFactory(
        tenant=owner.tenant, categoria=categoria, nome="Coca", preco=Decimal("5")
    )
    response = client.post(
        f"/atendimento/catalogo/produtos/{produto.pk}/",
        {"nome": "Coca 2L", "categoria": produto.categoria_id, "preco": "12,50", "ativo": "on"},
    )
    assert response.status_code == 302, response.context["form"].errors
    produto.refresh_from_db()
    assert (produto.nome, produto.preco) == ("Coca 2L", Decimal("12.50"))
    client.post(f"/atendimento/catalogo/produto/{produto.pk}/ativo/")
    produto.refresh_from_db()
    assert produto.ativo is False
    assert "desativado" in client.get("/atendimento/catalogo/").content.decode()


def test_an_owner_adds_and_deactivates_a_service(client, owner):
    response = client.post(
        "/atendimento/catalogo/servicos/novo/",
        {"nome": "Corte", "duracao_minutos": "40", "preco": "35", "ativo": "on"},
    )
    assert response.status_code == 302
    servico = Servico.objects.get(tenant=owner.tenant)
    assert (servico.duracao_minutos, servico.preco) == (40, Decimal("35"))
    client.post(f"/atendimento/catalogo/servico/{servico.pk}/ativo/")
    servico.refresh_from_db()
    assert servico.ativo is False
    # A duration under five minutes is refused by the model's validator, at the field.
    response = client.post(
        f"/atendimento/catalogo/servicos/{servico.pk}/", {"nome": "Corte", "duracao_minutos": "2"}
    )
    assert response.context["form"].errors["duracao_minutos"]


def test_another_tenants_items_are_not_found(client, owner):
    produto = ProdutoFactory()
    servico = ServicoFactory()
    other_categoria = CategoriaFactory()
    assert client.get(f"/atendimento/catalogo/produtos/{produto.pk}/").status_code == 404
    assert client.get(f"/atendimento/catalogo/servicos/{servico.pk}/").status_code == 404
    assert client.post(f"/atendimento/catalogo/produto/{produto.pk}/ativo/").status_code == 404
    page = client.get("/atendimento/catalogo/").content.decode()
    assert produto.nome not in page and servico.nome not in page
    # Nor can a product be put in another tenant's category.
    response = client.post(
        "/atendimento/catalogo/produtos/novo/",
        {"nome": "X", "categoria": other_categoria.pk, "preco": "1"},
    )
    assert response.context["form"].errors["categoria"]
    assert not Categoria.objects.filter(tenant=owner.tenant).exists()


def test_an_agent_may_not_change_the_catalog(client):
    agent = MembershipFactory(role=Membership.Role.AGENT)
    client.force_login(agent.user)
    produto = ProdutoFactory(categoria__tenant=agent.tenant)
    assert client.get("/atendimento/catalogo/").status_code == 403
    assert client.post(f"/atendimento/catalogo/produto/{produto.pk}/ativo/").status_code == 403
    produto.refresh_from_db()
    assert produto.ativo is True


def test_the_checklist_links_to_the_staff_pages_not_the_admin(client, owner):
    from tests.factories import ChatbotFactory

    ChatbotFactory(tenant=owner.tenant)
    page = client.get("/atendimento/comecar/").content.decode()
    assert "/atendimento/catalogo/produtos/novo/" in page
    assert "/admin/pedidos/" not in page


def test_an_owner_creates_renames_reorders_and_deactivates_categories(client, owner):
    from pedidos import selectors

    for nome in ("Pizzas", "Bebidas"):
        response = client.post(
            "/atendimento/catalogo/categorias/nova/", {"nome": nome, "ativo": "on"}
        )
        assert response.status_code == 302
    pizzas, bebidas = Categoria.objects.filter(tenant=owner.tenant).order_by("pk")
    for categoria in (pizzas, bebidas):
        ProdutoFactory(tenant=owner.tenant, categoria=categoria)

    def menu() -> list[str]:
        return [c.nome for c in selectors.categoria_list_available(tenant=owner.tenant)]

    assert menu() == ["Pizzas", "Bebidas"]
    client.post(f"/atendimento/catalogo/categorias/{bebidas.pk}/subir/")
    assert menu() == ["Bebidas", "Pizzas"]
    page = client.get("/atendimento/catalogo/").content.decode()
    assert page.index("Bebidas") < page.index("Pizzas", page.index('id="categorias"'))
    response = client.post(
        f"/atendimento/catalogo/categorias/{pizzas.pk}/",
        {"nome": "Pizzas doces", "ordem": pizzas.ordem, "ativo": "on"},
    )
    assert response.status_code == 302
    assert "Pizzas doces" in menu()
    client.post(f"/atendimento/catalogo/categoria/{bebidas.pk}/ativo/")
    assert menu() == ["Pizzas doces"]  # the bot stops offering it
    assert "desativada" in client.get("/atendimento/catalogo/").content.decode()


def test_a_category_name_taken_is_refused_at_its_field(client, owner):
    CategoriaFactory(tenant=owner.tenant, nome="Pizzas")
    CategoriaFactory(nome="Bebidas")  # another tenant's: free to use here
    response = client.post("/atendimento/catalogo/categorias/nova/", {"nome": "Pizzas"})
    assert response.status_code == 200 and response.context["form"].errors["nome"]
    response = client.post("/atendimento/catalogo/categorias/nova/", {"nome": "Bebidas"})
    assert response.status_code == 302
    assert Categoria.objects.filter(tenant=owner.tenant).count() == 2


def test_another_tenants_categories_are_not_found(client, owner):
    other = CategoriaFactory(nome="Dos outros")
    assert client.get(f"/atendimento/catalogo/categorias/{other.pk}/").status_code == 404
    assert client.post(f"/atendimento/catalogo/categorias/{other.pk}/subir/").status_code == 404
    assert client.post(f"/atendimento/catalogo/categoria/{other.pk}/ativo/").status_code == 404
    assert "Dos outros" not in client.get("/atendimento/catalogo/").content.decode()
    other.refresh_from_db()
    assert other.ativo is True


@pytest.fixture
def media_root(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path / "files"},
        },
    }
    settings.SITE_URL = "https://loja.example.com.br"
    return tmp_path / "files"


def test_an_owner_uploads_a_products_photo_and_whatsapp_can_fetch_it(client, owner, media_root):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.fakes.evolution import png_from_modules, sample_modules

    png = png_from_modules(sample_modules())
    categoria = CategoriaFactory(tenant=owner.tenant)
    response = client.post(
        "/atendimento/catalogo/produtos/novo/",
        {
            "nome": "Pizza",
            "categoria": categoria.pk,
            "preco": "40",
            "ativo": "on",
            # The name and the browser's type say JPEG; the bytes are what count.
            "foto": SimpleUploadedFile("pizza.jpg", png, content_type="image/jpeg"),
        },
    )
    assert response.status_code == 302
    url = Produto.objects.get(tenant=owner.tenant).imagem_url
    assert url.startswith("https://loja.example.com.br/atendimento/catalogo/foto/")
    assert list((media_root / "produtos" / str(owner.tenant.pk)).iterdir())
    client.logout()  # WhatsApp downloads it without logging in
    photo = client.get(url.removeprefix("https://loja.example.com.br"))
    assert photo.status_code == 200 and photo["Content-Type"] == "image/png"
    assert b"".join(photo.streaming_content) == png
    # A forged address is not found.
    assert (
        client.get(url.removeprefix("https://loja.example.com.br")[:-3] + "xx/").status_code == 404
    )


def test_a_file_that_is_not_a_photo_is_refused_at_its_field(client, owner, media_root):
    from django.core.files.uploadedfile import SimpleUploadedFile

    produto = ProdutoFactory(tenant=owner.tenant, categoria__tenant=owner.tenant, nome="Suco")
    response = client.post(
        f"/atendimento/catalogo/produtos/{produto.pk}/",
        {
            "nome": "Suco",
            "categoria": produto.categoria_id,
            "preco": "5",
            "ativo": "on",
            "foto": SimpleUploadedFile("suco.png", b"%PDF-1.4\n" + b"x" * 200, "image/png"),
        },
    )
    assert response.status_code == 200
    assert "não é uma foto JPEG ou PNG" in " ".join(response.context["form"].errors["foto"])
    produto.refresh_from_db()
    assert produto.imagem_url == ""
    assert not media_root.exists() or not any(media_root.rglob("*.*"))


def test_a_product_with_an_uploaded_photo_is_saved_again_on_a_local_install(
    client, owner, media_root, settings
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.fakes.evolution import png_from_modules, sample_modules

    settings.SITE_URL = "http://127.0.0.1:8000"  # our own address, private: not an egress
    produto = ProdutoFactory(tenant=owner.tenant, categoria__tenant=owner.tenant, nome="Suco")
    data = {"nome": "Suco", "categoria": produto.categoria_id, "preco": "5", "ativo": "on"}
    photo = SimpleUploadedFile("suco.png", png_from_modules(sample_modules()), "image/png")
    url = f"/atendimento/catalogo/produtos/{produto.pk}/"
    assert client.post(url, {**data, "foto": photo}).status_code == 302
    produto.refresh_from_db()
    response = client.post(url, {**data, "imagem_url": produto.imagem_url, "nome": "Suco 1L"})
    assert response.status_code == 302
    # Someone else's private address is still refused.
    response = client.post(url, {**data, "imagem_url": "http://127.0.0.1:8000/admin/"})
    assert response.context["form"].errors["imagem_url"]
