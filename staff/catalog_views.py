"""What the bot offers, in the staff app (/atendimento/catalogo/): the order flow's categories
and products (pedidos.Categoria, pedidos.Produto, with price, category and photo) and the
agenda's services (agenda.Servico: name, duration, price). Owners and admins only, one
tenant's rows only.

The three kinds share one edit view, one on/off switch and one page (`KINDS` says what
differs: the form, the services that write, the message). The forms validate what was
typed; every write goes through pedidos.services and agenda.services, so the API, the admin
and these pages refuse the same things. An item is deactivated rather than deleted: past
orders and appointments keep naming it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.http import require_POST

from agenda import services as agenda_services
from agenda.models import Servico
from billing.models import Tenant
from config.egress import tenant_url_validate
from pedidos import services as pedidos_services
from pedidos.models import Categoria, Produto
from staff.catalog_photo import PhotoField, is_own_photo, photo_store
from staff.studio import editor_required


def _price_field(field: forms.DecimalField) -> None:
    # "12,50" as a Brazilian types it (the locale's decimal comma), and a phone's number pad.
    field.localize = True
    field.widget = forms.TextInput(attrs={"inputmode": "decimal", "placeholder": "0,00"})
    field.widget.is_localized = True


class CatalogForm(forms.ModelForm):
    """A catalog item's form: validates what was typed; the model is validated by the
    service that writes it (with its tenant set, which the form's own full_clean would
    run without)."""

    def __init__(self, *args, tenant: Tenant, **kwargs):
        self.tenant = tenant
        super().__init__(*args, **kwargs)

    def _post_clean(self):
        pass

    def changes(self) -> dict:
        """The fields to write, called inside the write's transaction."""
        fields = self.Meta.fields
        return {name: self.cleaned_data[name] for name in fields if name in self.fields}


class CategoriaForm(CatalogForm):
    class Meta:
        model = Categoria
        fields = ["nome", "ativo"]
        help_texts = {"nome": _lazy("Ex.: Pizzas, Bebidas. O cliente escolhe por ela no menu.")}

    def clean_nome(self):
        # The unique constraint would say it as an error of the whole form, naming "Tenant".
        nome = self.cleaned_data["nome"].strip()
        taken = Categoria.objects.filter(tenant=self.tenant, nome__iexact=nome)
        if taken.exclude(pk=self.instance.pk).exists():
            raise ValidationError(_("Já existe uma categoria com este nome."))
        return nome


