"""Accounts: every user, member or staff, is created here, with its volunteer number."""

from sqlalchemy import case

from extensions import db
from models import User

# The name others are shown of a user: a closed account (DELETE /me) has no name left, its volunteer number stands in.
SHOWN_NAME = case((User.closed_at.is_not(None), User.volunteer_number), else_=User.name).label("name")


def volunteer_number_for(user_id):
    """A stable public number (BD + 9 digits + a Luhn check digit) that stands in for the ID number."""
    digits = f"{user_id:09d}"
    total = 0
    for i, d in enumerate(reversed(digits)):
        n = int(d) * (2 if i % 2 == 0 else 1)
        total += n - 9 if n > 9 else n
    return f"BD{digits}{(10 - total % 10) % 10}"


def create_account(**fields):
    """A new user (flushed, so it has its id) with its volunteer number; ``fields`` are User columns."""
    user = User(political_status="masses", in_service=False, unavailable_weekdays=[], unavailable_dates=[], **fields)
    db.session.add(user)
    db.session.flush()
    user.volunteer_number = volunteer_number_for(user.id)
    return user
