"""Engine settings per database, and the transaction helpers every unit of work uses."""

import math
import sqlite3
from functools import partial

from flask import current_app
from sqlalchemy import bindparam, cast, event, func, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError

from extensions import db
from models.types import MAX_ID

# The SQL functions of the check-in's radius rule (services.checkins._within_radius), by number of arguments. SQLite
# has them only where it was built with its math functions; elsewhere these stand in.
SQLITE_MATH_FUNCTIONS = {"sin": (1, math.sin), "cos": (1, math.cos), "radians": (1, math.radians),
                         "power": (2, math.pow)}


def add_sqlite_math_functions(dbapi_connection):
    """Define ``SQLITE_MATH_FUNCTIONS`` on a SQLite connection, NULL in, NULL out as SQL functions are."""
    for name, (arity, function) in SQLITE_MATH_FUNCTIONS.items():
        dbapi_connection.create_function(
            name, arity, lambda *args, function=function: None if None in args else function(*args),
            deterministic=True)


def _has_math_functions(dbapi_connection):
    try:
        dbapi_connection.execute("SELECT sin(0), cos(0), radians(0), power(2, 2)").close()
    except sqlite3.OperationalError:
        return False
    return True


def configure_engine_events(app):
    """SQLite: WAL, a busy timeout and foreign keys, so several processes writing at once wait instead of failing;
    the math functions where this SQLite lacks them."""
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
            if not _has_math_functions(dbapi_connection):
                add_sqlite_math_functions(dbapi_connection)

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


def insert_rows_ignoring_conflicts(model, rows, *returning):
    """``INSERT ... ON CONFLICT DO NOTHING`` of many rows (scalar columns); the ``returning`` columns of the rows
    actually inserted.

    On PostgreSQL the rows travel as one array per column (``INSERT ... SELECT ... FROM unnest(...)``), one short
    statement: building and parsing a ``VALUES`` list of thousands of rows costs more than inserting them.
    """
    if not rows:
        return []
    table = model.__table__
    statement = insert_ignoring_conflicts(table)
    if is_sqlite():
        execute = partial(db.session.connection().execute, parameters=rows)
    else:
        columns = list(rows[0])
        arrays = [cast(bindparam(c, [row[c] for row in rows], type_=ARRAY(table.c[c].type)), ARRAY(table.c[c].type))
                  for c in columns]
        source = func.unnest(*arrays).table_valued(*columns).render_derived()
        statement = statement.from_select(columns, select(*(source.c[c] for c in columns)))
        execute = db.session.connection().execute
    if returning:
        return execute(statement.returning(*returning)).all()
    execute(statement)
    return []


def add_unique(row):
    """Add ``row`` in a savepoint; False (and nothing added) when a unique constraint refuses it, as it does for
    the loser of a race."""
    try:
        with db.session.begin_nested():
            db.session.add(row)
    except IntegrityError:
        return False
    return True
