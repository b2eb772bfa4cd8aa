"""The product's own settings: WhatsApp providers, the interceptor chain, the assistant,
plans and metering, orders, and LGPD (consent, retention, reactivation).

Star-imported at the end of config/settings.py, so Django sees them as settings. They come
from the environment like the rest: config/settings.py has already read `.env` into it.
"""

from __future__ import annotations

import environ

env = environ.Env()

# --- Celery and broker outages -------------------------------------------------------------
# Never give up on the broker (Celery's default exits after 100 tries), retry channel errors
# too, and cancel tasks a lost connection will redeliver (late acks): Celery's configuration,
# https://docs.celeryq.dev/en/stable/userguide/configuration.html#broker-connection-retry
CELERY_BROKER_CONNECTION_RETRY = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_BROKER_CHANNEL_ERROR_RETRY = True
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True

# --- Product ----------------------------------------------------------------------------
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000")
WHATSAPP_GRAPH_API_URL = env("WHATSAPP_GRAPH_API_URL", default="https://graph.facebook.com")
WHATSAPP_GRAPH_API_VERSION = env("WHATSAPP_GRAPH_API_VERSION", default="v23.0")
WHATSAPP_VERIFY_TOKEN = env("WHATSAPP_VERIFY_TOKEN", default="")
WHATSAPP_APP_SECRET = env("WHATSAPP_APP_SECRET", default="")
# The operator's Meta app id: media header samples of message templates are uploaded to it
# (Resumable Upload API) for bots whose provider_config has no "app_id" of their own.
WHATSAPP_APP_ID = env("WHATSAPP_APP_ID", default="")
HTTP_TIMEOUT_SECONDS = env.float("HTTP_TIMEOUT_SECONDS", default=10.0)
# Answers are read up to this size (an API's JSON; media downloads have their own limit).
HTTP_MAX_RESPONSE_BYTES = env.int("HTTP_MAX_RESPONSE_BYTES", default=5 * 1024 * 1024)
# URLs tenants set (provider servers, plan-alert webhook, media links) are called only at
# public addresses, over https for the first two (config/egress.py). Trusted internal
# servers by name, address or network; EGRESS_ALLOW_PRIVATE lifts the policy (tests only).
EGRESS_ALLOWED_HOSTS = env.list("EGRESS_ALLOWED_HOSTS", default=[])
EGRESS_ALLOW_PRIVATE = env.bool("EGRESS_ALLOW_PRIVATE", default=False)
CHATBOT_HANDLER_MODULES = env.list("CHATBOT_HANDLER_MODULES", default=[])
# Texts of one customer arriving within this many milliseconds of each other are answered as
# one turn (chatbots.bursts); a bot's options "debounce_ms" overrides it; 0 turns it off.
CHATBOT_DEBOUNCE_MS = env.int("CHATBOT_DEBOUNCE_MS", default=1500)
# The inbound processor (manage.py run_processor, chatbots/processor.py): events per batch
# transaction, and how often an idle consumer looks for work nobody woke it for.
PROCESSOR_BATCH = env.int("PROCESSOR_BATCH", default=50)
PROCESSOR_POLL_SECONDS = env.float("PROCESSOR_POLL_SECONDS", default=0.5)
# Rules run on every customer message before the current step, in this order; the first that
# answers handles the message (contract: chatbots/interceptors/base.py). Opt-out comes first
# (LGPD: a "SAIR" is honoured wherever the customer is), then a person attending keeps the
# bot quiet, then "menu"; the plan's quota also gates that restart. What no flow's own rule
# took is then understood (chatbots.interceptors.understanding): a person asked for, a
# greeting (the menu again), an order's status, an intent that starts a flow.
CHATBOT_INTERCEPTORS = [
    "chatbots.interceptors.consent.OptOutKeywords",
    "chatbots.interceptors.core.HumanHandoff",
    "chatbots.interceptors.core.GlobalCommands",
    "chatbots.interceptors.quota.PlanQuota",
    "chatbots.interceptors.voice.VoiceNote",
    "chatbots.interceptors.survey.SatisfactionAnswer",
    "chatbots.handlers.agenda.buttons.AppointmentButtons",
    "chatbots.interceptors.core.UnsupportedMessage",
    "chatbots.handlers.pedidos.CatalogOrder",
    "chatbots.ai.interceptors.AssistantButtons",
    "chatbots.interceptors.understanding.PersonRequest",
    "chatbots.ai.interceptors.AssistantPersonOffer",
    "chatbots.interceptors.understanding.Greeting",
    "chatbots.interceptors.order_status.OrderStatus",
    "chatbots.interceptors.understanding.FlowIntent",
]
CAL_API_BASE_URL = env("CAL_API_BASE_URL", default="https://api.cal.com")
CAL_DEFAULT_DAYS_AHEAD = env.int("CAL_DEFAULT_DAYS_AHEAD", default=14)
# An unconfirmed appointment whose no-show risk (0-1, agenda.noshow) reaches this gets one
# extra confirmation request before it starts.
AGENDA_NO_SHOW_HIGH_RISK = env.float("AGENDA_NO_SHOW_HIGH_RISK", default=0.35)
GEMINI_API_KEY = env("GEMINI_API_KEY", default="")
GEMINI_MODEL = env("GEMINI_MODEL", default="gemini-2.5-flash")
GEMINI_BASE_URL = env("GEMINI_BASE_URL", default="")
# The assistant (chatbots.ai): per-attempt timeout, attempts on 408/429/5xx/timeouts (the
# SDK's backoff between them adds at most ~2.5 s; worst case attempts x timeout + 2.5 s),
# answer size, and the circuit breaker.
GEMINI_TIMEOUT_SECONDS = env.float("GEMINI_TIMEOUT_SECONDS", default=6.0)
GEMINI_RETRY_ATTEMPTS = env.int("GEMINI_RETRY_ATTEMPTS", default=3)
GEMINI_MAX_OUTPUT_TOKENS = env.int("GEMINI_MAX_OUTPUT_TOKENS", default=512)
GEMINI_THINKING_BUDGET = env.int("GEMINI_THINKING_BUDGET", default=0)
GEMINI_BREAKER_FAILURES = env.int("GEMINI_BREAKER_FAILURES", default=5)
GEMINI_BREAKER_WINDOW_SECONDS = env.float("GEMINI_BREAKER_WINDOW_SECONDS", default=60.0)
GEMINI_BREAKER_OPEN_SECONDS = env.float("GEMINI_BREAKER_OPEN_SECONDS", default=30.0)
BILLING_WEBHOOK_SECRET = env("BILLING_WEBHOOK_SECRET", default="")
BILLING_COST_PER_MESSAGE = env("BILLING_COST_PER_MESSAGE", default="0.05")
BILLING_COST_PER_THOUSAND_TOKENS = env("BILLING_COST_PER_THOUSAND_TOKENS", default="0.002")
# What Meta charges per delivered template, in R$, by country (ISO code, "*" for any other)
# and category, as JSON; empty: Brazil's rates for every country (billing.template_costs).
WHATSAPP_TEMPLATE_RATES = env.json("WHATSAPP_TEMPLATE_RATES", default={})
# Days a past_due subscription keeps working before the bot stops (billing.quotas).
BILLING_PAST_DUE_GRACE_DAYS = env.int("BILLING_PAST_DUE_GRACE_DAYS", default=7)
# How long the quota gate trusts its cached usage figure (seconds).
BILLING_QUOTA_CACHE_SECONDS = env.int("BILLING_QUOTA_CACHE_SECONDS", default=30)
# Stale carts: remind after N hours (inside the 24 h window), delete after M hours.
PEDIDOS_CART_REMIND_AFTER_HOURS = env.float("PEDIDOS_CART_REMIND_AFTER_HOURS", default=4)
PEDIDOS_CART_EXPIRE_AFTER_HOURS = env.float("PEDIDOS_CART_EXPIRE_AFTER_HOURS", default=48)
DEMO_ADMIN_PASSWORD = env("DEMO_ADMIN_PASSWORD", default="")

