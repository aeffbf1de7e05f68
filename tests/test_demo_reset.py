"""``make demo-reset``: every table dropped, the schema migrated afresh and the demo seeded again, as often as one
likes; what ``make run`` then serves has one activity open for check-in and demo members to sign in as."""

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def flask(instance, *args):
    env = {**os.environ, "INSTANCE_PATH": str(instance), "APP_ENV": "development"}
    for name in ("DATABASE_URL", "SECRET_KEY", "JWT_SECRET_KEY", "PII_ENCRYPTION_KEY", "PUBLIC_BASE_URL"):
        env.pop(name, None)
    return subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_make_demo_reset_runs_seed_demo_reset():
    dry_run = subprocess.run(["make", "-n", "demo-reset"], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert dry_run.returncode == 0, dry_run.stderr
    assert "seed-demo --reset" in dry_run.stdout


def test_demo_reset_drops_migrates_and_seeds_again(tmp_path):
    first = flask(tmp_path, "seed-demo", "--reset")
    assert first.returncode == 0, first.stderr
    database = tmp_path / "baodao.sqlite3"
    with sqlite3.connect(database) as conn:
        conn.execute("INSERT INTO regions (name, kind, path, created_at) "
                     "VALUES ('多余的区', 'district', '/x/', '2026-01-01')")
    second = flask(tmp_path, "seed-demo", "--reset")
    assert second.returncode == 0, second.stderr
    assert "dropped" in second.stdout and "demo seeded" in second.stdout
    with sqlite3.connect(database) as conn:
        assert conn.execute("SELECT count(*) FROM users WHERE openid LIKE 'demo-member-%'").fetchone() == (30,)
        assert conn.execute("SELECT count(*) FROM regions WHERE name = '多余的区'").fetchone() == (0,)
        heads = conn.execute("SELECT version_num FROM alembic_version").fetchall()
        open_now = conn.execute("SELECT count(*) FROM activities WHERE status = 'published' AND requires_signup = 0 "
                                "AND starts_at <= datetime('now') AND ends_at > datetime('now')").fetchone()
    assert len(heads) == 1 and open_now == (1,)
