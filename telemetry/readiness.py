"""Readiness: whether this process should be given requests (``/readyz``). Liveness is only that it answers."""

from functools import cache

from alembic.config import Config
from alembic.script import ScriptDirectory
from flask import current_app
from sqlalchemy import text

from extensions import db


@cache
def migration_heads(directory):
    """The head revisions of the migration scripts shipped with this code (read once per process)."""
    config = Config()
    config.set_main_option("script_location", str(directory))
    return frozenset(ScriptDirectory.from_config(config).get_heads())


def readiness():
    """``(ready, facts)``: the database answers, and its schema is at the head of the migrations this code ships
    (a process started before ``db upgrade`` ran, or a database restored from an older dump, is not ready)."""
    heads = migration_heads(current_app.extensions["migrate"].directory)
    facts = {"database": "ok", "migrations": "ok", "revision": None, "head": ",".join(sorted(heads))}
    try:
        db.session.execute(text("SELECT 1"))
    except Exception:
        db.session.rollback()
        return False, {**facts, "database": "error", "migrations": "unknown"}
    try:
        revisions = set(db.session.scalars(text("SELECT version_num FROM alembic_version")))
    except Exception:
        # No alembic_version table: the schema was never migrated.
        db.session.rollback()
        revisions = set()
    facts["revision"] = ",".join(sorted(revisions)) or None
    if revisions != heads:
        facts["migrations"] = "pending"
    return facts["migrations"] == "ok", facts
