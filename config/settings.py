"""Settings, all from the environment (django-environ). See .env.example."""

import ipaddress
import math
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


class SettingsEnv(environ.Env):
    """django-environ, with an empty value meaning the default (as the README says; an
    empty number was a ValueError traceback) and numbers read strictly: its float cast
    drops every character but digits, commas and points, so `1e3` was 13.0."""

    def get_value(self, var, cast=None, default=environ.Env.NOTSET, parse_default=False):
        raw = self.ENVIRON.get(var)
        if raw is not None and not raw.strip() and default is not environ.Env.NOTSET:
            return default
        if raw is not None and cast in (int, float):
            try:
                value = cast(raw.strip())
            except ValueError:
                raise ImproperlyConfigured(
                    f"{var} must be {'an integer' if cast is int else 'a number'}, not {raw!r}"
                ) from None
            if not math.isfinite(value):
                raise ImproperlyConfigured(f"{var} must be a finite number, not {raw!r}")
            return value
        return super().get_value(var, cast=cast, default=default, parse_default=parse_default)


env = SettingsEnv()
# The environment wins over .env. A comment after a value is part of the value (no
# comment parsing: a secret may hold '#'), so .env.example keeps comments on lines apart.
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
# A fixed development secret keeps `make run` zero-config; production sets SECRET_KEY
# (required with HTTPS_ONLY, below). These defaults and .env.example's placeholders are
# public: anyone can sign with them.
_PUBLIC_SECRETS = {
    "SECRET_KEY": ("dev-insecure-secret-key-change-me", "change-me"),
    "API_KEY_PEPPER": ("dev-insecure-api-key-pepper", "change-me-too"),
}
SECRET_KEY = env.str("SECRET_KEY", default=_PUBLIC_SECRETS["SECRET_KEY"][0])
# HMAC pepper for API key hashes; rotating it invalidates every key.
API_KEY_PEPPER = env.str("API_KEY_PEPPER", default=_PUBLIC_SECRETS["API_KEY_PEPPER"][0])
# OCR endpoints keep authenticated keys per process, checked against the key epoch the
# rate-limit call returns (keys/cache.py); only with Redis.
API_KEY_CACHE = env.bool("API_KEY_CACHE", default=True)
# The Host names this server answers to. Loopback only by default: with "*", a request
# with `Host: evil.example` got password-reset and invitation links pointing there.
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
CSRF_FAILURE_VIEW = "config.errors.csrf_failure"  # JSON on API paths
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")
# Served over https (directly or behind a TLS proxy that sets X-Forwarded-Proto): cookies
# only over TLS, the proxy's scheme trusted, HSTS for a year. Off for the local default.
HTTPS_ONLY = env.bool("HTTPS_ONLY", default=False)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = HTTPS_ONLY
SESSION_COOKIE_HTTPONLY = True
if HTTPS_ONLY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=365 * 24 * 3600)
    # A server on https is a deployment: with a public secret anyone forges what it signs
    # (an auditor forged a signed file URL with the default SECRET_KEY), and a public
    # pepper adds nothing to a leaked key table. Refuse to start; the message names the
    # variable, never a value.
    for _name, _value in (("SECRET_KEY", SECRET_KEY), ("API_KEY_PEPPER", API_KEY_PEPPER)):
        if not _value.strip() or _value in _PUBLIC_SECRETS[_name]:
            raise ImproperlyConfigured(
                f"{_name} is unset, empty or a public default from this repository, and "
                f"HTTPS_ONLY is on: set {_name} to a long random value of your own, e.g. "
                "python -c 'import secrets; print(secrets.token_urlsafe(50))'"
            )

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "accounts",
    "keys",
    "billing",
    "ocr",
]

