"""Column types shared by all models."""

from datetime import UTC

from sqlalchemy import CheckConstraint, DateTime, text
from sqlalchemy.types import TypeDecorator

# Every id column is a 32-bit integer: a larger number names no row and must never reach the driver.
MAX_ID = 2**31 - 1


class UTCDateTime(TypeDecorator):
    """A timestamp stored in UTC and always returned timezone-aware (SQLite keeps no offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _quoted(values):
    return ", ".join(f"'{value}'" for value in values)


def sql_in(column, values):
    """SQL text: ``column`` holds one of ``values`` (for partial-index predicates and CHECK constraints)."""
    values = tuple(values)
    if len(values) == 1:
        return f"{column} = '{values[0]}'"
    return f"{column} in ({_quoted(values)})"


def sql_not_in(column, values):
    """SQL text: ``column`` holds none of ``values``."""
    values = tuple(values)
    if len(values) == 1:
        return f"{column} != '{values[0]}'"
    return f"{column} not in ({_quoted(values)})"


def partial_index(predicate):
    """The keyword arguments that make an ``Index`` partial on both databases."""
    return {"postgresql_where": text(predicate), "sqlite_where": text(predicate)}


def one_of_check(column, enum, name=None):
    """A CHECK constraint keeping ``column`` within the states of ``enum``."""
    return CheckConstraint(sql_in(column, list(enum)), name=name or column)
