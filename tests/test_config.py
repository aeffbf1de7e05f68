import pytest

from config import ConfigError, load_config, normalise_database_url


def test_development_needs_no_variables(tmp_path, monkeypatch):
    monkeypatch.setattr("config.INSTANCE_DIR", tmp_path)
    first = load_config({})
    second = load_config({})
    assert first["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'baodao.sqlite3'}"
    assert first["SECRET_KEY"] == second["SECRET_KEY"] and len(first["SECRET_KEY"]) > 40
    assert first["JWT_SECRET_KEY"] == second["JWT_SECRET_KEY"]
    assert first["TIMEZONE"] == "Asia/Shanghai" and first["QR_ROTATE_SECONDS"] == 30
    assert first["CHECKIN_DEBOUNCE_SECONDS"] == 60 and first["SCHEDULER_ENABLED"] is True
    assert first["WECHAT_API_BASE"] == "https://api.weixin.qq.com"
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_production_refuses_to_start_without_its_secrets(tmp_path, monkeypatch):
    monkeypatch.setattr("config.INSTANCE_DIR", tmp_path)
    with pytest.raises(ConfigError) as missing:
        load_config({"APP_ENV": "production", "SECRET_KEY": "s"})
    message = str(missing.value)
    for name in ("DATABASE_URL", "JWT_SECRET_KEY", "PII_ENCRYPTION_KEY", "PUBLIC_BASE_URL"):
        assert name in message
    assert "SECRET_KEY," not in message.replace("JWT_SECRET_KEY", "")
    config = load_config({"APP_ENV": "production", "DATABASE_URL": "postgresql://db/baodao", "SECRET_KEY": "a",
                          "JWT_SECRET_KEY": "b", "PII_ENCRYPTION_KEY": "c",
                          "PUBLIC_BASE_URL": "https://baodao.district.example/"})
    assert config["SCHEDULER_ENABLED"] is False
    assert config["PUBLIC_BASE_URL"] == "https://baodao.district.example"
    assert list(tmp_path.iterdir()) == []


def test_plain_postgres_urls_use_psycopg3():
    assert normalise_database_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_database_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_database_url("sqlite:///x.db") == "sqlite:///x.db"


def test_sqlite_runs_with_wal_foreign_keys_and_a_busy_timeout(app):
    from sqlalchemy import text

    from extensions import db

    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite settings")
    with db.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 30000


def test_development_links_point_at_the_development_server(tmp_path, monkeypatch):
    monkeypatch.setattr("config.INSTANCE_DIR", tmp_path)
    assert load_config({})["PUBLIC_BASE_URL"] == "http://localhost:5000"
    config = load_config({"PORT": "8123"})
    assert config["PUBLIC_BASE_URL"] == "http://localhost:8123" and config["PORT"] == 8123
    assert load_config({"PUBLIC_BASE_URL": "https://x.example/"})["PUBLIC_BASE_URL"] == "https://x.example"


def test_operations_settings_and_their_defaults(tmp_path, monkeypatch):
    monkeypatch.setattr("config.INSTANCE_DIR", tmp_path)
    development = load_config({})
    assert development["TRUSTED_PROXY_COUNT"] == 0 and development["LOG_FORMAT"] == "text"
    assert development["METRICS_TOKEN"] is None and development["SENTRY_DSN"] is None
    production = load_config({"APP_ENV": "production", "DATABASE_URL": "postgresql://db/baodao", "SECRET_KEY": "a",
                              "JWT_SECRET_KEY": "b", "PII_ENCRYPTION_KEY": "c", "PUBLIC_BASE_URL": "https://p.example",
                              "TRUSTED_PROXY_COUNT": "1", "METRICS_TOKEN": "t"})
    assert production["LOG_FORMAT"] == "json" and production["TRUSTED_PROXY_COUNT"] == 1
    assert load_config({"LOG_FORMAT": "json"})["LOG_FORMAT"] == "json"
    for wrong in ({"LOG_FORMAT": "xml"}, {"TRUSTED_PROXY_COUNT": "-1"}, {"LOG_LEVEL": "loud"}):
        with pytest.raises(ConfigError):
            load_config(wrong)
