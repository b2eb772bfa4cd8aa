"""Bots, their flows, conversations, messages and the raw inbound records.

Every row here carries its tenant (denormalized from the chatbot) so that scoping, export,
erasure and retention are one indexed filter, never a join through the bot.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from billing.models import Tenant, TenantOwned
from clientes.models import Cliente
from config import egress
from config.fields import EncryptedTextField


class AccountStatus(models.TextChoices):
    """What Meta says of a bot's WhatsApp Business Account (account_update webhooks)."""

    OK = "ok", _("Normal")
    RESTRICTED = "restricted", _("Restrita: não pode iniciar conversas")
    DISABLED = "disabled", _("Desativada (banida) pela Meta")


class Chatbot(TenantOwned):
    """One WhatsApp number of a tenant, with its provider credentials."""

    name = models.CharField(_("nome"), max_length=120)
    provider = models.CharField(
        _("provedor"),
        max_length=32,
        default="stub",
        help_text=_(
            "Quem entrega as mensagens: Meta Cloud API, Evolution, Whaticket ou simulador."
        ),
    )
    display_number = models.CharField(_("número exibido"), max_length=32, blank=True)
    # Meta's ids. phone_number_id routes inbound webhooks to this bot, so it is unique.
    phone_number_id = models.CharField(
        _("Phone number ID (Meta)"), max_length=64, null=True, blank=True, unique=True
    )
    # The WhatsApp Business Account: account-level webhooks (templates, quality, account
    # updates) name only it, in `entry[].id`, so they are routed by it.
    waba_id = models.CharField(_("WABA ID (Meta)"), max_length=64, blank=True, db_index=True)
    access_token = EncryptedTextField(_("token de acesso"), blank=True)
    app_secret = EncryptedTextField(_("app secret"), blank=True)
    # Not encrypted: Meta's GET verification looks the bot up by it. It only proves who
    # subscribes the webhook; it grants no access to data.
    verify_token = models.CharField(_("verify token"), max_length=128, blank=True, db_index=True)
    # Non-secret provider settings (base URL, instance name, connection id, ...).
    provider_config = models.JSONField(_("configuração do provedor"), default=dict, blank=True)
    # Secret provider settings other than Meta's (API keys, shared secrets), as JSON text.
    provider_secrets = EncryptedTextField(_("segredos do provedor"), blank=True)
    active = models.BooleanField(_("ativo"), default=True)
    # Meta's default throughput per number (Meta: https://developers.facebook.com/docs/whatsapp/cloud-api/overview#throughput); 1,000 after an upgrade.
    messages_per_second = models.PositiveIntegerField(_("mensagens por segundo"), default=80)
    language = models.CharField(_("idioma"), max_length=16, default="pt_BR")
    # The number's standing at Meta, kept by the account-level webhooks
    # (chatbots.account_events): phone_number_quality_update and account_update.
    quality_rating = models.CharField(_("qualidade do número"), max_length=16, blank=True)
    messaging_limit_tier = models.CharField(
        _("limite de conversas iniciadas"), max_length=32, blank=True
    )
    # A restriction or ban of the WhatsApp Business Account. What a campaign runner reads
    # before any business-initiated send (Chatbot.business_initiated_blocked); the tenant
    # sees it on the bot's page and gets an alert.
    account_status = models.CharField(
        _("situação da conta na Meta"),
        max_length=16,
        choices=AccountStatus.choices,
        default=AccountStatus.OK,
    )
    account_restricted_until = models.DateTimeField(_("restrita até"), null=True, blank=True)
    account_detail = models.TextField(_("detalhe da situação da conta"), blank=True)
    # Per-bot behaviour (fallback step, apology text, handoff notice, ...): see chatbots.options.
    options = models.JSONField(_("opções"), default=dict, blank=True)
    created_at = models.DateTimeField(_("criado em"), auto_now_add=True)
    updated_at = models.DateTimeField(_("atualizado em"), auto_now=True)

    class Meta:
        verbose_name = _("chatbot")
        verbose_name_plural = _("chatbots")
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.display_number or self.phone_number_id or self.provider})"

    def business_initiated_blocked(self, *, now=None) -> str:
        """Why this bot may not start conversations now (a campaign runner asks before
        sending), or "" when it may: the account is banned, or restricted and the
        restriction has not expired."""
        if self.account_status == AccountStatus.DISABLED:
            return self.account_detail or str(AccountStatus.DISABLED.label)
        if self.account_status == AccountStatus.RESTRICTED:
            until = self.account_restricted_until
            if until is None or until > (now or timezone.now()):
                return self.account_detail or str(AccountStatus.RESTRICTED.label)
        return ""


