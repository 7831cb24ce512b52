"""Soro's one settings module.

Everything that differs between a school's single machine and a district deployment comes
from environment variables read through the typed helpers in ``soro_web.env``. With no
variables set, Soro runs on embedded defaults: SQLite (WAL) under ``var/``, a Celery
transport kept in files under ``var/broker`` (no broker server) and the in-process model.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from soro_web.env import (
    env_bool,
    env_float,
    env_int,
    env_list,
    env_path,
    env_str,
    env_url,
    secret_key_from_env_or_file,
)
from soro_web.languages import Language

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("SORO_VAR_DIR", str(BASE_DIR / "var")) or BASE_DIR / "var").resolve()

# Offline is the default: nothing may reach for weights or data on the internet at run time.
# SORO_ALLOW_DOWNLOADS=1 is the documented switch for installs that are online.
SORO_ALLOW_DOWNLOADS = env_bool("SORO_ALLOW_DOWNLOADS", False)
if not SORO_ALLOW_DOWNLOADS:
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ["HF_DATASETS_OFFLINE"] = "1"

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = secret_key_from_env_or_file(VAR_DIR / "secret_key")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
CSRF_FAILURE_VIEW = "soro_web.views.csrf_failure"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    "axes",
    "ninja",
    "soro_web",
    "soro_web.accounts",
    "soro_web.curriculum",
    "soro_web.lessons",
    "soro_web.grading",
    "tutoring",
    "tutoring.exams",
    "tutoring.tutor",
    "modelops",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "soro_web.middleware.LanguageCookieMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Axes must come last so it sees the outcome of every authentication attempt.
    "axes.middleware.AxesMiddleware",
]

# Content-Security-Policy: only the platform's own scripts, styles, images and connections.
# A script injected through model output or a user's text cannot run, nor send data away.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

ROOT_URLCONF = "soro_web.urls"
WSGI_APPLICATION = "soro_web.wsgi.application"
ASGI_APPLICATION = "soro_web.asgi.application"

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
                "django.template.context_processors.i18n",
                "soro_web.context_processors.navigation",
            ],
            # {% partialdef %} from django-template-partials: the same tag Django 6 ships.
            "builtins": ["template_partials.templatetags.partials"],
        },
    },
]

# --- Database -------------------------------------------------------------------------------

DATABASE_URL = env_url("DATABASE_URL", None, schemes=("postgres", "postgresql", "pgsql", "sqlite"))
# WAL lets the web process read while the worker writes; IMMEDIATE transactions take the
# write lock up front, so two writers wait for each other instead of failing "locked".
SQLITE_OPTIONS = {
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    "transaction_mode": "IMMEDIATE",
    "timeout": 20,
}
if DATABASE_URL:
    DATABASES = {
        "default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)
    }
    if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
        DATABASES["default"]["OPTIONS"] = dict(SQLITE_OPTIONS)
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(VAR_DIR / "soro.sqlite3"),
            "OPTIONS": dict(SQLITE_OPTIONS),
            # Persistent, like PostgreSQL's: opening a connection (and its PRAGMAs) on every
            # request was 9 % of a web process's samples under load (py-spy, docs/benchmarks.md).
            "CONN_MAX_AGE": 60,
            "CONN_HEALTH_CHECKS": True,
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- People ---------------------------------------------------------------------------------

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 8},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "home"

# Wrong passwords lock the (username, address) pair: an attacker elsewhere cannot lock the
# real user out, and a school behind NAT is not locked out because of one pupil. A higher
# per-username ceiling (SORO_LOGIN_USERNAME_CEILING failures from all addresses within the
# cool-off time) locks the username everywhere; a teacher's one-time unlock code
# (SORO_UNLOCK_CODE_MINUTES valid, single use) lets the real user back in.
# Wrong class codes: a signed-in student may get SORO_JOIN_FAILURES_PER_USER wrong in
# SORO_JOIN_FAILURE_WINDOW_MINUTES; an address (a whole school behind NAT) many more.
SORO_JOIN_FAILURES_PER_USER = env_int("SORO_JOIN_FAILURES_PER_USER", 10, minimum=1)
SORO_JOIN_FAILURES_PER_ADDRESS = env_int("SORO_JOIN_FAILURES_PER_ADDRESS", 200, minimum=1)
SORO_JOIN_FAILURE_WINDOW_MINUTES = env_int("SORO_JOIN_FAILURE_WINDOW_MINUTES", 15, minimum=1)

# API bearer tokens expire this many days after they are made (0: never).
SORO_API_TOKEN_DAYS = env_int("SORO_API_TOKEN_DAYS", 90, minimum=0)

AXES_FAILURE_LIMIT = env_int("SORO_LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("SORO_LOGIN_COOLOFF_MINUTES", 15, minimum=1))
SORO_LOGIN_USERNAME_CEILING = env_int("SORO_LOGIN_USERNAME_CEILING", 50, minimum=1)
SORO_UNLOCK_CODE_MINUTES = env_int("SORO_UNLOCK_CODE_MINUTES", 60, minimum=1)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], "username"]
AXES_HANDLER = "soro_web.accounts.lockout.PairAndCeilingHandler"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "soro_web.accounts.lockout.lockout_response"
AXES_VERBOSE = False
AXES_USERNAME_FORM_FIELD = "username"

SORO_JOIN_CODE_DAYS = env_int("SORO_JOIN_CODE_DAYS", 30, minimum=1)

# --- Language -------------------------------------------------------------------------------

LANGUAGE_CODE = "tg"
LANGUAGES = Language.choices
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = env_str("TIME_ZONE", "Asia/Dushanbe")
USE_TZ = True

# --- Static and uploaded files --------------------------------------------------------------

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
MEDIA_URL = "media/"
MEDIA_ROOT = VAR_DIR / "media"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

# --- HTTPS (production) ---------------------------------------------------------------------

SORO_HTTPS = env_bool("SORO_HTTPS", False)
if SORO_HTTPS:
    SECURE_SSL_REDIRECT = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
if env_bool("SORO_BEHIND_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    USE_X_FORWARDED_HOST = True
SESSION_COOKIE_AGE = 60 * 60 * 12
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# --- Jobs -----------------------------------------------------------------------------------

CELERY_BROKER_URL = env_url(
    "CELERY_BROKER_URL",
    "filesystem://",
    schemes=("filesystem", "redis", "rediss", "amqp", "amqps", "pyamqp"),
)
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {}
if CELERY_BROKER_URL and CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "broker"
    for _sub in ("queue", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
# Model evaluation and quantization run on their own queue, so textbook jobs never wait
# behind an hour of scoring (the platform's worker consumes both queues).
# Model jobs (minutes to hours) have a queue of their own, so a long training run never holds
# up textbook ingestion or grading; a district runs dedicated workers for it.
SORO_MODELOPS_QUEUE = env_str("SORO_MODELOPS_QUEUE", "modelops") or "modelops"
# Grading jobs too have their own queue: a class's batch never waits behind a model job, and
# a school can give grading a worker of its own.
SORO_GRADING_QUEUE = env_str("SORO_GRADING_QUEUE", "grading") or "grading"
# Everything else (textbook ingestion, exam sweeps): the default queue. A job recovered by a
# worker's sweep is sent from that worker, so every process must agree on it.
SORO_DEFAULT_QUEUE = env_str("SORO_DEFAULT_QUEUE", "celery") or "celery"
CELERY_TASK_DEFAULT_QUEUE = SORO_DEFAULT_QUEUE
CELERY_TASK_ROUTES = {
    "modelops.*": {"queue": SORO_MODELOPS_QUEUE},
    "grading.*": {"queue": SORO_GRADING_QUEUE},
}
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ALWAYS_EAGER = False
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# run_platform's web server: gunicorn gthread, processes × threads. Chosen for a 2-core school
# server by benchmarks/load.py (figures and reasons: docs/benchmarks.md, "Load").
SORO_WEB_WORKERS = env_int("SORO_WEB_WORKERS", 2, minimum=1, maximum=64)
SORO_WEB_THREADS = env_int("SORO_WEB_THREADS", 4, minimum=1, maximum=256)
SORO_WORKER_CONCURRENCY = env_int("SORO_WORKER_CONCURRENCY", 2, minimum=1, maximum=64)
# Threads keep the heartbeat timer running while a long job holds a slot.
SORO_WORKER_POOL = env_str("SORO_WORKER_POOL", "threads")
if SORO_WORKER_POOL not in {"threads", "prefork", "solo"}:
    raise ImproperlyConfigured(
        f"SORO_WORKER_POOL must be threads, prefork or solo, got {SORO_WORKER_POOL!r}."
    )
# A worker that has not written a heartbeat for this long is reported as down.
SORO_WORKER_HEARTBEAT_SECONDS = env_int("SORO_WORKER_HEARTBEAT_SECONDS", 10, minimum=1)
# Jobs that survive a worker's death (soro_web/jobs.py): a running job renews its heartbeat
# every SORO_JOB_HEARTBEAT_SECONDS; every worker sweeps every SORO_JOB_SWEEP_SECONDS and
# queues again a running job silent for SORO_JOB_STALE_SECONDS, and a queued one sent more
# than SORO_JOB_RESEND_SECONDS ago (its message may have died with a worker).
SORO_JOB_HEARTBEAT_SECONDS = env_float("SORO_JOB_HEARTBEAT_SECONDS", 10.0, minimum=0.1)
SORO_JOB_SWEEP_SECONDS = env_float("SORO_JOB_SWEEP_SECONDS", 30.0, minimum=0.1)
SORO_JOB_STALE_SECONDS = env_float("SORO_JOB_STALE_SECONDS", 60.0, minimum=0.5)
SORO_JOB_RESEND_SECONDS = env_float("SORO_JOB_RESEND_SECONDS", 600.0, minimum=1.0)
if SORO_JOB_STALE_SECONDS <= 2 * SORO_JOB_HEARTBEAT_SECONDS:
    raise ImproperlyConfigured(
        "SORO_JOB_STALE_SECONDS must be more than twice SORO_JOB_HEARTBEAT_SECONDS, or live "
        "jobs would be taken for dead ones."
    )

# --- Language model -------------------------------------------------------------------------

SORO_LLM_URL = env_url("SORO_LLM_URL", None, schemes=("http", "https"))
SORO_LLM_MODEL = env_str("SORO_LLM_MODEL", None)
SORO_LLM_TIMEOUT = env_float("SORO_LLM_TIMEOUT", 120.0, minimum=1.0)
SORO_LLM_MAX_WAITING = env_int("SORO_LLM_MAX_WAITING", 4, minimum=0)

# --- Grading --------------------------------------------------------------------------------

# Each open answer is scored this many times by the model; the agreement between the samples
# decides whether the teacher must look at it (below SORO_GRADING_MIN_AGREEMENT: review).
SORO_GRADING_SAMPLES = env_int("SORO_GRADING_SAMPLES", 3, minimum=1, maximum=10)
SORO_GRADING_MIN_AGREEMENT = env_float("SORO_GRADING_MIN_AGREEMENT", 0.67, minimum=0.0)
# Answers graded per transaction (progress is written after each chunk).
SORO_GRADING_CHUNK = env_int("SORO_GRADING_CHUNK", 20, minimum=1, maximum=10000)
# Two answers to one question whose word-shingle Jaccard similarity reaches this are flagged
# as copied.
SORO_GRADING_COPY_SIMILARITY = env_float("SORO_GRADING_COPY_SIMILARITY", 0.6, minimum=0.0)
SORO_GRADING_MAX_NEW_TOKENS = env_int("SORO_GRADING_MAX_NEW_TOKENS", 160, minimum=8)
SORO_MODELS_DIR = Path(env_str("SORO_MODELS_DIR", str(VAR_DIR / "models")) or "").resolve()
# Tajik prose (Markdown or text files) that calibrates quantization and measures tokenizer
# fertility: by default the demo textbooks shipped with the platform.
SORO_TAJIK_TEXT_DIR = Path(
    env_str("SORO_TAJIK_TEXT_DIR", str(BASE_DIR / "tutoring" / "data" / "textbooks")) or ""
).resolve()

# --- Evaluation and the promotion gate ------------------------------------------------------

# Benchmarks an administrator puts on disk (JSONL files or datasets directories), found by name.
SORO_BENCHMARKS_DIR = Path(
    env_str("SORO_BENCHMARKS_DIR", str(VAR_DIR / "benchmarks")) or ""
).resolve()
SORO_GATE_TAJIK_BENCHMARK = env_str("SORO_GATE_TAJIK_BENCHMARK", "tajik_suite") or "tajik_suite"
SORO_GATE_ENGLISH_BENCHMARK = (
    env_str("SORO_GATE_ENGLISH_BENCHMARK", "english_retention") or "english_retention"
)
SORO_GATE_METRIC = env_str("SORO_GATE_METRIC", "acc") or "acc"
if SORO_GATE_METRIC not in {"acc", "acc_norm"}:
    raise ImproperlyConfigured(
        f"SORO_GATE_METRIC must be acc or acc_norm, got {SORO_GATE_METRIC!r}."
    )
# A candidate must keep at least this share of the active version's English score.
SORO_GATE_MIN_ENGLISH_RETENTION = env_float("SORO_GATE_MIN_ENGLISH_RETENTION", 0.95, minimum=0.0)
# The generation suite in the gate: the candidate's replies in SORO_GATE_GENERATION_GROUP
# must be in Tajik at least SORO_GATE_MIN_TAJIK_SHARE of the time and repeat their prompt at
# most SORO_GATE_MAX_ECHO_SHARE. An empty benchmark name leaves the generation suite out.
SORO_GATE_GENERATION_BENCHMARK = env_str("SORO_GATE_GENERATION_BENCHMARK", "generation_suite")
SORO_GATE_GENERATION_GROUP = (
    env_str("SORO_GATE_GENERATION_GROUP", "task:lesson_section") or "task:lesson_section"
)
SORO_GATE_MIN_TAJIK_SHARE = env_float("SORO_GATE_MIN_TAJIK_SHARE", 0.8, minimum=0.0)
SORO_GATE_MAX_ECHO_SHARE = env_float("SORO_GATE_MAX_ECHO_SHARE", 0.05, minimum=0.0)

# --- Corpus building ------------------------------------------------------------------------

# Built corpora (parquet shards in a `datasets` layout + datasheet), one folder per name; an
# unfinished build keeps its resumable work under <corpora>/.work/<name>.
SORO_CORPORA_DIR = env_path("SORO_CORPORA_DIR", VAR_DIR / "corpora")
# Where `make corpus-sources` unpacks the Debian Tajik language packs for the demo corpus.
SORO_CORPUS_SOURCES_DIR = env_path("SORO_CORPUS_SOURCES_DIR", VAR_DIR / "corpus-sources")

# --- Textbook retrieval --------------------------------------------------------------------

SORO_INDEX_DIR = Path(env_str("SORO_INDEX_DIR", str(VAR_DIR / "indexes")) or "").resolve()
SORO_TEXTBOOK_MAX_MB = env_int("SORO_TEXTBOOK_MAX_MB", 50, minimum=1)
# A textbook job that stops with an error of the server's own ("internal", not a damaged
# file) is queued again up to SORO_INGEST_RETRIES times, after SORO_INGEST_RETRY_SECONDS,
# doubling each time.
SORO_INGEST_RETRIES = env_int("SORO_INGEST_RETRIES", 2, minimum=0, maximum=10)
SORO_INGEST_RETRY_SECONDS = env_float("SORO_INGEST_RETRY_SECONDS", 30.0, minimum=0.0)
# Chosen by measurement on the labelled Tajik set (docs/retrieval.md): 512 beat 256 and 384.
SORO_PASSAGE_TOKENS = env_int("SORO_PASSAGE_TOKENS", 512, minimum=32)
SORO_PASSAGE_OVERLAP = env_int("SORO_PASSAGE_OVERLAP", 32, minimum=0)
# "use" (Universal Sentence Encoder multilingual, the best measured on Tajik), "minilm",
# "mean-pool:<checkpoint>", any sentence-transformers name or path, or "none" (BM25 only).
SORO_RETRIEVAL_ENCODER = env_str("SORO_RETRIEVAL_ENCODER", "use") or "use"

# --- The tutor -----------------------------------------------------------------------------

# Messages a student may send the tutor per day (the school's local day).
SORO_TUTOR_DAILY_MESSAGES = env_int("SORO_TUTOR_DAILY_MESSAGES", 40, minimum=1)
# Shown with the fixed, kind reply when a message speaks of self-harm, violence or abuse.
# Administrators set the school's own contacts (psychologist, a help line) here.
SORO_TUTOR_HELP_CONTACTS = (
    env_str(
        "SORO_TUTOR_HELP_CONTACTS",
        "Ёрии таъҷилӣ / Скорая помощь: 103 · Милиса / Милиция: 102",
    )
    or ""
)

# --- Logging --------------------------------------------------------------------------------

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"axes": {"level": "WARNING"}},
}

if not DEBUG and SECRET_KEY.startswith("django-insecure"):
    raise ImproperlyConfigured("SECRET_KEY must not be Django's insecure development key.")
