"""One class per environment. The environment is read when a class is instantiated, never at import.

Every variable the service reads is listed once, here (a boolean is 1/0, true/false, yes/no or
on/off, any case; anything else refuses to start, naming the variable: parse_bool):

| variable | default | meaning |
|---|---|---|
| MAJLIS_ENV | development | development, production or testing |
| SECRET_KEY | dev: random, kept in instance/secret_key | signs sessions, derives HMAC keys (emails, IPs, avatars) |
| DATABASE_URL | sqlite:///<instance>/majlis.db | SQLAlchemy URL; postgres:// is accepted and means psycopg 3 |
| RATELIMIT_STORAGE_URI | sqlite:///<instance>/ratelimits.db | rate limits, one file per host; redis://… across hosts |
| MAJLIS_RATELIMIT_TIMEOUT | 0.25 | seconds a call to the rate-limit store may take before limits count per process |
| MAJLIS_POST_RATE_LIMIT | 5 per minute;60 per hour | limit on comment submissions per client IP |
| MAJLIS_REPORT_RATE_LIMIT | 10 per minute;100 per day | limit on reader reports per client IP |
| MAJLIS_RATELIMIT_ENABLED | true | turn all rate limits off (benchmarks, trusted back ends) |
| MAJLIS_IDEMPOTENCY_PURGE_SECONDS | 60 | how often a process purges expired Idempotency-Key records (0: always) |
| MAJLIS_MAX_BODY_BYTES | 65536 | requests above this size get 413 |
| MAJLIS_TRUSTED_PROXIES | 0 | hops of X-Forwarded-For to trust (ProxyFix); 0 ignores the header |
| MAJLIS_READ_MAX_AGE | 5 | seconds a public thread read may be cached (Cache-Control) |
| MAJLIS_DEMO_KEY_FILE | instance/demo-api-key | where `flask demo` keeps the demo site's API key (development) |
| MAJLIS_CACHE_SIZE | 2048 | serialised thread pages kept per process |
| MAJLIS_READ_MEMO_SECONDS | 1 | a process reuses a thread page this long before probing its version (0: always) |
| MAJLIS_LOGIN_RATE_LIMIT | 10 per minute;100 per day | failed dashboard sign-ins allowed per client IP |
| MAJLIS_LOGIN_ACCOUNT_RATE_LIMIT | 5 per 15 minutes;50 per day | failed sign-ins per account from unknown browsers |
| MAJLIS_LOGIN_DEVICE_RATE_LIMIT | 5 per 15 minutes;50 per day | failed sign-ins per known browser (device cookie) |
| MAJLIS_DEVICE_COOKIE_DAYS | 90 | a browser stays known to an account this long after its last sign-in |
| MAJLIS_HSTS_SECONDS | production 31536000, else 0 | HSTS max-age (includeSubDomains); 0 sends none |
| MAJLIS_SESSION_HOURS | 12 | a dashboard sign-in lasts this long (and so does its CSRF token) |
| MAJLIS_CLAIM_LEASE_SECONDS | 600 | how long items a moderator has open stay theirs before others may take them |
| MAJLIS_DEMO_MODERATOR_FILE | instance/demo-moderator | where `flask demo` keeps the demo moderator's password |
| MAJLIS_LOG_FORMAT | production: json, development: text | `json` lines with an access line per request, or `text` |
| MAJLIS_LOG_LEVEL | INFO | level of the service's log lines (access lines are INFO) |
| MAJLIS_METRICS_TOKEN | unset | set: `GET /metrics` needs `Authorization: Bearer <token>`, else 401 |
| MAJLIS_METRICS_PUBLIC | production: false, else true | no token: `/metrics` open to anyone (true) or 404 (false) |
| MAJLIS_JOBS_URL | sqlite:///<instance>/jobs.db | job queue (huey): sqlite:///file (one host), redis://… (several) |
| MAJLIS_JOBS_TIMEOUT | 0.25 | seconds a web process's call to the job queue may take (no retries) |
| MAJLIS_WORKER_THREADS | 4 | jobs one `flask worker` runs at once (each a thread; webhook calls wait on the network) |
| MAJLIS_WEBHOOK_ALLOW_PRIVATE | production: false, else true | webhooks may go to private and loopback addresses |
| MAJLIS_WEBHOOK_TIMEOUT | 5 | seconds a webhook receiver has to answer (connecting and reading, in all) |
| MAJLIS_WEBHOOK_RETRY_SECONDS | 5,30,120,600,1800,3600,10800 | waits between a webhook's 8 attempts (4.5 h) |
| MAJLIS_SMTP_URL | unset | smtp://, smtp+starttls:// or smtps://user:pass@host:port; unset: .eml files |
| MAJLIS_MAIL_FROM | Majlis <majlis@localhost> | the From of every notice (its domain names Message-IDs) |
| MAJLIS_MAIL_DIR | <instance>/outbox | where messages are written without MAJLIS_SMTP_URL |
| MAJLIS_MAIL_RETRY_SECONDS | 60,300,900,3600,10800 | waits between a notice's 6 attempts (4.3 h) |
| MAJLIS_PUBLIC_URL | http://127.0.0.1:5000 | the service's address in emails' links (https in production) |
| PROMETHEUS_MULTIPROC_DIR | <stack or instance dir>/metrics/<bind> | workers keep metrics there for a scrape to sum |

Read by deploy/gunicorn.conf.py and deploy/stack.sh (the production stack, README "Production"):

| variable | default | meaning |
|---|---|---|
| MAJLIS_BIND | 127.0.0.1:8000 | gunicorn's address (stack.sh binds its socket, make run 127.0.0.1:$PORT) |
| WEB_CONCURRENCY | 2 | gunicorn sync workers (about 2 x cores + 1 behind nginx) |
| MAJLIS_WORKER_TIMEOUT | 30 | seconds before gunicorn replaces a silent worker |
| MAJLIS_ACCESS_LOG | - (stderr); JSON logs: off | gunicorn's access log file; empty: off (JSON logs: the app's lines) |
| MAJLIS_PRELOAD | 1 | load the app once in the master and fork the workers from it (0: load it in each worker) |
| MAJLIS_STACK_DIR | instance/stack | stack.sh: rendered nginx.conf, pid files, logs, temp files, socket |
| MAJLIS_LISTEN | 127.0.0.1:8080 | stack.sh: nginx's listen address |
| MAJLIS_GUNICORN, MAJLIS_NGINX | .venv/bin/gunicorn, nginx | stack.sh: the binaries |
"""
from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path

