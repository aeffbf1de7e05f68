"""The co-governance read paths use their indexes on PostgreSQL (EXPLAIN ANALYZE): a community's page of meetings, a
community's overdue tasks, a street's figures, the overdue-task reminder and the meetings about a need read the rows
they need, not the tables."""

from datetime import timedelta

import pytest
from sqlalchemy import insert, select, text

from clock import local_today, utcnow
from extensions import db
from models import AgendaItem, Meeting, MeetingDecision, MeetingTask, Need, Partner
from services import governance_stats, meeting_links, meetings, tasks
from services.authz import Actor
from tests.conftest import postgres_only
from tests.factories import make_region, make_staff, region_tree
from tests.plans import explain, rows_read, seq_scans

pytestmark = postgres_only

PER_COMMUNITY = 600


@pytest.fixture
def city():
    """Four communities of 600 meetings each (a meeting a day, a tenth cancelled, a decision and two tasks each) and
    a big one of 9,000 in the other street; a need on the agenda of three of a1's; fresh planner statistics."""
    tree = region_tree()
    tree["big"] = make_region("大社区", "community", tree["street_b"])
    now = utcnow()
    today = local_today()
    meeting_rows, decision_rows, task_rows = [], [], []
    for c, key in enumerate(("a1", "a2", "b1", "b2", "big")):
        partner = Partner(community_id=tree[key].id, name="物业", role="property_company", contact_name="张",
                          contact_phone="010-64001234")
        db.session.add(partner)
        db.session.flush()
        for n in range(PER_COMMUNITY if key != "big" else 15 * PER_COMMUNITY):
            meeting_id = len(meeting_rows) + 1
            starts = now - timedelta(hours=24 * n + c)
            meeting_rows.append({
                "id": meeting_id, "community_id": tree[key].id, "kind": ("joint", "consultation", "reception")[n % 3],
                "title": f"会议{n}", "starts_at": starts, "place": "会议室",
                "status": "held" if n % 10 else "cancelled",
                "partner_ids": [], "attendance": [], "minutes_version": 1, "decision_count": 1, "created_at": now})
            decision_rows.append({"id": meeting_id, "meeting_id": meeting_id, "position": 0, "agenda_index": 0,
                                  "text": "决定", "created_at": now})
            for p in (0, 1):
                task_rows.append({
                    "id": len(task_rows) + 1, "community_id": tree[key].id, "meeting_id": meeting_id,
                    "meeting_starts_at": starts,
                    "decision_id": meeting_id, "decision_index": 0, "position": p, "title": "任务",
                    "owner_partner_id": partner.id, "due_date": starts.date() + timedelta(days=14),
                    "status": "open" if (meeting_id + p) % 4 == 0 else "done", "created_at": now})
    db.session.execute(insert(Meeting.__table__), meeting_rows)
    db.session.execute(insert(MeetingDecision.__table__), decision_rows)
    db.session.execute(insert(MeetingTask.__table__), task_rows)
    written = meeting_rows
    need = Need(community_id=tree["a1"].id, title="加装电梯", category="养老", source="meeting", status="open")
    db.session.add(need)
    db.session.flush()
    db.session.execute(insert(AgendaItem.__table__), [
        {"meeting_id": m["id"], "position": 0, "title": "议题",
         "need_id": need.id if i < PER_COMMUNITY and i % 200 == 1 else None}
        for i, m in enumerate(written)])
    for name in ("meetings", "meeting_decisions", "meeting_tasks", "meeting_agenda_items", "partners"):
        db.session.execute(text(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                                f"GREATEST((SELECT max(id) FROM {name}), 1))"))
        db.session.execute(text(f"ANALYZE {name}"))
    tree.update(need=need, today=today, meetings=len(written))
    yield tree
    db.session.rollback()


def test_a_communitys_page_of_meetings_reads_one_page_from_the_index(city):
    plan = explain(meetings.list_meetings(community_id=city["a1"].id).limit(20))
    assert not seq_scans(plan, "meetings")
    assert max(rows_read(plan, "meetings")) <= 20


def test_a_communitys_overdue_tasks_read_one_page_from_the_index(city):
    staff = make_staff("community_admin", city["a1"])
    plan = explain(tasks.list_tasks(Actor(staff.id), status="overdue").limit(20))
    assert not seq_scans(plan, "meeting_tasks")
    assert max(rows_read(plan, "meeting_tasks")) <= 20


def test_a_streets_overdue_tasks_read_only_its_communities(city):
    staff = make_staff("street_admin", city["street_a"])
    plan = explain(tasks.list_tasks(Actor(staff.id), status="overdue").limit(20))
    assert not seq_scans(plan, "meeting_tasks")
    # The two communities' open overdue tasks at most, never the big one's in the other street.
    assert max(rows_read(plan, "meeting_tasks")) <= 2 * PER_COMMUNITY


def test_a_streets_figures_read_its_communities_rows_of_the_year(city):
    ids = [city["a1"].id, city["a2"].id]
    starts = governance_stats.month_starts(city["today"].year)
    for statement, table in ((governance_stats.held_by_community(ids, starts), "meetings"),
                             (governance_stats.tasks_by_community(ids, starts, city["today"]), "meeting_tasks")):
        plan = explain(statement)
        assert not seq_scans(plan, table), (table, plan)
        # A year of two communities: about 730 meetings and twice as many tasks, not the 11,400 meetings stored.
        assert max(rows_read(plan, table)) <= 2 * 2 * 366, (table, plan)


def test_the_overdue_reminder_reads_only_open_tasks(city):
    statement = select(MeetingTask.id).where(MeetingTask.status == "open", MeetingTask.due_date < city["today"],
                                             MeetingTask.overdue_notified_at.is_(None))
    plan = explain(statement)
    assert not seq_scans(plan, "meeting_tasks")
    open_tasks = db.session.scalar(select(db.func.count()).select_from(MeetingTask).where(MeetingTask.status == "open"))
    assert max(rows_read(plan, "meeting_tasks")) <= open_tasks


def test_the_meetings_about_a_need_come_from_the_agendas_index(city):
    about = meeting_links.meetings_about("need", [city["need"].id])[city["need"].id]
    assert len(about) == 3 and all(m["decisions"] for m in about)
    plan = explain(select(AgendaItem.meeting_id).where(AgendaItem.need_id.in_([city["need"].id])))
    assert not seq_scans(plan, "meeting_agenda_items")
    assert max(rows_read(plan, "meeting_agenda_items")) <= 3
