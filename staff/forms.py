from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from staff.chat import MAX_TEXT


class ReplyForm(forms.Form):
    text = forms.CharField(label=_("Mensagem"), max_length=4096, required=False)
    template = forms.CharField(max_length=512, required=False)

    def params(self, data) -> list[str]:
        return [v.strip() for v in data.getlist("params")]


class NoteForm(forms.Form):
    text = forms.CharField(label=_("Nota interna"), max_length=4000)


class TransferForm(forms.Form):
    user = forms.TypedChoiceField(label=_("Pessoa"), coerce=int, required=False, empty_value=None)
    queue = forms.TypedChoiceField(label=_("Fila"), coerce=int, required=False, empty_value=None)
    note = forms.CharField(label=_("Nota"), max_length=4000, required=False)

    def __init__(self, *args, people=(), queues=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"].choices = [("", _("— ninguém (fica aguardando) —"))] + list(people)
        self.fields["queue"].choices = [("", _("— a mesma fila —"))] + list(queues)


class TagsForm(forms.Form):
    tags = forms.CharField(label=_("Etiquetas"), max_length=1000, required=False)

    def tag_list(self) -> list[str]:
        return [t.strip() for t in self.cleaned_data["tags"].split(",") if t.strip()]


class ChatForm(forms.Form):
    text = forms.CharField(label=_("Mensagem"), max_length=MAX_TEXT)
