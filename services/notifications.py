"""A member's notifications: what happened to them, newest first, with read marks."""

from sqlalchemy import bindparam, case, func, select, update

from clock import utcnow
from extensions import db
from models import Notification
from services.database import insert_ignoring_conflicts, insert_rows_ignoring_conflicts, is_sqlite

# The insert of ``notify``, built once per dialect (SQLite's, PostgreSQL's) with its values as parameters: a
# sign-up and a claim each notify, and building the statement cost more CPU than sending it.
_INSERTS = {}


def notify(member_id, kind, title, body=None, ref=None, key=None):
    """Add a notification; with a ``key`` the same event never notifies twice (even from two processes)."""
    sqlite = is_sqlite()
    statement = _INSERTS.get(sqlite)
    if statement is None:
        statement = _INSERTS[sqlite] = insert_ignoring_conflicts(Notification.__table__)
    db.session.connection().execute(statement, {"member_id": member_id, "kind": kind, "title": title, "body": body,
                                                "ref": ref, "key": key, "created_at": utcnow()})


def notify_many(rows):
    """Many notifications in one statement (each a dict of Notification columns); existing keys are skipped."""
    insert_rows_ignoring_conflicts(Notification, rows)


def list_for(member_id, *, unread=False):
    query = select(Notification).where(Notification.member_id == member_id)
    if unread:
        query = query.where(Notification.read_at.is_(None))
    return query.order_by(Notification.created_at.desc(), Notification.id.desc())


# Built once: the mini-program asks it whenever it opens.
COUNTS = (select(func.count(), func.count(case((Notification.read_at.is_(None), 1))))
          .where(Notification.member_id == bindparam("member_id")))


def counts(member_id):
    """``(total, unread)`` of the member's notifications, in one statement."""
    return tuple(db.session.execute(COUNTS, {"member_id": member_id}).one())


def unread_count(member_id):
    return db.session.scalar(select(func.count()).select_from(Notification).where(
        Notification.member_id == member_id, Notification.read_at.is_(None)))


def mark_read(member_id, ids=None):
    """Mark the member's own notifications read (all of them without ``ids``); returns how many changed."""
    statement = update(Notification).where(Notification.member_id == member_id, Notification.read_at.is_(None))
    if ids is not None:
        statement = statement.where(Notification.id.in_(ids))
    return db.session.execute(statement.values(read_at=utcnow())).rowcount
