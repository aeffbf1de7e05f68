"""Engine settings per database, and the transaction helpers every unit of work uses."""

from flask import current_app
from sqlalchemy import event, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from extensions import db
from models.types import MAX_ID


def configure_engine_events(app):
    """SQLite: WAL, a busy timeout and foreign keys, so several processes writing at once wait instead of failing."""
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        return
    with app.app_context():
        engine = db.engine

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            # Let SQLAlchemy's BEGIN decide when a transaction starts (pysqlite's own handling is off).
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin_immediate(conn):
            # Take the write lock at BEGIN: no deadlocked upgrade from reader to writer under concurrency.
            conn.exec_driver_sql("BEGIN IMMEDIATE")


def is_sqlite():
    return current_app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite")


def find(model, row_id):
    """The row with this id, or None (also for ids no row can have)."""
    if not isinstance(row_id, int) or isinstance(row_id, bool) or not 0 < row_id <= MAX_ID:
        return None
    return db.session.get(model, row_id)


def insert_ignoring_conflicts(model):
    """``INSERT ... ON CONFLICT DO NOTHING``: a unique constraint decides a race, and the loser inserts nothing."""
    return (sqlite_insert if is_sqlite() else postgresql_insert)(model).on_conflict_do_nothing()


def update_if(row, *conditions, **values):
    """``UPDATE ... SET values WHERE id = row.id AND conditions``: of simultaneous updates under the same conditions
    exactly one applies. True if this one did (the row is then refreshed); False after rolling back otherwise."""
    model = type(row)
    result = db.session.execute(update(model).where(model.id == row.id, *conditions).values(**values)
                                .execution_options(synchronize_session=False))
    if result.rowcount != 1:
        db.session.rollback()
        return False
    db.session.refresh(row)
    return True
