"""What the bot offers, in the staff app (/atendimento/catalogo/): the order flow's products
(pedidos.Produto, with price, category and photo link) and the agenda's services
(agenda.Servico: name, duration, price). Owners and admins only, one tenant's rows only.

The forms validate what was typed; every write goes through pedidos.services and
agenda.services, so the API, the admin and these pages refuse the same things. A product or
service is deactivated rather than deleted: past orders and appointments keep naming it.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.http import require_POST

from agenda import services as agenda_services
from agenda.models import Servico
from config.egress import tenant_url_validate
from pedidos import services as pedidos_services
from pedidos.models import Categoria, Produto
from staff.studio import editor_required


def _price_field(field: forms.DecimalField) -> None:
    # "12,50" as a Brazilian types it (the locale's decimal comma), and a phone's number pad.
    field.localize = True
    field.widget = forms.TextInput(attrs={"inputmode": "decimal", "placeholder": "0,00"})
    field.widget.is_localized = True


class ProdutoForm(forms.ModelForm):
    nova_categoria = forms.CharField(
        label=_lazy("ou uma categoria nova"),
        max_length=100,
        required=False,
        help_text=_lazy("Ex.: Pizzas, Bebidas. Fica disponível para os próximos produtos."),
    )

    class Meta:
        model = Produto
        fields = ["nome", "categoria", "preco", "descricao", "imagem_url", "estoque", "ativo"]
        widgets = {"descricao": forms.Textarea(attrs={"rows": 3})}
        labels = {"imagem_url": _lazy("Foto (link da imagem)")}
        help_texts = {
            "imagem_url": _lazy(
                "Endereço https de uma foto do produto; o robô a envia no cardápio."
            )
        }

    def __init__(self, *args, tenant_id: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["categoria"].queryset = Categoria.objects.filter(tenant_id=tenant_id)
        self.fields["categoria"].required = False
        _price_field(self.fields["preco"])

    def clean_imagem_url(self):
        url = self.cleaned_data["imagem_url"]
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

    def _post_clean(self):
        # The services validate the model (pedidos.services._save); the instance's own
        # full_clean here would run before the tenant is set.
        pass


class ServicoForm(forms.ModelForm):
    class Meta:
        model = Servico
        fields = ["nome", "duracao_minutos", "preco", "ativo"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _price_field(self.fields["preco"])
        self.fields["duracao_minutos"].widget.attrs.update(inputmode="numeric")

    def _post_clean(self):
        pass  # agenda.services validates the model with its tenant set


def _changes(form: forms.ModelForm) -> dict:
    return {name: form.cleaned_data[name] for name in form.Meta.fields if name in form.fields}


def _place(form: forms.Form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for name, errors in exc.message_dict.items():
            form.add_error(name if name in form.fields else None, errors)
    else:
        form.add_error(None, exc)


@editor_required
def catalog(request):
    tenant_id = request.membership.tenant_id
    produtos = Produto.objects.filter(tenant_id=tenant_id).select_related("categoria")
    servicos = Servico.objects.filter(tenant_id=tenant_id)
    context = {"produtos": produtos, "servicos": servicos, "section": "bots"}
    return render(request, "staff/studio/catalog.html", context)


@editor_required
def produto_edit(request, pk: int | None = None):
    tenant = request.membership.tenant
    produto = get_object_or_404(Produto, pk=pk, tenant=tenant) if pk else None
    form = ProdutoForm(
        request.POST if request.method == "POST" else None, instance=produto, tenant_id=tenant.pk
    )
    if request.method == "POST" and form.is_valid():
        changes = _changes(form)
        try:
            with transaction.atomic():
                nova = form.cleaned_data["nova_categoria"].strip()
                if nova:
                    changes["categoria"] = Categoria.objects.filter(
                        tenant=tenant, nome__iexact=nova
                    ).first() or pedidos_services.categoria_create(tenant=tenant, nome=nova)
                if produto is None:
                    pedidos_services.produto_create(tenant=tenant, **changes)
                else:
                    pedidos_services.produto_update(produto=produto, **changes)
        except ValidationError as exc:
            _place(form, exc)
        else:
            messages.success(request, _("Produto salvo: %(nome)s.") % {"nome": changes["nome"]})
            return redirect("staff:catalog")
    context = {"form": form, "object": produto, "kind": "produto", "section": "bots"}
    return render(request, "staff/studio/catalog_item.html", context)


@editor_required
def servico_edit(request, pk: int | None = None):
    tenant = request.membership.tenant
    servico = get_object_or_404(Servico, pk=pk, tenant=tenant) if pk else None
    form = ServicoForm(request.POST if request.method == "POST" else None, instance=servico)
    if request.method == "POST" and form.is_valid():
        changes = _changes(form)
        try:
            with transaction.atomic():
                if servico is None:
                    agenda_services.servico_create(tenant=tenant, **changes)
                else:
                    agenda_services.servico_update(servico=servico, **changes)
        except ValidationError as exc:
            _place(form, exc)
        else:
            messages.success(request, _("Serviço salvo: %(nome)s.") % {"nome": changes["nome"]})
            return redirect("staff:catalog")
    context = {"form": form, "object": servico, "kind": "servico", "section": "bots"}
    return render(request, "staff/studio/catalog_item.html", context)


@require_POST
@editor_required
def item_toggle(request, kind: str, pk: int):
    """Deactivate (or bring back) a product or a service: the bot stops offering it."""
    tenant_id = request.membership.tenant_id
    with transaction.atomic():
        if kind == "produto":
            item = get_object_or_404(Produto, pk=pk, tenant_id=tenant_id)
            pedidos_services.produto_update(produto=item, ativo=not item.ativo)
        else:
            item = get_object_or_404(Servico, pk=pk, tenant_id=tenant_id)
            agenda_services.servico_update(servico=item, ativo=not item.ativo)
    if item.ativo:
        messages.success(request, _("%(nome)s voltou a ser oferecido.") % {"nome": item.nome})
    else:
        messages.success(request, _("%(nome)s não é mais oferecido.") % {"nome": item.nome})
    return redirect("staff:catalog")