MIDDLEWARE = [
    # CORS first, so that a browser can read every refusal, the NUL ones included.
    "config.middleware.CorsMiddleware",
    "config.middleware.RejectNulMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "accounts.middleware.CurrentOrganizationMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
                "accounts.context_processors.dashboard",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Same backend, with a health check that needs no round trip (config/postgresql).
    DATABASES["default"]["ENGINE"] = "config.postgresql"
    # psycopg prepares a statement at its first run on a connection (0); only the
    # server-side-binding cursors of config/prepared.py can be prepared (the ORM's
    # client-side binding sends a new text every time). Off (None) behind a pooler
    # that cannot keep prepared statements, such as PgBouncer before 1.21 in
    # transaction mode.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "prepare_threshold", 0 if env.bool("DATABASE_PREPARED_STATEMENTS", default=True) else None
    )
    # libpq waits for ever on a server that accepts and never answers (hung, or behind a
    # dead network path): every request, /healthz included, then hung until gunicorn's
    # timeout killed its worker. Refused in time, the request is a 503 instead.
    DATABASES["default"]["OPTIONS"].setdefault(
        "connect_timeout", env.int("DATABASE_CONNECT_TIMEOUT", default=5)
    )
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL + a busy timeout let several gunicorn workers share one SQLite file.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="")
# After a Redis call times out or cannot connect, this process leaves Redis alone for this
# long (config/redis_breaker.py), then lets one call try it again.
REDIS_BREAKER_COOLDOWN_S = env.float("REDIS_BREAKER_COOLDOWN_S", default=5.0)
if REDIS_URL:
    CACHES = {
        "default": {
            # Django's Redis cache behind the breaker above.
            "BACKEND": "config.redis_cache.BreakerRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "ocrgw",
            # The rate limiter's bounds (billing/ratelimit_redis.py). redis-py's default is
            # 5 s: a Redis that hung (a partition, a stopped process) added 5 s to every
            # OCR request's provider-health read and to /healthz.
            "OPTIONS": {"socket_timeout": 1.0, "socket_connect_timeout": 0.5},
        }
    }
else:
    # File cache: shared by every worker on one host (provider cool-downs, etc.).
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": env.str("FILE_CACHE_DIR", default="") or str(BASE_DIR / "var" / "cache"),
        }
    }

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = ["accounts.backends.EmailBackend"]
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/dashboard/"
LOGOUT_REDIRECT_URL = "/login/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "static"
# Empty (as .env.example leaves it) is the default, not Path(""): uploads in the cwd.
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default="") or BASE_DIR / "var" / "media")

AWS_STORAGE_BUCKET_NAME = env.str("AWS_STORAGE_BUCKET_NAME", default="")
if AWS_STORAGE_BUCKET_NAME:
    STORAGES = {
        "default": {"BACKEND": "storages.backends.s3.S3Storage"},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    AWS_S3_ENDPOINT_URL = env.str("AWS_S3_ENDPOINT_URL", default="") or None
    AWS_QUERYSTRING_AUTH = True
    AWS_QUERYSTRING_EXPIRE = env.int("AWS_QUERYSTRING_EXPIRE", default=300)
else:
    STORAGES = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }

EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="no-reply@localhost")

# Request bodies: the largest dialect (004, 100 MB) in base64 plus slack. Each dialect
# enforces its own decoded-size limit and answers 413 itself.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=140 * 1024 * 1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FIELDS = 200

# --- Dashboard sign-in limits (accounts/throttle.py) ---------------------------------
# Per window: failed sign-ins per address and per client network (dashboard and admin),
# password-reset requests per address and per network, sign-ups per network. 0 turns a
# limit off. A counted attempt restarts its window. Without Redis the limits are per host;
# with Redis unreachable nothing is limited.
AUTH_LOGIN_FAILURES_PER_ACCOUNT = env.int("AUTH_LOGIN_FAILURES_PER_ACCOUNT", default=5)
AUTH_LOGIN_FAILURES_PER_IP = env.int("AUTH_LOGIN_FAILURES_PER_IP", default=50)
AUTH_LOGIN_WINDOW_S = env.int("AUTH_LOGIN_WINDOW_S", default=15 * 60)
AUTH_PASSWORD_RESETS_PER_EMAIL = env.int("AUTH_PASSWORD_RESETS_PER_EMAIL", default=3)
AUTH_PASSWORD_RESETS_PER_IP = env.int("AUTH_PASSWORD_RESETS_PER_IP", default=20)
AUTH_PASSWORD_RESET_WINDOW_S = env.int("AUTH_PASSWORD_RESET_WINDOW_S", default=3600)
AUTH_SIGNUPS_PER_IP = env.int("AUTH_SIGNUPS_PER_IP", default=10)
AUTH_SIGNUP_WINDOW_S = env.int("AUTH_SIGNUP_WINDOW_S", default=3600)
# Addresses or networks of the reverse proxies in front of this server (e.g. 10.0.0.0/8):
# a request from one of them is counted for the client its X-Forwarded-For names (the
# right-most address that is not a trusted proxy). Empty: the header is ignored.
TRUSTED_PROXIES = [p.strip() for p in env.list("TRUSTED_PROXIES", default=[]) if p.strip()]
for _proxy in TRUSTED_PROXIES:
    try:
        ipaddress.ip_network(_proxy, strict=False)
    except ValueError as _error:
        raise ImproperlyConfigured(f"TRUSTED_PROXIES: {_error}") from None

