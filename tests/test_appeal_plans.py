"""The appeal read paths use their indexes on PostgreSQL (EXPLAIN ANALYZE): a community's page, a department's
page, a member's own appeals, a street's statistics and the reminder job read the rows they need, not the table."""

from datetime import timedelta

import pytest
from sqlalchemy import insert, text

from clock import utcnow
from extensions import db
from models import Appeal, AppealDepartment, AppealEscalation, Department, User
from services import appeal_stats, appeals
from services.authz import Actor
from tests.conftest import postgres_only
from tests.factories import make_member, make_staff, region_tree
from tests.plans import explain, rows_read, seq_scans

pytestmark = postgres_only

PER_COMMUNITY = 1500


@pytest.fixture
def city():
    """Four communities of 1,500 appeals each and a big one of 27,000 in the other street (a street holds a tenth
    of the appeals, as at city scale), a member with 30 of them, a department with 40 escalations, and fresh
    planner statistics."""
    tree = region_tree()
    member = make_member()
    others = db.session.scalars(insert(User.__table__).returning(User.__table__.c.id), [
        {"openid": f"plan-{i}", "political_status": "masses", "in_service": False, "unavailable_weekdays": [],
         "unavailable_dates": [], "is_active": True, "created_at": utcnow()} for i in range(200)]).all()
    department = Department(region_id=tree["street_a"].id, name="城管")
    db.session.add(department)
    db.session.flush()
    now = utcnow()
    from tests.factories import make_region

    tree["big"] = make_region("大社区", "community", tree["street_b"])
    rows = []
    for c, key in enumerate(("a1", "a2", "b1", "b2", "big")):
        for n in range(PER_COMMUNITY if key != "big" else 18 * PER_COMMUNITY):
            at = now - timedelta(hours=6 * n + c)
            status = ("submitted", "accepted", "resolved", "closed", "rejected")[n % 5]
            rows.append({
                "number": f"{c}{n:07d}-{n:05d}", "community_id": tree[key].id, "kind": "problem", "title": f"诉求{n}",
                "content": "内容", "anonymous": False, "source": "app", "status": status,
                "member_id": member.id if (key == "a1" and n % 50 == 0) else others[n % len(others)],
                "created_at": at, "response_due_at": at + timedelta(hours=24),
                "accepted_at": at if status != "submitted" else None,
                "due_at": at + timedelta(days=7) if status != "submitted" else None})
    table = Appeal.__table__
    written = db.session.execute(insert(table).returning(table.c.id, table.c.created_at), rows).all()
    ids = [row.id for row in written]
    escalated = written[::150]
    db.session.execute(insert(AppealEscalation.__table__), [
        {"appeal_id": appeal_id, "department_id": department.id, "status": "answered", "note": "请协助",
         "due_date": now.date(), "due_at": now, "escalated_at": now} for appeal_id, _at in escalated])
    db.session.execute(insert(AppealDepartment.__table__), [
        {"appeal_id": appeal_id, "department_id": department.id, "appeal_created_at": at}
        for appeal_id, at in escalated])
    for name in ("appeals", "appeal_escalations", "appeal_departments"):
        db.session.execute(text(f"ANALYZE {name}"))
    tree.update(member=member, department=department, appeals=len(ids))
    yield tree
    db.session.rollback()


def _actor(user):
    return Actor(user.id)


def test_a_communitys_page_reads_one_page_from_the_index(city):
    staff = make_staff("community_admin", city["a1"])
    plan = explain(appeals.list_appeals(_actor(staff)).limit(20))
    assert not seq_scans(plan, "appeals")
    assert max(rows_read(plan, "appeals")) <= 20


def test_a_streets_page_reads_only_its_communities(city):
    staff = make_staff("street_admin", city["street_a"])
    plan = explain(appeals.list_appeals(_actor(staff)).limit(20))
    assert not seq_scans(plan, "appeals")
    assert max(rows_read(plan, "appeals")) <= 2 * PER_COMMUNITY


def test_a_departments_page_reads_one_page_of_its_appeals(city):
    staff = make_staff("department_admin", city["department"])
    plan = explain(appeals.list_appeals(_actor(staff)).limit(20))
    assert not seq_scans(plan, "appeals")
    read = rows_read(plan, "appeals") + rows_read(plan, "appeal_departments")
    assert read and max(read) <= 20, read
    assert len(db.session.execute(appeals.list_appeals(_actor(staff))).all()) == 220


def test_a_members_own_appeals_come_from_its_index(city):
    plan = explain(appeals.my_appeals(_actor(city["member"])).limit(20))
    assert not seq_scans(plan, "appeals")
    # The member's own 30 at most, whatever the table holds.
    assert max(rows_read(plan, "appeals")) <= 30


def test_a_streets_statistics_read_its_communities_rows_of_the_dates(city):
    staff = make_staff("street_admin", city["street_a"])
    statements = []

    def capture(_conn, _cursor, statement, parameters, _context, _many):
        statements.append(statement)

    from sqlalchemy import event

    event.listen(db.engine, "before_cursor_execute", capture)
    try:
        appeal_stats.appeal_stats(_actor(staff), region_id=city["street_a"].id,
                                  date_from=(utcnow() - timedelta(days=30)).date(), date_to=utcnow().date())
    finally:
        event.remove(db.engine, "before_cursor_execute", capture)
    grouped = [s for s in statements if "FROM appeals" in s and "GROUP BY" in s]
    assert grouped, statements
    # The same statement, planned: the street's two communities over 30 days (about 240 rows), by index.
    from sqlalchemy import select

    from clock import within_local_days

    start = (utcnow() - timedelta(days=30)).date()
    statement = (select(Appeal.community_id, *appeal_stats._columns(utcnow()))
                 .where(Appeal.community_id.in_([city["a1"].id, city["a2"].id]),
                        *within_local_days(Appeal.created_at, start, utcnow().date()))
                 .group_by(Appeal.community_id))
    plan = explain(statement)
    assert not seq_scans(plan, "appeals")
    assert max(rows_read(plan, "appeals")) <= 2 * 130


def test_the_reminder_reads_only_appeals_still_concerned(city):
    now = utcnow()
    for statement in (
        appeals.select(Appeal.id).where(Appeal.status == "submitted", Appeal.response_due_at <= now,
                                        Appeal.late_notified_at.is_(None)),
        appeals.select(Appeal.id).where(Appeal.status.in_(("accepted", "escalated")), Appeal.due_at <= now,
                                        Appeal.overdue_notified_at.is_(None)),
    ):
        plan = explain(statement)
        assert not seq_scans(plan, "appeals")
        # Only appeals in the state the job looks at: a fifth of the table at most, not all of it.
        assert max(rows_read(plan, "appeals")) <= city["appeals"] // 5 + 1
