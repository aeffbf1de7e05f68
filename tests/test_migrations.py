"""`flask db upgrade` builds the schema from empty, and the migrations match the models exactly."""

import re

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import CheckConstraint

from app import create_app
from extensions import db


def test_upgrade_from_empty_matches_the_models(empty_database_url):
    migrated = create_app({"SQLALCHEMY_DATABASE_URI": empty_database_url})
    with migrated.app_context():
        upgrade(directory="migrations")
        with db.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, db.metadata) == []
            # Alembic does not compare CHECK constraints: every state check of the models must be in the database.
            inspector = db.inspect(conn)
            for table in db.metadata.sorted_tables:
                wanted = {c.name: _normal(str(c.sqltext)) for c in table.constraints if isinstance(c, CheckConstraint)}
                found = {c["name"]: _normal(c["sqltext"]) for c in inspector.get_check_constraints(table.name)}
                assert {name: found.get(name) for name in wanted} == wanted, table.name
        downgrade(directory="migrations", revision="base")
        upgrade(directory="migrations")
        with db.engine.connect() as conn:
            tables = set(db.inspect(conn).get_table_names())
        assert set(db.metadata.tables) <= tables
        db.engine.dispose()


def _normal(condition):
    """A CHECK condition as both databases and the models write it: PostgreSQL says ``(status)::text = ANY
    (ARRAY['a'::character varying, ...])`` for ``status in ('a', ...)``."""
    match = re.fullmatch(r"\(*\(?(\w+)\)?(?:::text)? = ANY \(\(?ARRAY\[(.*)\]\)?(?:::text\[\])?\)\)*", condition)
    if match:
        column, values = match.groups()
        return (column, tuple(re.findall(r"'([^']*)'", values)))
    match = re.fullmatch(r"\(*(\w+) in \((.*)\)\)*", condition, re.IGNORECASE)
    if match:
        return (match.group(1), tuple(re.findall(r"'([^']*)'", match.group(2))))
    # Any other condition, as PostgreSQL rewrites it: casts added, parentheses doubled, upper-case keywords, <>.
    plain = re.sub(r"::(character varying|text)(\[\])?", "", condition.lower()).replace("<>", "!=")
    return " ".join(re.sub(r"[()]", " ", plain).split())