# --- LGPD: consent, retention, audit, reactivation (compliance app) --------------------------
# Typed words that opt a customer out of proactive messages / back in (accents and case
# ignored); a tenant may set its own in ConsentSettings.
OPTOUT_KEYWORDS = env.list(
    "OPTOUT_KEYWORDS", default=["SAIR", "PARAR", "STOP", "REMOVER", "CANCELAR"]
)
OPTIN_KEYWORDS = env.list("OPTIN_KEYWORDS", default=["VOLTAR"])
# Key of the one-way hashes that keep erased people from being messaged again. Defaults to
# SECRET_KEY; set it once and never change it (a new key forgets every marker).
CONSENT_HASH_PEPPER = env("CONSENT_HASH_PEPPER", default="")
# Defaults of RetentionPolicy: message texts, raw webhook records, audit entries (days).
RETENTION_MESSAGE_TEXT_DAYS = env.int("RETENTION_MESSAGE_TEXT_DAYS", default=365)
RETENTION_RAW_WEBHOOK_DAYS = env.int("RETENTION_RAW_WEBHOOK_DAYS", default=30)
# Marco Civil da Internet, art. 15: access records are kept for at least 6 months.
RETENTION_AUDIT_DAYS = max(env.int("RETENTION_AUDIT_DAYS", default=730), 180)
RETENTION_BATCH_SIZE = env.int("RETENTION_BATCH_SIZE", default=1000)
# Reactivation: local hour of the daily run, inactivity and cool-down (days; per bot in
# Chatbot.options reactivation_inactive_days / reactivation_cooldown_days), sends per bot
# and run, and the pace of its sends (never above the number's own messages_per_second).
REACTIVATION_HOUR = env.int("REACTIVATION_HOUR", default=10)
REACTIVATION_INACTIVE_DAYS = env.int("REACTIVATION_INACTIVE_DAYS", default=30)
REACTIVATION_COOLDOWN_DAYS = env.int("REACTIVATION_COOLDOWN_DAYS", default=30)
REACTIVATION_MAX_PER_RUN = env.int("REACTIVATION_MAX_PER_RUN", default=500)
REACTIVATION_SENDS_PER_SECOND = env.float("REACTIVATION_SENDS_PER_SECOND", default=5.0)
# Staff app: a person whose last tab closed is shown offline only if no tab came back within
# this many seconds (a page change closes one socket and opens the next a moment later).
STAFF_OFFLINE_GRACE_SECONDS = env.float("STAFF_OFFLINE_GRACE_SECONDS", default=5.0)

