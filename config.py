"""Configuration read once from the environment.

Development needs no variables at all: a SQLite file and keys generated into ``instance/``.
Production (``APP_ENV=production``) refuses to start without its secrets.
"""

import base64
import json
import os
import secrets
from pathlib import Path

INSTANCE_DIR = Path(os.environ.get("INSTANCE_PATH", Path(__file__).resolve().parent / "instance"))

# PUBLIC_BASE_URL goes into printed check-in codes and certificates' verify links: a placeholder there is permanent.
PRODUCTION_REQUIRED = ("DATABASE_URL", "SECRET_KEY", "JWT_SECRET_KEY", "PII_ENCRYPTION_KEY", "PUBLIC_BASE_URL")


class ConfigError(RuntimeError):
    pass


def _bool(value, default):
    if value is None or value == "":
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def _instance_secret(name, make):
    """A secret generated once per instance and kept in instance/ (development only)."""
    INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
    path = INSTANCE_DIR / name
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(make())
    return path.read_text().strip()


def normalise_database_url(url):
    """Accept plain postgresql:// URLs and drive them with psycopg 3."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _choice(name, value, choices):
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)} (got {value!r})")
    return value


def _count(name, value):
    number = int(value)
    if number < 0:
        raise ConfigError(f"{name} must be 0 or more (got {value!r})")
    return number


def wechat_templates(value):
    """``WECHAT_TEMPLATES``: a JSON object event → {"id", "page", "data": {key: value name}} (a bare template id
    is taken as {"id": ..}); ConfigError when it is not one."""
    try:
        raw = json.loads(value or "{}")
    except ValueError:
        raise ConfigError("WECHAT_TEMPLATES must be a JSON object: event -> {\"id\", \"page\", \"data\"}") from None
    if not isinstance(raw, dict):
        raise ConfigError("WECHAT_TEMPLATES must be a JSON object: event -> {\"id\", \"page\", \"data\"}")
    templates = {}
    for event, template in raw.items():
        template = {"id": template} if isinstance(template, str) else template
        if not isinstance(template, dict) or not isinstance(template.get("id"), str) or not template["id"] \
                or not isinstance(template.get("data") or {}, dict):
            raise ConfigError(f"WECHAT_TEMPLATES[{event!r}] needs an \"id\" (and \"data\" an object)")
        templates[event] = {"id": template["id"], "page": template.get("page"), "data": template.get("data") or {}}
    return templates


def log_format(env):
    """``json`` (one object per line) or ``text``; json by default in production. gunicorn's logger asks too."""
    production = env.get("APP_ENV", "development") == "production"
    return _choice("LOG_FORMAT", env.get("LOG_FORMAT") or ("json" if production else "text"), ("json", "text"))