class Step(TenantOwned):
    """One step of a bot's flow: a code, the handler class that runs it, and its config."""

    chatbot = models.ForeignKey(Chatbot, on_delete=models.CASCADE, related_name="steps")
    code = models.SlugField(_("código"), max_length=64)
    handler_path = models.CharField(_("handler"), max_length=255)
    order = models.PositiveIntegerField(_("ordem"), default=0)
    config = models.JSONField(_("configuração"), default=dict, blank=True)
    active = models.BooleanField(_("ativo"), default=True)

    class Meta:
        verbose_name = _("etapa")
        verbose_name_plural = _("etapas")
        ordering = ["chatbot", "order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["chatbot", "code"], name="step_unique_chatbot_code")
        ]

    def __str__(self) -> str:
        return f"{self.order}. {self.code}"


class Conversation(TenantOwned):
    """The running conversation between one bot and one customer."""

    class Status(models.TextChoices):
        BOT = "bot", _("Com o robô")
        WAITING = "waiting", _("Aguardando atendente")
        HUMAN = "human", _("Com atendente")
        CLOSED = "closed", _("Encerrada")

    chatbot = models.ForeignKey(Chatbot, on_delete=models.CASCADE, related_name="conversations")
    cliente = models.ForeignKey(Cliente, on_delete=models.CASCADE, related_name="conversations")
    current_step = models.CharField(_("etapa atual"), max_length=64, blank=True)
    state = models.JSONField(_("estado"), default=dict, blank=True)
    status = models.CharField(
        _("situação"), max_length=16, choices=Status.choices, default=Status.BOT
    )
    # The customer's last message opens Meta's 24-hour customer-service window (§2.6).
    last_customer_message_at = models.DateTimeField(
        _("última mensagem do cliente"), null=True, blank=True
    )
    created_at = models.DateTimeField(_("criada em"), auto_now_add=True)
    updated_at = models.DateTimeField(_("atualizada em"), auto_now=True)

    class Meta:
        verbose_name = _("conversa")
        verbose_name_plural = _("conversas")
        ordering = ["-updated_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["chatbot", "cliente"], name="conversation_unique_chatbot_cliente"
            )
        ]
        indexes = [models.Index(fields=["tenant", "status", "-updated_at"])]

    def __str__(self) -> str:
        return f"{self.cliente} ↔ {self.chatbot.name}"


