"""The owner's forms for a bot's settings, so nobody types JSON: the WhatsApp connection per
provider (Meta's ids and secrets, Evolution's server and API key, Whaticket's) and the
bot's behaviour and assistant options (chatbots.ai.options, chatbots.engine).

Each form only gathers values: `changes()` gives the keyword arguments of
chatbots.bots.chatbot_update, which judges them (the egress policy for a server URL,
config/egress.py); `place_errors` puts its ValidationError at the field it concerns.
Secrets are write-only: an empty box keeps the stored value, and none is ever rendered back.
"""

from __future__ import annotations

import secrets
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from chatbots.models import Chatbot
from chatbots.providers.base import chatbot_config, chatbot_secrets

PROVIDERS = (
    ("meta", _("Meta Cloud API (oficial)")),
    ("evolution", _("Evolution API (código QR)")),
    ("whaticket", _("Whaticket")),
    ("stub", _("Simulador (sem envio)")),
)
KEEP = _("Em branco: mantém o valor salvo.")


def _secret(label) -> forms.CharField:
    return forms.CharField(
        label=label,
        required=False,
        help_text=KEEP,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )


class ConnectionForm(forms.Form):
    """One provider's settings; the fields of the other providers are not shown."""

    FIELDS = {
        "meta": ("display_number", "phone_number_id", "waba_id", "access_token", "app_secret"),
        "evolution": ("display_number", "evo_base_url", "evo_instance", "evo_apikey"),
        "whaticket": (
            "display_number",
            "wt_base_url",
            "wt_whatsapp_id",
            "wt_token",
            "wt_shared_secret",
        ),
        "stub": (),
    }

    display_number = forms.CharField(
        label=_("Número exibido"),
        required=False,
        max_length=32,
        help_text=_("Ex.: +55 11 91234-5678"),
    )
    phone_number_id = forms.CharField(
        label=_("Identificação do número (Phone number ID)"), required=False
    )
    waba_id = forms.CharField(label=_("Conta do WhatsApp Business (WABA ID)"), required=False)
    access_token = _secret(_("Token de acesso"))
    app_secret = _secret(_("Chave secreta do app (App secret)"))
    evo_base_url = forms.CharField(
        label=_("Endereço do servidor Evolution"),
        required=False,
        help_text=_("Ex.: https://evo.minhaempresa.com.br"),
    )
    evo_instance = forms.SlugField(label=_("Nome da instância"), required=False, max_length=64)
    evo_apikey = _secret(_("Chave da API (apikey)"))
    wt_base_url = forms.CharField(label=_("Endereço do Whaticket"), required=False)
    wt_whatsapp_id = forms.CharField(label=_("Conexão (whatsappId)"), required=False)
    wt_token = _secret(_("Token da API"))
    wt_shared_secret = _secret(_("Segredo compartilhado do webhook"))

    REQUIRED = {
        "meta": ("phone_number_id",),
        "evolution": ("evo_base_url", "evo_instance"),
        "whaticket": ("wt_base_url",),
    }

    # Without these the provider cannot work (Meta's app secret signs its webhooks; the
    # Whaticket secret, ours, is the one the owner also types in Whaticket).
    SECRETS_NEEDED = ("access_token", "app_secret", "evo_apikey", "wt_token", "wt_shared_secret")

    def __init__(self, *args, chatbot: Chatbot, provider: str, **kwargs):
        config = chatbot_config(chatbot) if chatbot.provider == provider else {}
        initial = {
            "display_number": chatbot.display_number,
            "phone_number_id": chatbot.phone_number_id or "",
            "waba_id": chatbot.waba_id,
            "evo_base_url": config.get("base_url", ""),
            "evo_instance": config.get("instance", ""),
            "wt_base_url": config.get("base_url", ""),
            "wt_whatsapp_id": config.get("whatsapp_id", ""),
        }
        super().__init__(*args, initial=initial, **kwargs)
        self.chatbot = chatbot
        self.provider = provider
        for name in list(self.fields):
            if name not in self.FIELDS[provider]:
                del self.fields[name]
        stored = chatbot_secrets(chatbot) if chatbot.provider == provider else {}
        has_secret = {
            "access_token": bool(chatbot.access_token),
            "app_secret": bool(chatbot.app_secret),
            "evo_apikey": bool(stored.get("apikey")),
            "wt_token": bool(stored.get("token")),
            "wt_shared_secret": bool(stored.get("shared_secret")),
        }
        for name, field in self.fields.items():
            if isinstance(field.widget, forms.PasswordInput):
                # A secret the bot lacks is needed; one it has may stay as it is.
                field.help_text = KEEP if has_secret.get(name) else ""
                field.required = name in self.SECRETS_NEEDED and not has_secret.get(name)
        for name in self.REQUIRED.get(provider, ()):
            self.fields[name].required = True

    def changes(self) -> dict[str, Any]:
        """chatbot_update's keyword arguments for the cleaned data."""
        data, bot = self.cleaned_data, self.chatbot
        changes: dict[str, Any] = {"provider": self.provider}
        if "display_number" in data:
            changes["display_number"] = data["display_number"].strip()
        stored = chatbot_secrets(bot)
        if self.provider == "meta":
            changes.update(
                phone_number_id=data["phone_number_id"].strip(),
                waba_id=data["waba_id"].strip(),
                access_token=data["access_token"].strip(),
                app_secret=data["app_secret"].strip(),
                # What the owner pastes at Meta with the webhook URL (Meta's verification
                # request echoes it back: https://developers.facebook.com/docs/graph-api/webhooks/getting-started).
                verify_token=bot.verify_token or secrets.token_urlsafe(24),
            )
        elif self.provider == "evolution":
            changes["provider_config"] = {
                **(chatbot_config(bot) if bot.provider == "evolution" else {}),
                "base_url": data["evo_base_url"].strip().rstrip("/"),
                "instance": data["evo_instance"],
            }
            apikey = data["evo_apikey"].strip() or stored.get("apikey", "")
            changes["provider_secrets"] = {
                **stored,
                "apikey": apikey,
                # The header Evolution sends us with each webhook (chatbots.providers.evolution).
                "webhook_secret": stored.get("webhook_secret") or secrets.token_urlsafe(32),
            }
        elif self.provider == "whaticket":
            config = {"base_url": data["wt_base_url"].strip().rstrip("/")}
            if data["wt_whatsapp_id"].strip():
                config["whatsapp_id"] = data["wt_whatsapp_id"].strip()
            changes["provider_config"] = config
            changes["provider_secrets"] = {
                **stored,
                "token": data["wt_token"].strip() or stored.get("token", ""),
                "shared_secret": data["wt_shared_secret"].strip()
                or stored.get("shared_secret", ""),
            }
        return changes

    def place_errors(self, exc: ValidationError) -> None:
        by_field = exc.message_dict if hasattr(exc, "error_dict") else {"": exc.messages}
        url_field = {"evolution": "evo_base_url", "whaticket": "wt_base_url"}.get(self.provider)
        for name, errors in by_field.items():
            if name == "provider_config" and url_field:
                target = url_field
            else:
                target = name if name in self.fields else None
            for message in errors:
                self.add_error(target, message)