# --- Event webhooks for integrators (integrations.services) ------------------------------
# Seconds a tenant's receiver has to answer one event (then it is retried with backoff).
# Short: deliveries share the `bulk` workers with campaigns, reminders and model calls.
WEBHOOK_EVENTS_TIMEOUT_SECONDS = env.float("WEBHOOK_EVENTS_TIMEOUT_SECONDS", default=5.0)
# Days the delivery log (which holds customers' messages) is kept.
WEBHOOK_EVENTS_KEEP_DAYS = env.int("WEBHOOK_EVENTS_KEEP_DAYS", default=30)

# --- The sender (chatbots.outbox.sender, `python manage.py run_sender`) -------------------
# Queued replies wake the sender through Redis; when no sender listens, the Celery send task
# sends them as before. Off: always the Celery task.
SENDER_ENABLED = env.bool("SENDER_ENABLED", default=True)
# Rows claimed per statement (also the most a killed sender can leave "outcome unknown").
SENDER_BATCH = env.int("SENDER_BATCH", default=20)
# The most sends in flight at once, one conversation per thread (its rows stay in order; a
# round uses as many as the provider's answer time needs: chatbots/outbox/pace.py); the read
# receipts get as many threads again. A send waits on the provider (Meta: ~150 ms), so
# this, not the CPU, bounds a sender: about SENDER_THREADS / 0.15 s sends a second (16:
# ~100/s). More threads cost latency when the provider answers fast: at 80 msg/s on 2
# cores, 32 threads gave a p95 of ~150 ms against ~95 ms with 8 or 16 (benchmarks/RESULTS.md).
SENDER_THREADS = env.int("SENDER_THREADS", default=16)
# A sleeping sender looks for due rows (retries, missed nudges) this often.
SENDER_POLL_SECONDS = env.float("SENDER_POLL_SECONDS", default=0.5)
# The processor and the sender run this much below the web in the CPU scheduler (os.nice)
# when they share a machine with it: Meta times the webhook's answer and retries slow ones,
# a reply a few ms later costs nothing. No effect between containers. 0: same priority.
CONSUMER_NICENESS = env.int("CONSUMER_NICENESS", default=5)

# --- The API schema and its docs at /api/docs/ (drf-spectacular) ---------------------------
SPECTACULAR_SETTINGS = {
    # What a business user reads on /api/docs/: pt-BR like the rest of the product.
    "TITLE": "API da plataforma de atendimento no WhatsApp",
    "DESCRIPTION": (
        "API por empresa. Integrações enviam `Authorization: Api-Key <chave>`; pessoas da "
        "equipe enviam `Authorization: Bearer <JWT>` e, quando pertencem a mais de uma "
        "empresa, `X-Tenant: <identificador>`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # A conversation's status is read and written (PATCH) by different serializers.
    "ENUM_NAME_OVERRIDES": {
        "ConversationStatusEnum": "chatbots.models.Conversation.Status",
        "CampaignStatusEnum": "campaigns.models.Campaign.Status",
        "ScheduledMessageStatusEnum": "campaigns.models.ScheduledMessage.Status",
        "WebhookEventTypeEnum": "integrations.catalog.EventType",
    },
    "APPEND_COMPONENTS": {
        "securitySchemes": {
            "ApiKeyAuth": {"type": "apiKey", "in": "header", "name": "Authorization"},
        }
    },
}