class Message(TenantOwned):
    """A message in or out. Outbound rows are the outbox: saved `queued`, sent by a task."""

    class Direction(models.TextChoices):
        IN = "in", _("Recebida")
        OUT = "out", _("Enviada")

    class Status(models.TextChoices):
        RECEIVED = "received", _("Recebida")
        QUEUED = "queued", _("Na fila")
        SENDING = "sending", _("Enviando")
        SENT = "sent", _("Enviada")
        DELIVERED = "delivered", _("Entregue")
        READ = "read", _("Lida")
        FAILED = "failed", _("Falhou")

    class Intent(models.TextChoices):
        PEDIDO = "pedido", _("Pedido")
        AGENDAMENTO = "agendamento", _("Agendamento")
        SUPORTE = "suporte", _("Suporte")
        VENDAS = "vendas", _("Vendas")
        HUMANO = "humano", _("Falar com uma pessoa")
        OUTRO = "outro", _("Outro")

    class Polarity(models.TextChoices):
        VERY_NEGATIVE = "very_negative", _("Muito negativo")
        NEGATIVE = "negative", _("Negativo")
        NEUTRAL = "neutral", _("Neutro")
        POSITIVE = "positive", _("Positivo")

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages"
    )
    direction = models.CharField(_("direção"), max_length=3, choices=Direction.choices)
    provider_message_id = models.CharField(
        _("ID no provedor"), max_length=255, null=True, blank=True
    )
    type = models.CharField(_("tipo"), max_length=32, default="text")
    text = models.TextField(_("texto"), blank=True)
    payload = models.JSONField(_("conteúdo"), default=dict, blank=True)
    status = models.CharField(_("situação"), max_length=16, choices=Status.choices)
    error_code = models.CharField(_("código do erro"), max_length=32, blank=True)
    error_detail = models.TextField(_("detalhe do erro"), blank=True)
    attempts = models.PositiveSmallIntegerField(_("tentativas"), default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # Customer messages only: what they want and how they feel, from cheap local rules or the
    # assistant's structured output (chatbots.ai.intent); empty when unknown.
    intent = models.CharField(_("intenção"), max_length=16, choices=Intent.choices, blank=True)
    polarity = models.CharField(
        _("sentimento"), max_length=16, choices=Polarity.choices, blank=True
    )
    created_at = models.DateTimeField(_("criada em"), auto_now_add=True, db_index=True)
    sent_at = models.DateTimeField(_("enviada em"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("entregue em"), null=True, blank=True)
    read_at = models.DateTimeField(_("lida em"), null=True, blank=True)
    failed_at = models.DateTimeField(_("falhou em"), null=True, blank=True)

    class Meta:
        verbose_name = _("mensagem")
        verbose_name_plural = _("mensagens")
        ordering = ["conversation", "id"]
        indexes = [
            models.Index(fields=["conversation", "id"]),
            models.Index(
                fields=["status", "created_at"],
                condition=Q(status__in=["queued", "sending"]),
                name="message_outbox_idx",
            ),
            # The sender's claim (chatbots.outbox.claims): the due heads in age order, and
            # each head's conversation's unsent rows. Without them PostgreSQL walked the
            # created_at index through the whole history of sent messages for the few
            # queued ones at its end (56 ms a claim on the benchmark's table, 0.9 with them).
            models.Index(
                fields=["created_at", "id"],
                condition=Q(status="queued", direction="out"),
                name="message_claim_heads_idx",
            ),
            models.Index(
                fields=["conversation", "id"],
                condition=Q(status__in=["queued", "sending"], direction="out"),
                name="message_claim_runs_idx",
            ),
            # chatbots.backlog: replies that failed lately, read at every scrape.
            models.Index(
                fields=["failed_at"],
                condition=Q(status="failed", direction="out"),
                name="message_failed_idx",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "provider_message_id"],
                condition=Q(provider_message_id__isnull=False),
                name="message_unique_provider_id",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_direction_display()} #{self.pk} ({self.status})"


class InboundEvent(TenantOwned):
    """The raw record of one inbound message or status, stored before we answer 200.

    Unique on (provider, external_id), so Meta's retries and duplicate deliveries insert
    nothing new. Processing claims a row with a conditional UPDATE (pending -> processing).
    """

    class Kind(models.TextChoices):
        MESSAGE = "message", _("Mensagem")
        STATUS = "status", _("Status")
        PREFERENCE = "preference", _("Preferência de mensagens")  # compliance.consent
        ACCOUNT = "account", _("Conta do WhatsApp")  # chatbots.account_events

    class State(models.TextChoices):
        PENDING = "pending", _("Pendente")
        PROCESSING = "processing", _("Processando")
        DONE = "done", _("Processado")
        FAILED = "failed", _("Falhou")
        IGNORED = "ignored", _("Ignorado")

    provider = models.CharField(_("provedor"), max_length=32)
    chatbot = models.ForeignKey(Chatbot, on_delete=models.CASCADE, related_name="inbound_events")
    external_id = models.CharField(_("ID externo"), max_length=255)
    kind = models.CharField(_("tipo"), max_length=16, choices=Kind.choices)
    # The customer the event is about (digits or user id); orders processing per contact.
    contact_key = models.CharField(_("contato"), max_length=64, blank=True)
    # Provider timestamp: the customer's order, which arrival order may not follow.
    occurred_at = models.DateTimeField(_("ocorrido em"))
    payload = models.JSONField(_("conteúdo normalizado"))
    raw = models.JSONField(_("conteúdo bruto"), default=dict)
    state = models.CharField(
        _("situação"), max_length=16, choices=State.choices, default=State.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("tentativas"), default=0)
    last_error = models.TextField(_("último erro"), blank=True)
    received_at = models.DateTimeField(_("recebido em"), auto_now_add=True)
    processed_at = models.DateTimeField(_("processado em"), null=True, blank=True)

    class Meta:
        verbose_name = _("evento recebido")
        verbose_name_plural = _("eventos recebidos")
        ordering = ["-received_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "external_id"], name="inbound_unique_provider_external_id"
            )
        ]
        indexes = [
            models.Index(
                fields=["received_at"],
                condition=Q(state__in=["pending", "processing"]),
                name="inbound_unprocessed_idx",
            ),
            # chatbots.backlog: events that wait for "Processar novamente", read at every scrape.
            models.Index(
                fields=["received_at"],
                condition=Q(state="failed"),
                name="inbound_failed_idx",
            ),
            models.Index(fields=["chatbot", "contact_key", "state", "occurred_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.provider}:{self.external_id} ({self.state})"


class MessageTemplate(TenantOwned):
    """A WhatsApp message template of a bot, as Meta defines it, and its state at Meta.

    Outside the 24-hour window only templates Meta approved may be sent. A template is
    written here (or in Meta's manager) and submitted, then kept in step with Meta by the
    status webhooks and the periodic sync (chatbots.template_sync). The definition's rules
    and Meta's limits are in chatbots.message_templates. `approved` is what sending checks:
    the status APPROVED (or, for a template typed by hand without a status, the box ticked).
    """

    class Category(models.TextChoices):
        MARKETING = "MARKETING", _("Marketing")
        UTILITY = "UTILITY", _("Utilidade")
        AUTHENTICATION = "AUTHENTICATION", _("Autenticação")

    class Status(models.TextChoices):
        MANUAL = "", _("Cadastrado à mão")
        DRAFT = "DRAFT", _("Rascunho (não enviado à Meta)")
        PENDING = "PENDING", _("Em análise na Meta")
        APPROVED = "APPROVED", _("Aprovado")
        REJECTED = "REJECTED", _("Rejeitado")
        PAUSED = "PAUSED", _("Pausado pela Meta")
        DISABLED = "DISABLED", _("Desativado pela Meta")
        IN_APPEAL = "IN_APPEAL", _("Em recurso")
        PENDING_DELETION = "PENDING_DELETION", _("Excluindo")
        DELETED = "DELETED", _("Excluído")
        ARCHIVED = "ARCHIVED", _("Arquivado")
        LIMIT_EXCEEDED = "LIMIT_EXCEEDED", _("Limite de modelos excedido")

    class ParameterFormat(models.TextChoices):
        POSITIONAL = "POSITIONAL", _("Posicional ({{1}}, {{2}}…)")
        NAMED = "NAMED", _("Com nome ({{nome}}, {{pedido}}…)")

    class HeaderFormat(models.TextChoices):
        NONE = "", _("Sem cabeçalho")
        TEXT = "TEXT", _("Texto")
        IMAGE = "IMAGE", _("Imagem")
        VIDEO = "VIDEO", _("Vídeo")
        DOCUMENT = "DOCUMENT", _("Documento (PDF)")

    chatbot = models.ForeignKey(Chatbot, on_delete=models.CASCADE, related_name="templates")
    name = models.CharField(_("nome"), max_length=512)
    language = models.CharField(_("idioma"), max_length=16, default="pt_BR")
    param_count = models.PositiveSmallIntegerField(
        _("número de parâmetros"),
        default=0,
        help_text=_("Só para modelos cadastrados à mão; com o corpo preenchido, vale o corpo."),
    )
    purpose = models.CharField(
        _("uso"),
        max_length=32,
        blank=True,
        help_text=_("Para que o sistema usa este modelo: order_update, reminder, reactivation…"),
    )
    approved = models.BooleanField(_("aprovado pela Meta"), default=False)
    category = models.CharField(
        _("categoria"), max_length=16, choices=Category.choices, default=Category.UTILITY
    )
    status = models.CharField(
        _("situação na Meta"), max_length=20, choices=Status.choices, blank=True, default=""
    )
    status_reason = models.TextField(_("motivo da situação"), blank=True)
    quality_score = models.CharField(_("qualidade"), max_length=16, blank=True)
    meta_id = models.CharField(_("ID na Meta"), max_length=64, blank=True, db_index=True)
    parameter_format = models.CharField(
        _("formato dos parâmetros"),
        max_length=16,
        choices=ParameterFormat.choices,
        default=ParameterFormat.POSITIONAL,
    )
    header_format = models.CharField(
        _("cabeçalho"), max_length=16, choices=HeaderFormat.choices, blank=True, default=""
    )
    header_text = models.CharField(_("texto do cabeçalho"), max_length=120, blank=True)
    header_example = models.TextField(
        _("exemplo do cabeçalho"),
        blank=True,
        help_text=_(
            "Cabeçalho de texto com {{1}}: o valor de exemplo. Cabeçalho de mídia: o "
            "identificador (handle) do arquivo de exemplo enviado à Meta."
        ),
    )
    header_media_url = models.URLField(
        _("mídia do cabeçalho"),
        max_length=1000,
        blank=True,
        help_text=_("Endereço público da imagem, vídeo ou PDF enviado no cabeçalho."),
    )
    body_text = models.TextField(_("corpo"), blank=True)
    body_examples = models.JSONField(
        _("exemplos do corpo"),
        default=list,
        blank=True,
        help_text=_(
            'Posicional: uma lista, ["Maria", "42"]. Com nome: um objeto, '
            '{"nome": "Maria", "pedido": "42"}.'
        ),
    )
    footer_text = models.CharField(_("rodapé"), max_length=120, blank=True)
    buttons = models.JSONField(
        _("botões"),
        default=list,
        blank=True,
        help_text=_(
            'Lista de botões: {"type": "QUICK_REPLY", "text": "…"}, {"type": "URL", '
            '"text": "…", "url": "https://…/{{1}}", "example": "…"}, {"type": '
            '"PHONE_NUMBER", "text": "…", "phone_number": "+55…"}, {"type": "COPY_CODE", '
            '"example": "CUPOM10"}.'
        ),
    )
    synced_at = models.DateTimeField(_("sincronizado em"), null=True, blank=True)
    status_updated_at = models.DateTimeField(_("situação mudou em"), null=True, blank=True)

    class Meta:
        verbose_name = _("modelo de mensagem")
        verbose_name_plural = _("modelos de mensagem")
        constraints = [
            models.UniqueConstraint(
                fields=["chatbot", "name", "language"], name="template_unique_bot_name_lang"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.language})"

    def clean(self) -> None:
        # Meta fetches it, but it is a URL the tenant sets: the same policy as every other.
        egress.tenant_url_validate(
            self.header_media_url,
            field="header_media_url",
            label=_("A mídia do cabeçalho"),
        )


class BusinessProfile(TenantOwned):
    """What the assistant may tell customers about the business besides the catalog and the
    agenda: address, opening hours in words, contact phone, the links it may share."""

    # One profile per tenant: overrides TenantOwned's plain foreign key.
    tenant = models.OneToOneField(
        Tenant, on_delete=models.CASCADE, related_name="+", verbose_name=_("empresa")
    )
    address = models.TextField(_("endereço"), blank=True)
    opening_hours = models.TextField(
        _("horário de funcionamento"),
        blank=True,
        help_text=_(
            "Em texto, por exemplo “Segunda a sábado, das 9h às 18h”. Usado quando a agenda "
            "não tem horários de funcionamento cadastrados."
        ),
    )
    phone = models.CharField(_("telefone de contato"), max_length=32, blank=True)
    website = models.URLField(_("site"), blank=True)
    allowed_link_domains = models.TextField(
        _("domínios de links permitidos"),
        blank=True,
        help_text=_(
            "Um por linha, por exemplo “cardapio.minhaloja.com.br”. O assistente só envia links "
            "destes domínios (e do site acima)."
        ),
    )
    about = models.TextField(
        _("sobre a empresa"),
        blank=True,
        help_text=_(
            "Entrega, formas de pagamento, estacionamento… o que o cliente costuma perguntar."
        ),
    )
    updated_at = models.DateTimeField(_("atualizado em"), auto_now=True)

    class Meta:
        verbose_name = _("perfil da empresa")
        verbose_name_plural = _("perfis da empresa")

    def __str__(self) -> str:
        return str(_("Perfil de %(tenant)s") % {"tenant": self.tenant})


class KnowledgeEntry(TenantOwned):
    """Something the business wants the assistant to know: a question and its answer, or a
    free text. Edited in the admin; grounds the assistant's answers (chatbots.ai)."""

    class Kind(models.TextChoices):
        QA = "qa", _("Pergunta e resposta")
        TEXT = "text", _("Texto livre")

    kind = models.CharField(_("tipo"), max_length=8, choices=Kind.choices, default=Kind.QA)
    question = models.CharField(
        _("pergunta"),
        max_length=300,
        blank=True,
        help_text=_("Como o cliente pergunta, por exemplo “Vocês abrem domingo?”."),
    )
    answer = models.TextField(
        _("resposta ou texto"),
        max_length=2000,
        help_text=_("A resposta (ou, no texto livre, a informação). Curta e direta."),
    )
    active = models.BooleanField(_("ativo"), default=True)
    created_at = models.DateTimeField(_("criado em"), auto_now_add=True)
    updated_at = models.DateTimeField(_("atualizado em"), auto_now=True)

    class Meta:
        verbose_name = _("conhecimento do assistente")
        verbose_name_plural = _("base de conhecimento do assistente")
        ordering = ["question", "id"]
        indexes = [models.Index(fields=["tenant", "active"], name="knowledge_tenant_active_idx")]

    def __str__(self) -> str:
        text = self.question or self.answer
        return text if len(text) <= 60 else text[:59] + "…"

    def clean(self) -> None:
        if self.kind == self.Kind.QA and not (self.question or "").strip():
            raise ValidationError(
                {"question": _("Informe a pergunta, ou mude o tipo para “Texto livre”.")}
            )
