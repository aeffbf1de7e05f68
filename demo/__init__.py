"""The demo district that ``seed-demo`` builds, one module per part of the product."""

from importlib import import_module

from sqlalchemy import func, select

from extensions import db
from models import User
from services import rollups

DEMO_STEPS = (
    "demo.foundation",
    "demo.activities",
    "demo.posts",
    "demo.wishes",
    "demo.teams",
    "demo.appeals",
    "demo.governance",
    "demo.certificates",
)


def database_is_empty():
    return db.session.scalar(select(func.count()).select_from(User)) == 0


def seed():
    """Run every step in order, in the caller's unit of work; each adds to ``ctx`` what later steps build on."""
    ctx = {}
    summary = {}
    for name in DEMO_STEPS:
        summary.update(import_module(name).seed(ctx))
    # The steps write some rows directly (approved reports, settled shifts): the statistics are counted from them.
    rollups.rebuild()
    return summary