YES_NO = ((True, _("Sim")), (False, _("Não")))


class BehaviourForm(forms.Form):
    """The bot's options (Chatbot.options) an owner sets: how it apologises, which words start
    over, how long it waits for a burst, and the assistant's tone and limits."""

    apology_text = forms.CharField(
        label=_("Resposta quando algo dá errado"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Em branco: o texto padrão de desculpas."),
    )
    restart_keywords = forms.CharField(
        label=_("Palavras que recomeçam a conversa"),
        required=False,
        help_text=_("Separadas por vírgula, ex.: menu, voltar, início."),
    )
    debounce_ms = forms.IntegerField(
        label=_("Espera por mensagens em sequência (milissegundos)"),
        required=False,
        min_value=0,
        max_value=10_000,
        help_text=_("O robô junta as mensagens enviadas nesse intervalo; 0 desliga."),
    )
    ai_fallback = forms.TypedChoiceField(
        label=_("O assistente responde o que a etapa não entende"),
        choices=YES_NO,
        coerce=lambda v: v in (True, "True"),
        widget=forms.RadioSelect,
    )
    ai_tone = forms.ChoiceField(
        label=_("Tom do assistente"),
        choices=(("informal", _("Informal")), ("formal", _("Formal"))),
    )
    ai_empathy = forms.TypedChoiceField(
        label=_("Acolher primeiro o cliente chateado"),
        choices=YES_NO,
        coerce=lambda v: v in (True, "True"),
        widget=forms.RadioSelect,
    )
    ai_waiting_text = forms.CharField(
        label=_("Aviso enquanto o assistente pensa"),
        required=False,
        help_text=_("Ex.: Só um instante…  Em branco: nenhum aviso."),
    )
    ai_handoff_text = forms.CharField(
        label=_("Texto ao chamar um atendente"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    ai_handoff_queue = forms.SlugField(
        label=_("Fila do atendente"),
        required=False,
        help_text=_("O identificador da fila; em branco, a fila padrão da empresa."),
    )

    TEXTS = ("apology_text", "ai_waiting_text", "ai_handoff_text", "ai_handoff_queue")

    @classmethod
    def initial_for(cls, chatbot: Chatbot) -> dict[str, Any]:
        options = chatbot.options if isinstance(chatbot.options, dict) else {}
        keywords = options.get("restart_keywords")
        return {
            **{k: options.get(k, "") for k in cls.TEXTS},
            "restart_keywords": ", ".join(keywords) if isinstance(keywords, list) else "",
            "debounce_ms": options.get("debounce_ms"),
            "ai_fallback": options.get("ai_fallback") is True,
            "ai_tone": options.get("ai_tone") if options.get("ai_tone") == "formal" else "informal",
            "ai_empathy": options.get("ai_empathy") is not False,
        }

    def options(self, current: dict[str, Any]) -> dict[str, Any]:
        """`current` with this form's keys replaced (keys it does not show are kept)."""
        data = self.cleaned_data
        options = dict(current) if isinstance(current, dict) else {}
        for key in self.TEXTS:
            if data[key].strip():
                options[key] = data[key].strip()
            else:
                options.pop(key, None)
        words = [w.strip().lower() for w in data["restart_keywords"].split(",") if w.strip()]
        if words:
            options["restart_keywords"] = words
        else:
            options.pop("restart_keywords", None)
        if data["debounce_ms"] is None:
            options.pop("debounce_ms", None)
        else:
            options["debounce_ms"] = data["debounce_ms"]
        options["ai_fallback"] = data["ai_fallback"]
        options["ai_tone"] = data["ai_tone"]
        options["ai_empathy"] = data["ai_empathy"]
        return options
