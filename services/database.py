"""Engine settings per database, the unit of work, and the statement helpers that let the database decide races.

One unit of work per request, scheduler job or command: services add, change and flush, and never commit. The one
place that commits is ``unit_of_work``: the request's view returned without error, the job or command finished; any
exception rolls everything back, so a failure in the second of two composed services leaves nothing of the first.
The only other commit is ``commit_batch``, for the few jobs that deliberately work in batches.
"""

import math
import sqlite3
from contextlib import contextmanager
from functools import partial

from flask import current_app
from sqlalchemy import any_, bindparam, cast, event, func, inspect, select, update
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


def valid_id(row_id):
    """Whether a row could have this id (a 32-bit positive integer)."""
    return isinstance(row_id, int) and not isinstance(row_id, bool) and 0 < row_id <= MAX_ID


def find(model, row_id):
    """The row with this id, or None (also for ids no row can have)."""
    return db.session.get(model, row_id) if valid_id(row_id) else None


def where_given(query, *conditions):
    """``query`` narrowed by ``column == value`` for each ``(column, value)`` whose value was given (not None)."""
    for column, value in conditions:
        if value is not None:
            query = query.where(column == value)
    return query


def among(column, values):
    """SQL: ``column IN values``. On PostgreSQL ``column = ANY(:values)``, one array parameter, so that the statement is
    compiled once: SQLAlchemy renders an expanding ``IN`` afresh at every execution, a cast for each value (a few per
    cent of a request with a page's 20 ids). Any index on the column serves both."""
    values = list(values)
    if is_sqlite():
        return column.in_(values)
    return column == any_(bindparam(None, values, type_=ARRAY(column.type)))


def contains_text(column, text):
    """SQL: ``column`` contains ``text`` (case-insensitive), its ``%``, ``_`` and ``\\`` taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return column.ilike(f"%{escaped}%", escape="\\")


def as_dict(row):
    """A row's column values by attribute name: the start of every presentation that adds what a caller may see
    (``{**as_dict(row), "extra": ...}``), so that answers are plain dicts and never proxies of the row. A loaded
    value is read from the row's own ``__dict__`` (where the ORM keeps it; through the attribute it costs a descriptor
    call each, a tenth of a page's CPU); an expired or deferred one through the attribute, which loads it."""
    keys = _COLUMN_KEYS.get(type(row))
    if keys is None:
        keys = _COLUMN_KEYS[type(row)] = tuple(attribute.key for attribute in inspect(row).mapper.column_attrs)
    loaded = row.__dict__
    return {key: loaded[key] if key in loaded else getattr(row, key) for key in keys}


_COLUMN_KEYS = {}


def insert_ignoring_conflicts(model):
    """``INSERT ... ON CONFLICT DO NOTHING``: a unique constraint decides a race, and the loser inserts nothing."""
    return (sqlite_insert if is_sqlite() else postgresql_insert)(model).on_conflict_do_nothing()


def update_if(row, *conditions, **values):
    """``UPDATE ... SET values WHERE id = row.id AND conditions``: of simultaneous updates under the same conditions
    exactly one applies. True if this one did; False if the conditions no longer held, and nothing changed (the
    transaction goes on, and the caller decides: usually a 409, which ends the unit of work). Either way the row is
    refreshed, so the caller sees what the winner left."""
    model = type(row)
    # RETURNING refreshes the row in the update's own statement (populate_existing); only a refused one reads it.
    updated = db.session.execute(update(model).where(model.id == row.id, *conditions).values(**values)
                                 .returning(model)
                                 .execution_options(synchronize_session=False, populate_existing=True)).first()
    if updated is None:
        db.session.refresh(row)
    return updated is not None


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


@contextmanager
def unit_of_work():
    """Run a request's view, a scheduler job or a command as one transaction: committed when the block ends without
    an exception, rolled back (and the exception passed on) otherwise."""
    try:
        yield
    except BaseException:
        db.session.rollback()
        raise
    db.session.commit()


def commit_batch():
    """Commit the work done so far and go on in a new transaction.

    Only for work that is a sequence of independent steps and too large for one transaction: filling the rosters of
    thousands of posts, refreshing every region's statistics, issuing a street's certificates, delivering the
    outbox, closing forgotten attendances. Each batch stands on its own: a failure later keeps the batches already
    done (each is complete and consistent), and no lock is held longer than one batch. Everything else commits once,
    through ``unit_of_work``."""
    db.session.commit()