INSTANCE_DIR = Path(__file__).resolve().parent.parent / "instance"


_TRUE, _FALSE = frozenset({"1", "true", "yes", "on"}), frozenset({"0", "false", "no", "off"})


def parse_bool(name: str, value: str | None, default: bool) -> bool:
    """A boolean variable: 1/true/yes/on or 0/false/no/off (any case); unset or empty: `default`.
    Anything else refuses to start, naming the variable: a typo must not quietly turn a setting
    off (MAJLIS_RATELIMIT_ENABLED=ture read as false would lift every rate limit)."""
    word = (value or "").strip().lower()
    if not word:
        return default
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise RuntimeError(f"{name} must be true or false (1/0, yes/no, on/off), not {value!r}")


def parse_waits(name: str, value: str) -> tuple[float, ...]:
    """Seconds separated by commas (retry waits); anything else refuses to start, naming the variable."""
    try:
        return tuple(float(part) for part in value.split(",") if part.strip())
    except ValueError:
        raise RuntimeError(f"{name} must be seconds, comma-separated: {value!r}") from None


def normalise_database_url(url: str) -> str:
    """Accept postgres:// and postgresql:// URLs and make them use psycopg 3."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


class Config:
    """Settings shared by every environment."""

    ENV_NAME = "base"
    DEFAULT_LOG_FORMAT = "text"
    DEFAULT_PUBLIC_URL = "http://127.0.0.1:5000"
    HSTS_SECONDS = 0  # the default of MAJLIS_HSTS_SECONDS; production sends HSTS for a year

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self.SECRET_KEY = env.get("SECRET_KEY") or self._default_secret()
        url = env.get("DATABASE_URL") or self._default_database_url()
        self.SQLALCHEMY_DATABASE_URI = normalise_database_url(url)
        # hide_parameters keeps emails and bodies out of SQL error messages and logs. pool_pre_ping
        # (a SELECT 1 per checkout) replaces a server connection that died idle in the pool; a
        # SQLite connection is a file handle, with nothing to lose.
        self.SQLALCHEMY_ENGINE_OPTIONS = {"hide_parameters": True}
        if not self.SQLALCHEMY_DATABASE_URI.startswith("sqlite"):
            self.SQLALCHEMY_ENGINE_OPTIONS["pool_pre_ping"] = True
        self.RATELIMIT_STORAGE_URI = env.get("RATELIMIT_STORAGE_URI") or self._default_ratelimit_uri()
        # A failing store never fails a request: limits are then counted per process (ratelimit.py).
        self.MAJLIS_RATELIMIT_TIMEOUT = float(env.get("MAJLIS_RATELIMIT_TIMEOUT", "0.25"))
        self.RATELIMIT_ENABLED = parse_bool("MAJLIS_RATELIMIT_ENABLED", env.get("MAJLIS_RATELIMIT_ENABLED"), True)
        # Headers would put Retry-After on every answer; errors.py sets it on 429s only.
        self.RATELIMIT_HEADERS_ENABLED = False
        self.RATELIMIT_STRATEGY = "moving-window"
        self.MAJLIS_POST_RATE_LIMIT = env.get("MAJLIS_POST_RATE_LIMIT", "5 per minute;60 per hour")
        self.MAJLIS_REPORT_RATE_LIMIT = env.get("MAJLIS_REPORT_RATE_LIMIT", "10 per minute;100 per day")
        self.MAX_CONTENT_LENGTH = int(env.get("MAJLIS_MAX_BODY_BYTES", "65536"))
        self.MAJLIS_IDEMPOTENCY_PURGE_SECONDS = float(env.get("MAJLIS_IDEMPOTENCY_PURGE_SECONDS", "60"))
        self.MAJLIS_TRUSTED_PROXIES = int(env.get("MAJLIS_TRUSTED_PROXIES", "0"))
        self.MAJLIS_READ_MAX_AGE = int(env.get("MAJLIS_READ_MAX_AGE", "5"))
        self.MAJLIS_DEMO_KEY_FILE = env.get("MAJLIS_DEMO_KEY_FILE", str(INSTANCE_DIR / "demo-api-key"))
        self.MAJLIS_CACHE_SIZE = int(env.get("MAJLIS_CACHE_SIZE", "2048"))
        self.MAJLIS_READ_MEMO_SECONDS = float(env.get("MAJLIS_READ_MEMO_SECONDS", "1"))
        self.JSON_SORT_KEYS = False
        # Dashboard sign-in: throttled per IP and per account; the session cookie is HttpOnly and
        # SameSite=Lax everywhere, Secure outside development and testing (plain http locally).
        self.MAJLIS_LOGIN_RATE_LIMIT = env.get("MAJLIS_LOGIN_RATE_LIMIT", "10 per minute;100 per day")
        self.MAJLIS_LOGIN_ACCOUNT_RATE_LIMIT = env.get("MAJLIS_LOGIN_ACCOUNT_RATE_LIMIT", "5 per 15 minutes;50 per day")
        self.MAJLIS_LOGIN_DEVICE_RATE_LIMIT = env.get("MAJLIS_LOGIN_DEVICE_RATE_LIMIT", "5 per 15 minutes;50 per day")
        self.MAJLIS_DEVICE_COOKIE_DAYS = float(env.get("MAJLIS_DEVICE_COOKIE_DAYS", "90"))
        self.MAJLIS_HSTS_SECONDS = int(env.get("MAJLIS_HSTS_SECONDS", str(self.HSTS_SECONDS)))
        self.PERMANENT_SESSION_LIFETIME = timedelta(hours=float(env.get("MAJLIS_SESSION_HOURS", "12")))
        self.SESSION_COOKIE_NAME = "majlis_session"
        self.SESSION_COOKIE_HTTPONLY = True
        self.SESSION_COOKIE_SAMESITE = "Lax"
        self.SESSION_COOKIE_SECURE = self.ENV_NAME not in ("development", "testing")
        # CSRF (Flask-WTF) is checked by the dashboard blueprint only: the API's writes are JSON
        # with a site key or CORS-checked, and need no token. The token lives as long as the session.
        self.WTF_CSRF_CHECK_DEFAULT = False
        self.WTF_CSRF_TIME_LIMIT = None
        self.MAJLIS_CLAIM_LEASE_SECONDS = int(env.get("MAJLIS_CLAIM_LEASE_SECONDS", "600"))
        self.MAJLIS_DEMO_MODERATOR_FILE = env.get("MAJLIS_DEMO_MODERATOR_FILE", str(INSTANCE_DIR / "demo-moderator"))
        # Logs (comment_service/logs.py) and metrics (comment_service/metrics.py); see README "Operating it".
        # Tests leave MAJLIS_LOG_FORMAT unset (""): logging is left alone and pytest's caplog sees the records.
        self.MAJLIS_LOG_FORMAT = env.get("MAJLIS_LOG_FORMAT") or self.DEFAULT_LOG_FORMAT
        if self.MAJLIS_LOG_FORMAT not in ("json", "text", ""):
            raise RuntimeError(f"MAJLIS_LOG_FORMAT must be json or text, not {self.MAJLIS_LOG_FORMAT!r}")
        self.MAJLIS_LOG_LEVEL = env.get("MAJLIS_LOG_LEVEL", "INFO").upper()
        self.MAJLIS_METRICS_TOKEN = env.get("MAJLIS_METRICS_TOKEN", "")
        # Jobs (comment_service/jobs.py) and webhooks (services/webhooks.py).
        self.MAJLIS_JOBS_URL = env.get("MAJLIS_JOBS_URL") or self._default_jobs_url()
        self.MAJLIS_JOBS_TIMEOUT = float(env.get("MAJLIS_JOBS_TIMEOUT", "0.25"))
        self.MAJLIS_WORKER_THREADS = int(env.get("MAJLIS_WORKER_THREADS", "4"))
        self.MAJLIS_WEBHOOK_ALLOW_PRIVATE = parse_bool(
            "MAJLIS_WEBHOOK_ALLOW_PRIVATE", env.get("MAJLIS_WEBHOOK_ALLOW_PRIVATE"), self.ENV_NAME != "production")
        self.MAJLIS_WEBHOOK_TIMEOUT = float(env.get("MAJLIS_WEBHOOK_TIMEOUT", "5"))
        self.MAJLIS_WEBHOOK_RETRY_SECONDS = parse_waits(
            "MAJLIS_WEBHOOK_RETRY_SECONDS", env.get("MAJLIS_WEBHOOK_RETRY_SECONDS", "5,30,120,600,1800,3600,10800"))
        # Mail (comment_service/mail.py): notices to moderators.
        self.MAJLIS_SMTP_URL = env.get("MAJLIS_SMTP_URL") or None
        if self.MAJLIS_SMTP_URL:
            from comment_service.mail import SmtpServer

            try:
                SmtpServer.parse(self.MAJLIS_SMTP_URL)
            except ValueError as err:
                raise RuntimeError(str(err)) from None
        self.MAJLIS_MAIL_FROM = env.get("MAJLIS_MAIL_FROM", "Majlis <majlis@localhost>")
        self.MAJLIS_MAIL_DIR = env.get("MAJLIS_MAIL_DIR", str(INSTANCE_DIR / "outbox"))
        self.MAJLIS_MAIL_RETRY_SECONDS = parse_waits(
            "MAJLIS_MAIL_RETRY_SECONDS", env.get("MAJLIS_MAIL_RETRY_SECONDS", "60,300,900,3600,10800"))
        self.MAJLIS_PUBLIC_URL = (env.get("MAJLIS_PUBLIC_URL") or self.DEFAULT_PUBLIC_URL).rstrip("/")
        self.MAJLIS_METRICS_PUBLIC = parse_bool("MAJLIS_METRICS_PUBLIC", env.get("MAJLIS_METRICS_PUBLIC"),
                                                self.ENV_NAME != "production")

    def _default_secret(self) -> str:
        raise RuntimeError("SECRET_KEY must be set")

    def _default_ratelimit_uri(self) -> str:
        # One file per host, shared by its worker processes (memory:// would count per worker).
        return f"sqlite:///{INSTANCE_DIR / 'ratelimits.db'}"

    def _default_database_url(self) -> str:
        raise RuntimeError("DATABASE_URL must be set")

    def _default_jobs_url(self) -> str:
        # One file per host, like the rate limits; its workers and web processes share it.
        return f"sqlite:///{INSTANCE_DIR / 'jobs.db'}"


class DevelopmentConfig(Config):
    """Local use: SQLite in instance/, a secret generated once and kept beside it."""

    ENV_NAME = "development"

    def _default_secret(self) -> str:
        INSTANCE_DIR.mkdir(exist_ok=True)
        path = INSTANCE_DIR / "secret_key"
        if not path.exists():
            path.write_text(secrets.token_hex(32))
            path.chmod(0o600)
        return path.read_text().strip()

    def _default_database_url(self) -> str:
        INSTANCE_DIR.mkdir(exist_ok=True)
        return f"sqlite:///{INSTANCE_DIR / 'majlis.db'}"


class ProductionConfig(Config):
    """Production refuses to start without SECRET_KEY and DATABASE_URL (the base class raises)."""

    ENV_NAME = "production"
    DEFAULT_LOG_FORMAT = "json"
    HSTS_SECONDS = 365 * 24 * 3600

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        super().__init__(environ)
        if len(self.SECRET_KEY) < 32:
            raise RuntimeError("SECRET_KEY must be at least 32 characters in production")
        if self.MAJLIS_SMTP_URL and not self.MAJLIS_PUBLIC_URL.startswith("https://"):
            raise RuntimeError("MAJLIS_PUBLIC_URL must be the service's https:// address when MAJLIS_SMTP_URL is set "
                               "(every email's links point there)")
        self.SESSION_COOKIE_SECURE = True


class TestingConfig(Config):
    """Tests: TEST_DATABASE_URL or in-memory SQLite, a fixed key, no rate limits unless a test asks."""

    ENV_NAME = "testing"
    DEFAULT_LOG_FORMAT = ""  # logging is left alone, so pytest's caplog sees the records

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = dict(os.environ if environ is None else environ)
        env.setdefault("MAJLIS_RATELIMIT_ENABLED", "false")
        env.setdefault("RATELIMIT_STORAGE_URI", "memory://")
        env.setdefault("MAJLIS_IDEMPOTENCY_PURGE_SECONDS", "0")  # purge on every keyed post (tests see it at once)
        # The suite must never touch a development or production database, nor its demo key.
        env["DATABASE_URL"] = env.get("TEST_DATABASE_URL") or "sqlite://"
        env["MAJLIS_DEMO_KEY_FILE"] = str(Path(tempfile.gettempdir()) / f"majlis-test-demo-key-{os.getpid()}")
        env["MAJLIS_DEMO_MODERATOR_FILE"] = str(Path(tempfile.gettempdir()) / f"majlis-test-demo-mod-{os.getpid()}")
        env.setdefault("MAJLIS_MAIL_DIR", str(Path(tempfile.gettempdir()) / f"majlis-test-outbox-{os.getpid()}"))
        super().__init__(env)
        self.TESTING = True

    def _default_secret(self) -> str:
        return "testing-secret-key-not-for-production-0000"

    def _default_jobs_url(self) -> str:
        return "memory://"  # each app its own queue; tests run its jobs (tests/jobs.py) or a worker


_CLASSES = {c.ENV_NAME: c for c in (DevelopmentConfig, ProductionConfig, TestingConfig)}


def config_for(name: str | None = None) -> Config:
    """Build the settings for MAJLIS_ENV (or the given name)."""
    name = name or os.environ.get("MAJLIS_ENV", "development")
    try:
        return _CLASSES[name]()
    except KeyError:
        raise RuntimeError(f"MAJLIS_ENV must be one of {sorted(_CLASSES)}, not {name!r}") from None


def log_format(environ: Mapping[str, str] | None = None) -> str:
    """MAJLIS_LOG_FORMAT as the app of this environment reads it (deploy/gunicorn.conf.py asks too)."""
    env = os.environ if environ is None else environ
    cls = _CLASSES.get(env.get("MAJLIS_ENV", "development"), DevelopmentConfig)
    return env.get("MAJLIS_LOG_FORMAT") or cls.DEFAULT_LOG_FORMAT