# --- OCR ---------------------------------------------------------------------------
OCR_DEFAULT_MODEL = env.str("OCR_DEFAULT_MODEL", default="local/rapidocr")
# Model names the five services' own clients and docs send, answered by another model
# when no enabled provider serves the name itself, so those clients work unchanged.
# `name=target` pairs; set OCR_MODEL_ALIASES= (empty) to turn them off.
OCR_MODEL_ALIASES = dict(
    pair.split("=", 1)
    for pair in env.list(
        "OCR_MODEL_ALIASES",
        default=[
            "mistral-ocr-latest=local/rapidocr",
            "mistral-ocr-2505=local/rapidocr",
            "mistral-ocr-2512=local/rapidocr",
            "mistral-ocr-4-1=local/rapidocr",
            "cloudflare/ai-to-markdown=local/rapidocr",
            "google/gemini-2.0-flash-001=local/rapidocr",
            "google/gemini-2.0-flash=local/rapidocr",
            "openai/gpt-4o=local/rapidocr",
            "alpha-digit-max=local/rapidocr",
        ],
    )
    if "=" in pair
)
OCR_MAX_PAGES = env.int("OCR_MAX_PAGES", default=1000)
OCR_MAX_IMAGE_PIXELS = env.int("OCR_MAX_IMAGE_PIXELS", default=60_000_000)
OCR_RENDER_DPI = env.int("OCR_RENDER_DPI", default=200)
OCR_PAGE_TIMEOUT_S = env.float("OCR_PAGE_TIMEOUT_S", default=60.0)
# A page not started after this long behind other documents' pages: 503 engine_busy.
OCR_QUEUE_TIMEOUT_S = env.float("OCR_QUEUE_TIMEOUT_S", default=120.0)
OCR_WORKERS = env.int("OCR_WORKERS", default=1)
OCR_THREADS = env.int("OCR_THREADS", default=2)
# Files uploaded with POST /v1/files (Mistral's files API), per organization.
OCR_FILES_QUOTA_BYTES = env.int("OCR_FILES_QUOTA_BYTES", default=1024 * 1024 * 1024)
OCR_004_MAX_BYTES = env.int("OCR_004_MAX_BYTES", default=100 * 1024 * 1024)
PDF_ENGINE = env.str("PDF_ENGINE", default="pdf-text")
FETCH_MAX_BYTES = env.int("FETCH_MAX_BYTES", default=100 * 1024 * 1024)
FETCH_TIMEOUT_S = env.float("FETCH_TIMEOUT_S", default=20.0)
# Tests point the URL fetcher at their own 127.0.0.1 server; never set in production.
FETCH_ALLOW_PRIVATE = env.bool("FETCH_ALLOW_PRIVATE", default=False)
# Hosts an operator trusts although they resolve to private or loopback addresses (an
# intranet file server, a local test server): `host` or `host:port`, comma-separated.
FETCH_ALLOWED_HOSTS = [h.strip().lower() for h in env.list("FETCH_ALLOWED_HOSTS", default=[])]
# Upstream providers: retries of transient failures (timeouts, connection errors, 429,
# 5xx) with exponential backoff, then a cool-down for a provider that keeps failing.
OCR_PROVIDER_RETRIES = env.int("OCR_PROVIDER_RETRIES", default=2)
OCR_PROVIDER_BACKOFF_S = env.float("OCR_PROVIDER_BACKOFF_S", default=0.25)
OCR_PROVIDER_FAILURE_THRESHOLD = env.int("OCR_PROVIDER_FAILURE_THRESHOLD", default=3)
OCR_PROVIDER_FAILURE_WINDOW_S = env.int("OCR_PROVIDER_FAILURE_WINDOW_S", default=60)
OCR_PROVIDER_COOLDOWN_S = env.int("OCR_PROVIDER_COOLDOWN_S", default=30)
OCR_PROVIDER_PAGE_CONCURRENCY = env.int("OCR_PROVIDER_PAGE_CONCURRENCY", default=4)
# A request's whole time for upstream calls, retries and failover included; each try's
# timeout is cut to what is left (docs/providers.md, Failures).
OCR_UPSTREAM_BUDGET_S = env.float("OCR_UPSTREAM_BUDGET_S", default=120.0)
# Each worker reads the provider list and fee policies at most this many seconds old
# (0: every request).
OCR_PROVIDER_CACHE_S = env.float("OCR_PROVIDER_CACHE_S", default=2.0)
OCR_PROVIDER_HEALTH_CACHE_S = env.float("OCR_PROVIDER_HEALTH_CACHE_S", default=1.0)

