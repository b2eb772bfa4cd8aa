"""Settings, read from the environment only (django-environ; `.env` when present).

Two modes, same code, chosen by the environment:

* embedded default: no DATABASE_URL and no REDIS_URL. SQLite (WAL), a Celery broker on the
  filesystem, a file-based cache. A SECRET_KEY and FIELD_ENCRYPTION_KEYS are generated on
  first run and kept in `.env`, so a fresh clone starts with one command. Those files are
  owner-only and the web binds 127.0.0.1 unless BIND_HOST says otherwise (config/embedded.py).
* production: DATABASE_URL (PostgreSQL) and REDIS_URL (broker + cache). Secrets have no
  defaults: a missing one stops the boot with a message naming it.

Every variable is documented in `.env.example`.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from datetime import timedelta
from pathlib import Path

import environ
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

from config import embedded, process_metrics

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
ENV_FILE = Path(os.environ.get("DJANGO_ENV_FILE", BASE_DIR / ".env"))
if ENV_FILE.exists():
    # It holds secrets in both modes: owner-only, also when an older version wrote it.
    embedded.tighten(ENV_FILE, embedded.PRIVATE_FILE)
    env.read_env(str(ENV_FILE))

EMBEDDED = not env("DATABASE_URL", default="") and not env("REDIS_URL", default="")
MODE = "embedded" if EMBEDDED else "production"
DATA_DIR = Path(env("DATA_DIR", default=str(BASE_DIR / "var")))
# Each process's metrics directory exists before any metric is made, without the files of
# processes that are gone (config/process_metrics.py).
process_metrics.prepare()


def _require(name: str) -> str:
    value = env(name, default="")
    if not value:
        raise ImproperlyConfigured(
            f"{name} is not set. Production mode (DATABASE_URL or REDIS_URL present) needs it; "
            f"see .env.example for how to generate one."
        )
    return value


def _embedded_secret(name: str, make) -> str:
    """Return NAME from the environment, or generate it once and keep it in `.env`.

    Only the embedded mode does this: a generated key that changed on every start would
    log everybody out and make encrypted secrets unreadable.
    """
    value = env(name, default="")
    if value:
        return value
    value = make()
    embedded.append_private(
        ENV_FILE, f"\n# generated on first run by config/settings.py\n{name}={value}\n"
    )
    os.environ[name] = value
    return value


if EMBEDDED:
    SECRET_KEY = _embedded_secret("SECRET_KEY", lambda: secrets.token_urlsafe(50))
    FIELD_ENCRYPTION_KEYS = _embedded_secret(
        "FIELD_ENCRYPTION_KEYS", lambda: Fernet.generate_key().decode()
    ).split(",")
else:
    SECRET_KEY = _require("SECRET_KEY")
    FIELD_ENCRYPTION_KEYS = _require("FIELD_ENCRYPTION_KEYS").split(",")
FIELD_ENCRYPTION_KEYS = [k.strip() for k in FIELD_ENCRYPTION_KEYS if k.strip()]
for _key in FIELD_ENCRYPTION_KEYS:
    try:
        Fernet(_key.encode())
    except ValueError:
        # Fail at boot, not at the first secret read in the middle of a conversation.
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS holds a value that is not a Fernet key (32 url-safe base64 "
            "bytes). Generate one with: python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())'"
        ) from None

# --- Address and DEBUG ------------------------------------------------------------------
# Where the web server listens (gunicorn.conf.py and start_services.sh use the same value).
# DEBUG pages show settings, paths and source to whoever gets an error: they are on by
# default only in the embedded mode on a loopback address, and refused on any other.
BIND_HOST = env("BIND_HOST", default="") or embedded.default_bind_host(embedded=EMBEDDED)
DEBUG = env.bool("DEBUG", default=EMBEDDED and embedded.is_loopback(BIND_HOST))
if DEBUG and not embedded.is_loopback(BIND_HOST):
    raise ImproperlyConfigured(
        f"DEBUG is on and the web server binds {BIND_HOST}, which other machines can reach: "
        "debug pages would show them the settings and the code. Set DEBUG=False, or "
        "BIND_HOST=127.0.0.1 to serve this machine only."
    )
ALLOWED_HOSTS = env.list(
    "ALLOWED_HOSTS",
    default=["localhost", "127.0.0.1", "[::1]"] if EMBEDDED else ["localhost", "127.0.0.1"],
)
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# Render and Replit set the service's public host names; accept them without extra
# configuration. Replit: REPLIT_DEV_DOMAIN is the workspace's address, REPLIT_DOMAINS the
# deployment's, comma-separated (https://docs.replit.com/replit-workspace/workspace-features/secrets).
for _public_host in [
    env("RENDER_EXTERNAL_HOSTNAME", default=""),
    env("REPLIT_DEV_DOMAIN", default=""),
    *env.list("REPLIT_DOMAINS", default=[]),
]:
    if _public_host.strip():
        ALLOWED_HOSTS.append(_public_host.strip())
        CSRF_TRUSTED_ORIGINS.append(f"https://{_public_host.strip()}")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework_api_key",
    # The app itself has no models: listed for its pt-BR messages ("Usuário e/ou senha
    # incorreto(s)" instead of "No active account found...").
    "rest_framework_simplejwt",
    "rest_framework_simplejwt.token_blacklist",
    "axes",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "django_prometheus",
    "billing",
    "clientes",
    "chatbots",
    "pedidos",
    "agenda",
    "compliance",
    "inbox",
    "staff",
    "media",
    "campaigns",
    "integrations",
    "insights",
    "experiments",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "config.middleware.RequestIdMiddleware",
    # Before anything calls int() on it (Django, django-prometheus): a bad one is a 400.
    "config.middleware.ContentLengthMiddleware",
    # Before anything reads the Host header: load balancers probe with internal host names.
    "config.middleware.LivenessMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Who acts and from where, for the audit log of whatever this request changes.
    "compliance.audit.AuditContextMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
    # Last, as django-axes asks: turns a locked-out admin login into its lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------------------
if EMBEDDED:
    # A new DATA_DIR is private; an existing one is left alone (it may be shared), and what
    # matters inside it is made private one by one (config/embedded.py).
    DATA_DIR.mkdir(mode=embedded.PRIVATE_DIR, parents=True, exist_ok=True)
    embedded.sqlite_files(DATA_DIR / "db.sqlite3")
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": DATA_DIR / "db.sqlite3",
            "OPTIONS": {
                # IMMEDIATE takes the write lock when a transaction starts, so two processes
                # (web + worker) never deadlock upgrading a read lock; WAL lets readers run
                # while one writer writes.
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": (
                    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000;"
                ),
            },
        }
    }
else:
    DATABASES = {"default": env.db("DATABASE_URL")}
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
    # Off by default: the check is a SELECT 1 per request and per task, three per replied
    # message (benchmarks/RESULTS.md). Without it a connection broken by a PostgreSQL
    # restart fails its next query once and Django drops it after that request or task
    # (close_if_unusable_or_obsolete); the webhook's 500 is retried by Meta, a task retries.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("DB_CONN_HEALTH_CHECKS", default=False)
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].setdefault("connect_timeout", 5)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache and Redis --------------------------------------------------------------------
REDIS_URL = env("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "config.cache.RedisCache",  # one client per pool (config/cache.py)
            "LOCATION": REDIS_URL,
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    }
else:
    # A file cache is shared by the web, worker and beat processes of one machine, which the
    # heartbeats and rate limits need; locmem would give each process its own. Django
    # creates its files 0600 in a 0700 folder; one left by an older version is narrowed.
    embedded.tighten(DATA_DIR / "cache", embedded.PRIVATE_DIR)
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(DATA_DIR / "cache"),
        }
    }

# --- Live updates (the staff app's WebSockets, config/asgi.py) ---------------------------
# Events are published by whichever process changes something (the web for a staff reply,
# a Celery worker for an inbound message) and delivered by the web process that holds the
# browser's socket, so the channel layer must cross processes in both modes.
# Production: Redis pub/sub (channels_redis.pubsub): one PUBLISH per event whatever the
# number of sockets, each web process fanning it out to its own sockets; the list-based
# RedisChannelLayer would push one copy per socket into Redis. Events are live
# notifications (the pages read the database on load), so pub/sub's "no subscriber, no
# copy" is what we want. https://github.com/django/channels_redis#redispubsubchannellayer
# Embedded: channels-lite keeps events in a SQLite file of DATA_DIR that every local
# process shares (https://github.com/Tobi-De/channels-lite: 0.4.0, Jan 2026, declares
# Django 5.2; each process polls every 0.1 s). An in-memory layer would keep the worker's
# events inside the worker; channels-postgres needs PostgreSQL.
WEB_THREADS = env.int("WEB_THREADS", default=4)
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {
                "hosts": [env("CHANNELS_REDIS_URL", default=REDIS_URL)],
                "prefix": env("CHANNELS_PREFIX", default="live"),
            },
        }
    }
else:
    embedded.sqlite_files(DATA_DIR / "channels.sqlite3")
    DATABASES["channels"] = {
        **DATABASES["default"],
        "NAME": DATA_DIR / "channels.sqlite3",
        "OPTIONS": {
            "timeout": 5,
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=5000;"
            ),
        },
    }
    DATABASE_ROUTERS = ["config.live_router.ChannelsLiteRouter"]
    INSTALLED_APPS.append("channels_lite")
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_lite.layers.core.SQLiteChannelLayer",
            "CONFIG": {"database": "channels"},
        }
    }

# --- Auth -------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "admin:login"
# django-axes first: it refuses a locked-out username or address before any password is
# checked, then Django's own backend logs people in.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

# --- Client address and login lockout ---------------------------------------------------
# Proxies of ours in front of the web process that append to X-Forwarded-For: the shipped
# nginx (deploy/nginx) and Docker Compose behind it are 1; a direct bind (the embedded
# mode) is 0. One rule for every reader of the client's address: config/client_ip.py.
NUM_PROXIES = env.int("NUM_PROXIES", default=0 if EMBEDDED else 1)
# A header that the edge overwrites with the client's address on every request, used
# before X-Forwarded-For. Render puts Cloudflare and its own proxies in front (X-Forwarded-
# For arrives with three appended addresses, https://github.com/arcjet/arcjet-js/issues/5411)
# and Cloudflare sets CF-Connecting-IP
# (https://developers.cloudflare.com/fundamentals/reference/http-headers/), so that is the
# default there. Never name a header that clients can send through to us.
CLIENT_IP_HEADER = env(
    "CLIENT_IP_HEADER",
    default="CF-Connecting-IP" if env("RENDER_EXTERNAL_HOSTNAME", default="") else "",
)
# Admin login and API token endpoint (README "Login e bloqueio", config/logins.py): this
# many failures of one username, or from one address, within the cool-off lock it out until
# the cool-off has passed since its latest counted failure. Stored in the database (axes'
# AccessAttempt), the same on PostgreSQL and on the embedded SQLite.
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=10)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # either one locks, each on its own
# Tries refused during a lockout are not counted: the time announced is when it ends.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_CLIENT_IP_CALLABLE = "config.client_ip.client_limit_key"
AXES_USERNAME_CALLABLE = "config.logins.login_username"
AXES_LOCKOUT_CALLABLE = "config.logins.lockout_response"
AXES_HTTP_RESPONSE_CODE = 429
# Successful logins are in the audit log (compliance.audit); axes' own access log would also
# open a session for every API login.
AXES_DISABLE_ACCESS_LOG = True
AXES_VERBOSE = False  # no start-up banner on every command; failures are still logged

# --- Internationalisation ---------------------------------------------------------------
LANGUAGE_CODE = "pt-br"
# Only pt-BR: the people who read the pages, the admin and the API's errors are Brazilian
# business owners and staff, and a browser or client that asks for English gets pt-BR too.
LANGUAGES = [("pt-br", "Português (Brasil)")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "America/Sao_Paulo"
USE_I18N = True
USE_TZ = True

# --- Static files -----------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = Path(env("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
# Files customers send (app media): private; staff open them through short-lived signed
# links (media.views). On disk under DATA_DIR/files, or in an S3-compatible bucket (MEDIA_S3_*:
# https://django-storages.readthedocs.io/en/latest/backends/amazon-S3.html).
MEDIA_ROOT = Path(env("MEDIA_ROOT", default=str(DATA_DIR / "files")))
MEDIA_LINK_SECONDS = env.int("MEDIA_LINK_SECONDS", default=300)


def media_storage(*, bucket: str, endpoint_url: str, region: str, key_id: str, secret: str):
    """STORAGES["default"]: the bucket (private objects) when one is named, else the disk."""
    if not bucket:
        return {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": MEDIA_ROOT},
        }
    return {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": bucket,
            "endpoint_url": endpoint_url or None,
            "region_name": region or None,
            "access_key": key_id or None,
            "secret_key": secret or None,
            "default_acl": "private",
            "querystring_auth": True,
            "querystring_expire": MEDIA_LINK_SECONDS,
            "file_overwrite": False,
        },
    }


STORAGES = {
    "default": media_storage(
        bucket=env("MEDIA_S3_BUCKET", default=""),
        endpoint_url=env("MEDIA_S3_ENDPOINT_URL", default=""),
        region=env("MEDIA_S3_REGION", default=""),
        key_id=env("MEDIA_S3_ACCESS_KEY_ID", default=""),
        secret=env("MEDIA_S3_SECRET_ACCESS_KEY", default=""),
    ),
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if not DEBUG
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
# Tests and the first request before collectstatic still work with the finders.
WHITENOISE_USE_FINDERS = env.bool("WHITENOISE_USE_FINDERS", default=DEBUG)
WHITENOISE_MANIFEST_STRICT = False

# --- Security ---------------------------------------------------------------------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# Cookies only over HTTPS: always in production; in the embedded mode when it runs behind
# an HTTPS proxy (.replit sets both), not on http://localhost.
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not EMBEDDED)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not EMBEDDED)
if not EMBEDDED:
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    # Health checks and scrapes from inside the platform's network come over plain HTTP.
    SECURE_REDIRECT_EXEMPT = [r"^healthz", r"^metrics$"]
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)

# Meta batches up to 1000 updates and payloads can reach 3 MB (Meta: https://developers.facebook.com/docs/graph-api/webhooks/getting-started); the
# webhook reads the raw body itself and enforces WEBHOOK_MAX_BODY_BYTES.
WEBHOOK_MAX_BODY_BYTES = env.int("WEBHOOK_MAX_BODY_BYTES", default=3 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = WEBHOOK_MAX_BODY_BYTES + 1024
# How long each process remembers which bot a phone_number_id names (chatbots/routing.py);
# 0 looks it up on every webhook. A change made elsewhere reaches a process within this time.
WEBHOOK_ROUTE_CACHE_SECONDS = env.int("WEBHOOK_ROUTE_CACHE_SECONDS", default=5)

# --- REST API ---------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "billing.api.authentication.TenantAPIKeyAuthentication",
        "rest_framework_simplejwt.authentication.JWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["billing.api.permissions.TenantRolePermission"],
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.SearchFilter",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": env.int("API_PAGE_SIZE", default=50),
    "DEFAULT_SCHEMA_CLASS": "billing.api.schema.AutoSchema",
    "EXCEPTION_HANDLER": "billing.api.exceptions.exception_handler",
    # Counting by config.client_ip's address; NUM_PROXIES for any stock DRF throttle too.
    "DEFAULT_THROTTLE_CLASSES": ["billing.api.throttling.ScopedRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"token": env("API_TOKEN_THROTTLE", default="20/min")},
    "NUM_PROXIES": NUM_PROXIES,
}
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_ACCESS_MINUTES", default=15)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.int("JWT_REFRESH_DAYS", default=7)),
    "AUTH_HEADER_TYPES": ("Bearer",),
    # Each refresh answers a new refresh token and blacklists the one used; logout and a
    # password change blacklist too (billing/api/auth.py).
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    # Access tokens carry a hash of the password hash: a new password refuses them at once.
    "CHECK_REVOKE_TOKEN": True,
    # The token view sends user_logged_in, which moves last_login.
    "UPDATE_LAST_LOGIN": False,
}
API_KEY_CUSTOM_HEADER = "HTTP_AUTHORIZATION"

# --- Celery -----------------------------------------------------------------------------
if REDIS_URL:
    CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # Longer than any task's hard time limit, so a slow task is never redelivered to a
        # second worker while the first is still on it (late ack + Redis visibility).
        "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600),
        # Redis restarts: ping idle connections, retry a timed-out command (redis-py docs).
        "health_check_interval": env.int("CELERY_REDIS_HEALTH_CHECK_INTERVAL", default=10),
        **{"retry_on_timeout": True, "socket_keepalive": True, "socket_connect_timeout": 5},
    }
else:
    _broker_dir = DATA_DIR / "broker"
    embedded.private_dir(_broker_dir)  # messages carry task arguments
    for _sub in ("queue", "processed", "control"):
        embedded.private_dir(_broker_dir / _sub)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        # Exchange bindings (pidbox, fanout); kombu's default is ./control in the cwd.
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery's Django fixup closes the database connection before and after EVERY task unless
# this is set: a new PostgreSQL connection (TCP, auth, session setup) per task cost about a
# third of a reply's worker time (benchmarks/RESULTS.md). With it, a worker process keeps
# its connection for this many tasks, and config/celery.py applies Django's own rules per
# task (CONN_MAX_AGE, health check, errors), as the request cycle does for the web.
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=1000)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=300)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=360)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Queues: replies (webhook -> reply path, must never wait), outbound (sends and read
# receipts: waiting on the provider's API, so a threads pool; config/celery.py), llm (slow
# model calls), bulk (campaigns, reminders, reactivation), default (maintenance).
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_QUEUE_REPLIES = "replies"
CELERY_QUEUE_OUTBOUND = "outbound"
CELERY_QUEUE_LLM = "llm"
CELERY_QUEUE_BULK = "bulk"

# --- Observability ----------------------------------------------------------------------
PROMETHEUS_EXPORT_MIGRATIONS = False
# /metrics lets in `Authorization: Bearer <METRICS_TOKEN>` or a direct connection from
# METRICS_ALLOWED_IPS; with neither, loopback in the embedded mode and nobody in production
# (config/metrics.py).
METRICS_TOKEN = env("METRICS_TOKEN", default="")
METRICS_ALLOWED_IPS = env.list("METRICS_ALLOWED_IPS", default=[])
try:
    [ipaddress.ip_network(n.strip(), strict=False) for n in METRICS_ALLOWED_IPS]
except ValueError as exc:
    raise ImproperlyConfigured(f"METRICS_ALLOWED_IPS: {exc} (e.g. 10.0.0.5,10.0.0.0/24)") from None
if 0 < len(METRICS_TOKEN) < 32:
    raise ImproperlyConfigured(
        "METRICS_TOKEN is under 32 characters; generate one with: "
        "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
    )
HEALTHZ_WORKER_MAX_AGE = env.int("HEALTHZ_WORKER_MAX_AGE", default=120)
HEALTHZ_CHECK_WORKERS = env.bool("HEALTHZ_CHECK_WORKERS", default=True)
LOG_LEVEL = env("LOG_LEVEL", default="INFO")
LOG_FORMAT = env("LOG_FORMAT", default="json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "config.logging.RequestIdFilter"}},
    "formatters": {
        "json": {"()": "config.logging.JsonFormatter"},
        "plain": {"()": "config.logging.PlainFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if LOG_FORMAT == "json" else "plain",
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "celery": {"level": LOG_LEVEL},
        # "Task ... received" and "Task ... succeeded" for every task: four lines per customer
        # message at INFO, more than all our own lines, and a few percent of the workers'
        # CPU (benchmarks/RESULTS.md). Failures and retries are logged at WARNING and above.
        "celery.app.trace": {"level": env("CELERY_TASK_LOG_LEVEL", default="WARNING")},
        "celery.worker.strategy": {"level": env("CELERY_TASK_LOG_LEVEL", default="WARNING")},
        # The filesystem broker has no host; kombu warns about it on every connection.
        **({"kombu.connection": {"level": "ERROR"}} if EMBEDDED else {}),
    },
}

# --- Email ------------------------------------------------------------------------------
EMAIL_BACKEND = env(
    "EMAIL_BACKEND",
    default=(
        "django.core.mail.backends.console.EmailBackend"
        if EMBEDDED
        else "django.core.mail.backends.smtp.EmailBackend"
    ),
)
if not EMBEDDED and env("EMAIL_URL", default=""):
    vars().update(env.email_url("EMAIL_URL"))
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="no-reply@localhost")

# --- Product and LGPD: config/product_settings.py (providers, assistant, plans, orders,
# consent, retention), read from the same environment ------------------------------------
from config.product_settings import *  # noqa: E402, F403