def load_config(env=None):
    env = dict(os.environ if env is None else env)
    app_env = env.get("APP_ENV", "development")
    production = app_env == "production"
    if production:
        missing = [name for name in PRODUCTION_REQUIRED if not env.get(name)]
        if missing:
            raise ConfigError("APP_ENV=production needs these environment variables: " + ", ".join(missing))

    def secret(name, make):
        return env.get(name) or _instance_secret(name.lower(), make)

    database_url = env.get("DATABASE_URL") or f"sqlite:///{INSTANCE_DIR / 'baodao.sqlite3'}"
    port = int(env.get("PORT") or "5000")
    if database_url.startswith("sqlite:///") and not production:
        INSTANCE_DIR.mkdir(parents=True, exist_ok=True)

    return {
        "APP_ENV": app_env,
        "TESTING": False,
        "SECRET_KEY": secret("SECRET_KEY", lambda: secrets.token_urlsafe(48)),
        "JWT_SECRET_KEY": secret("JWT_SECRET_KEY", lambda: secrets.token_urlsafe(48)),
        "PII_ENCRYPTION_KEY": secret("PII_ENCRYPTION_KEY", lambda: base64.b64encode(secrets.token_bytes(32)).decode()),
        "SQLALCHEMY_DATABASE_URI": normalise_database_url(database_url),
        "WECHAT_APPID": env.get("WECHAT_APPID") or None,
        "WECHAT_SECRET": env.get("WECHAT_SECRET") or None,
        "WECHAT_API_BASE": env.get("WECHAT_API_BASE", "https://api.weixin.qq.com").rstrip("/"),
        "WECHAT_TIMEOUT_SECONDS": float(env.get("WECHAT_TIMEOUT_SECONDS", "5")),
        "WECHAT_REMINDER_TEMPLATE_ID": env.get("WECHAT_REMINDER_TEMPLATE_ID", ""),
        # Subscribe messages per event (services/subscriptions.py); the mini-program codes' page and version.
        "WECHAT_TEMPLATES": wechat_templates(env.get("WECHAT_TEMPLATES")),
        "WECHAT_CHECKIN_PAGE": env.get("WECHAT_CHECKIN_PAGE") or "pages/checkin/index",
        "WECHAT_ENV_VERSION": _choice("WECHAT_ENV_VERSION", env.get("WECHAT_ENV_VERSION") or "release",
                                      ("release", "trial", "develop")),
        "TIMEZONE": env.get("TIMEZONE", "Asia/Shanghai"),
        "SCHEDULER_ENABLED": _bool(env.get("SCHEDULER_ENABLED"), not production),
        "QR_ROTATE_SECONDS": int(env.get("QR_ROTATE_SECONDS", "30")),
        "CHECKIN_DEBOUNCE_SECONDS": int(env.get("CHECKIN_DEBOUNCE_SECONDS", "60")),
        # Check-in token keys rotate by raising the id; ids still listed stay accepted (comma-separated).
        "CHECKIN_KEY_ID": int(env.get("CHECKIN_KEY_ID", "1")),
        "CHECKIN_ACCEPTED_KEY_IDS": [int(k) for k in env.get("CHECKIN_ACCEPTED_KEY_IDS", "").split(",") if k.strip()],
        "NO_SHOW_GRACE_MINUTES": int(env.get("NO_SHOW_GRACE_MINUTES", "30")),
        "SCHEDULER_STANDBY_POLL_SECONDS": float(env.get("SCHEDULER_STANDBY_POLL_SECONDS", "10")),
        "SCHEDULER_MISFIRE_GRACE_SECONDS": int(env.get("SCHEDULER_MISFIRE_GRACE_SECONDS", "300")),
        # Official holiday arrangements for years the chinese_calendar library does not know yet (services/holidays.py).
        "HOLIDAY_CALENDAR_FILE": env.get("HOLIDAY_CALENDAR_FILE") or None,
        # Appeals (居民诉求): hours after submission within which the community must accept or reject one.
        "APPEAL_RESPONSE_HOURS": int(env.get("APPEAL_RESPONSE_HOURS", "24")),
        # Photos: a folder under instance/ unless an S3-compatible bucket is named; signed links' lifetime.
        "UPLOAD_FOLDER": env.get("UPLOAD_FOLDER") or str(INSTANCE_DIR / "uploads"),
        "UPLOAD_S3_BUCKET": env.get("UPLOAD_S3_BUCKET") or None,
        "UPLOAD_S3_ENDPOINT": env.get("UPLOAD_S3_ENDPOINT") or None,
        "UPLOAD_S3_REGION": env.get("UPLOAD_S3_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1",
        "AWS_ACCESS_KEY_ID": env.get("AWS_ACCESS_KEY_ID") or None,
        "AWS_SECRET_ACCESS_KEY": env.get("AWS_SECRET_ACCESS_KEY") or None,
        "UPLOAD_URL_SECONDS": int(env.get("UPLOAD_URL_SECONDS", "3600")),
        # WeChat's message push (media check verdicts): the token its signatures are made with.
        "WECHAT_PUSH_TOKEN": env.get("WECHAT_PUSH_TOKEN") or None,
        "REDIS_URL": env.get("REDIS_URL") or None,
        # Development: links on codes, certificates and screens point at the development server itself.
        "PUBLIC_BASE_URL": (env.get("PUBLIC_BASE_URL") or f"http://localhost:{port}").rstrip("/"),
        "PORT": port,
        # How many reverse proxies (nginx, a load balancer) stand in front and append to X-Forwarded-For: the client
        # address is read that many entries from its end, so an address a client wrote itself is never believed.
        "TRUSTED_PROXY_COUNT": _count("TRUSTED_PROXY_COUNT", env.get("TRUSTED_PROXY_COUNT") or "0"),
        # Distinguishes this deployment's rate-limit keys in a Redis that others share.
        "RATELIMIT_KEY_PREFIX": env.get("RATELIMIT_KEY_PREFIX", "baodao"),
        "LOG_FORMAT": log_format(env),
        "LOG_LEVEL": _choice("LOG_LEVEL", (env.get("LOG_LEVEL") or "INFO").upper(),
                             ("DEBUG", "INFO", "WARNING", "ERROR")),
        # /metrics answers a request bearing this token, or one from the loopback (telemetry/metrics.py).
        "METRICS_TOKEN": env.get("METRICS_TOKEN") or None,
        # prometheus_client reads this variable itself, when it is imported: set, every process writes its metrics
        # to files there and /metrics adds them up (gunicorn's workers, the scheduler on the same machine).
        "PROMETHEUS_MULTIPROC_DIR": env.get("PROMETHEUS_MULTIPROC_DIR") or None,
        "SENTRY_DSN": env.get("SENTRY_DSN") or None,
        "JWT_ACCESS_MINUTES": int(env.get("JWT_ACCESS_MINUTES", "30")),
        "JWT_REFRESH_DAYS": int(env.get("JWT_REFRESH_DAYS", "30")),
        "LOGIN_FAILURE_LIMIT": env.get("LOGIN_FAILURE_LIMIT", "10 per 15 minutes"),
        # The console's session cookie (console/): Secure when set, by default when the public address is HTTPS.
        "SESSION_COOKIE_SECURE": _bool(env.get("SESSION_COOKIE_SECURE"),
                                       (env.get("PUBLIC_BASE_URL") or "").startswith("https://")),
        "CONSOLE_SESSION_HOURS": int(env.get("CONSOLE_SESSION_HOURS", "8")),
        # Files of finished background jobs (certificate batches, exports) are kept this long.
        "JOB_RETENTION_DAYS": int(env.get("JOB_RETENTION_DAYS", "7")),
    }