class ProdutoForm(CatalogForm):
    nova_categoria = forms.CharField(
        label=_lazy("ou uma categoria nova"),
        max_length=100,
        required=False,
        help_text=_lazy("Ex.: Pizzas, Bebidas. Fica disponível para os próximos produtos."),
    )
    foto = PhotoField()

    class Meta:
        model = Produto
        fields = ["nome", "categoria", "preco", "descricao", "imagem_url", "estoque", "ativo"]
        widgets = {"descricao": forms.Textarea(attrs={"rows": 3})}
        labels = {"imagem_url": _lazy("ou o link de uma foto")}
        help_texts = {
            "imagem_url": _lazy(
                "Endereço https de uma foto já publicada; o robô a envia no cardápio."
            )
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["categoria"].queryset = Categoria.objects.filter(tenant=self.tenant)
        self.fields["categoria"].required = False
        _price_field(self.fields["preco"])
        # The upload first: most owners have the photo on the phone, not at an address.
        self.order_fields(["nome", "categoria", "nova_categoria", "preco", "foto"])

    def clean_imagem_url(self):
        url = self.cleaned_data["imagem_url"]
        if is_own_photo(url):
            return url
        try:
            tenant_url_validate(url, field="imagem_url", label=_("A foto"))
        except ValidationError as exc:
            raise ValidationError(exc.message_dict["imagem_url"]) from None
        return url

    def clean(self):
        data = super().clean()
        if not data.get("categoria") and not (data.get("nova_categoria") or "").strip():
            self.add_error("categoria", _("Escolha uma categoria ou digite uma nova."))
        return data

    def changes(self) -> dict:
        changes = super().changes()
        nova = self.cleaned_data["nova_categoria"].strip()
        if nova:
            changes["categoria"] = Categoria.objects.filter(
                tenant=self.tenant, nome__iexact=nova
            ).first() or pedidos_services.categoria_create(
                tenant=self.tenant, nome=nova, ordem=_next_order(self.tenant)
            )
        if self.cleaned_data.get("foto"):
            changes["imagem_url"] = photo_store(self.cleaned_data["foto"], tenant=self.tenant)
        return changes


class ServicoForm(CatalogForm):
    class Meta:
        model = Servico
        fields = ["nome", "duracao_minutos", "preco", "ativo"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _price_field(self.fields["preco"])
        self.fields["duracao_minutos"].widget.attrs.update(inputmode="numeric")


@dataclass(frozen=True)
class Kind:
    model: type
    form: type[CatalogForm]
    create: Callable  # (tenant=, **changes)
    update: Callable  # (item, **changes)
    saved: str  # "…: %(nome)s."
    on: str  # "%(nome)s …" when switched back on
    off: str


def _next_order(tenant: Tenant) -> int:
    """After the last category: a new one goes to the end of the menu."""
    last = Categoria.objects.filter(tenant=tenant).aggregate(m=Max("ordem"))["m"]
    return 0 if last is None else last + 1


KINDS = {
    "categoria": Kind(
        model=Categoria,
        form=CategoriaForm,
        create=lambda tenant, **c: pedidos_services.categoria_create(
            tenant=tenant, ordem=_next_order(tenant), **c
        ),
        update=lambda item, **c: pedidos_services.categoria_update(categoria=item, **c),
        saved=_lazy("Categoria salva: %(nome)s."),
        on=_lazy("%(nome)s voltou ao cardápio."),
        off=_lazy("%(nome)s saiu do cardápio."),
    ),
    "produto": Kind(
        model=Produto,
        form=ProdutoForm,
        create=lambda tenant, **c: pedidos_services.produto_create(tenant=tenant, **c),
        update=lambda item, **c: pedidos_services.produto_update(produto=item, **c),
        saved=_lazy("Produto salvo: %(nome)s."),
        on=_lazy("%(nome)s voltou a ser oferecido."),
        off=_lazy("%(nome)s não é mais oferecido."),
    ),
    "servico": Kind(
        model=Servico,
        form=ServicoForm,
        create=lambda tenant, **c: agenda_services.servico_create(tenant=tenant, **c),
        update=lambda item, **c: agenda_services.servico_update(servico=item, **c),
        saved=_lazy("Serviço salvo: %(nome)s."),
        on=_lazy("%(nome)s voltou a ser oferecido."),
        off=_lazy("%(nome)s não é mais oferecido."),
    ),
}


def _kind(kind: str) -> Kind:
    if kind not in KINDS:
        raise Http404(kind)
    return KINDS[kind]


def _place(form: forms.Form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for name, errors in exc.message_dict.items():
            form.add_error(name if name in form.fields else None, errors)
    else:
        form.add_error(None, exc)


@editor_required
def catalog(request):
    tenant_id = request.membership.tenant_id
    context = {
        "categorias": Categoria.objects.filter(tenant_id=tenant_id),
        "produtos": Produto.objects.filter(tenant_id=tenant_id).select_related("categoria"),
        "servicos": Servico.objects.filter(tenant_id=tenant_id),
        "section": "bots",
    }
    return render(request, "staff/studio/catalog.html", context)


@editor_required
def item_edit(request, kind: str, pk: int | None = None):
    """Create (no `pk`) or change a category, product or service of the tenant."""
    spec = _kind(kind)
    tenant = request.membership.tenant
    item = get_object_or_404(spec.model, pk=pk, tenant=tenant) if pk else None
    form = spec.form(
        request.POST if request.method == "POST" else None,
        request.FILES if request.method == "POST" else None,
        instance=item,
        tenant=tenant,
    )
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                changes = form.changes()
                if item is None:
                    spec.create(tenant=tenant, **changes)
                else:
                    spec.update(item, **changes)
        except ValidationError as exc:
            _place(form, exc)
        else:
            messages.success(request, spec.saved % {"nome": changes["nome"]})
            return redirect("staff:catalog")
    context = {"form": form, "object": item, "kind": kind, "section": "bots"}
    return render(request, "staff/studio/catalog_item.html", context)


@require_POST
@editor_required
def item_toggle(request, kind: str, pk: int):
    """Deactivate (or bring back) a category, product or service: the bot stops offering it."""
    spec = _kind(kind)
    with transaction.atomic():
        item = get_object_or_404(spec.model, pk=pk, tenant_id=request.membership.tenant_id)
        spec.update(item, ativo=not item.ativo)
    messages.success(request, (spec.on if item.ativo else spec.off) % {"nome": item.nome})
    return redirect("staff:catalog")


@require_POST
@editor_required
def categoria_move(request, pk: int, direction: str):
    """One place up or down in the menu (Categoria.ordem), renumbering the tenant's list."""
    if direction not in ("subir", "descer"):
        raise Http404(direction)
    with transaction.atomic():
        categorias = list(
            Categoria.objects.select_for_update().filter(tenant_id=request.membership.tenant_id)
        )
        item = get_object_or_404(Categoria, pk=pk, tenant_id=request.membership.tenant_id)
        index = [c.pk for c in categorias].index(item.pk)
        other = index - 1 if direction == "subir" else index + 1
        if 0 <= other < len(categorias):
            categorias[index], categorias[other] = categorias[other], categorias[index]
            for ordem, each in enumerate(categorias):
                if each.ordem != ordem:
                    pedidos_services.categoria_update(categoria=each, ordem=ordem)
    return redirect("staff:catalog")