# --- Billing and limits ------------------------------------------------------------
DEFAULT_RATE_LIMIT_RPM = env.int("DEFAULT_RATE_LIMIT_RPM", default=600)
# Requests one key may have in flight when neither key nor tenant says: high enough that
# a burst of concurrent clients meets the credit and per-minute limits first.
DEFAULT_MAX_IN_FLIGHT = env.int("DEFAULT_MAX_IN_FLIGHT", default=64)
RESERVATION_TIMEOUT_S = env.int("RESERVATION_TIMEOUT_S", default=900)
# Each gunicorn worker releases reservations older than RESERVATION_TIMEOUT_S (left by a
# worker that died mid-request) this often, jittered (billing/sweeper.py); 0 turns it off
# (then run `manage.py sweep_reservations` from cron).
RESERVATION_SWEEP_INTERVAL_S = env.float("RESERVATION_SWEEP_INTERVAL_S", default=60.0)
if not 0 <= RESERVATION_SWEEP_INTERVAL_S <= 24 * 3600:
    raise ImproperlyConfigured("RESERVATION_SWEEP_INTERVAL_S must be from 0 (off) to 86400")
# An in-flight slot lapses after this long if a crashed worker never freed it.
RATE_LIMIT_SLOT_TTL_S = env.int("RATE_LIMIT_SLOT_TTL_S", default=300)
# Off (default): settlements (charges) commit without waiting for the WAL fsync on
# PostgreSQL. The fsync happens while the account's row lock is held, so waiting for it
# serialises a tenant's requests (59% vs 71% of direct throughput at c=32 in
# bench/gateway.py). A database crash may forget the charges of its last ~200 ms, each
# as a whole transaction: the ledger stays consistent. See docs/billing.md.
BILLING_SYNCHRONOUS_CHARGES = env.bool("BILLING_SYNCHRONOUS_CHARGES", default=False)

STRIPE_SECRET_KEY = env.str("STRIPE_SECRET_KEY", default="")
STRIPE_WEBHOOK_SECRET = env.str("STRIPE_WEBHOOK_SECRET", default="")
STRIPE_API_BASE = env.str("STRIPE_API_BASE", default="")
STRIPE_MIN_TOPUP_USD = env.int("STRIPE_MIN_TOPUP_USD", default=5)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["keys.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
    "EXCEPTION_HANDLER": "config.api.exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # Non-ASCII as \u escapes: a lone surrogate a client sent and an answer echoes
    # (a model name, annotation text) cannot be encoded as UTF-8 and was a 500.
    "UNICODE_JSON": False,
    "DEFAULT_PARSER_CLASSES": [
        "config.parsers.SafeJSONParser",
        "rest_framework.parsers.MultiPartParser",
        "rest_framework.parsers.FormParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "OCR Gateway API",
    "DESCRIPTION": "Multi-tenant OCR API speaking five OCR dialects, with credits and keys.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Request and response components apart, so multipart file fields are documented as
    # binary uploads (one component for both made them `format: uri` strings).
    "COMPONENT_SPLIT_REQUEST": True,
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="WARNING")},
}
