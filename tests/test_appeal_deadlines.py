"""Deadlines of 接诉即办 on the clock: the response deadline, the due date's end in TIMEZONE, an escalation's date,
the reminder job (once per appeal and deadline, however often it runs), closing after 7×24 h, and the three rates
of ``GET /stats/appeals`` with their exact definitions."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import func, select

from extensions import db
from models import Notification
from schedulers.jobs import JOBS, run
from tests.appeal_factories import act, appeal_world, file_for_resident, get, submit
from tests.factories import auth, error_code

LOCAL = ZoneInfo("Asia/Shanghai")
# Monday 2 March 2026, 10:00 in Beijing.
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=LOCAL)


@pytest.fixture
def clock():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def world(clock):
    return appeal_world()


def told(kind, member=None):
    query = select(func.count()).select_from(Notification).where(Notification.kind == kind)
    if member is not None:
        query = query.where(Notification.member_id == member.id)
    return db.session.scalar(query)


def _new(client, world, community="a1", **fields):
    response = submit(client, world["resident"], world[community], **fields)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def test_the_response_deadline_is_24_hours_and_late_stays_late(client, world, clock):
    appeal_id = _new(client, world)
    shown = get(client, world["admin_a1"], appeal_id).get_json()
    assert datetime.fromisoformat(shown["response_due_at"]) == T0 + timedelta(hours=24)
    assert shown["response_due_at"].endswith("+08:00")

    clock.move_to(T0 + timedelta(hours=24))
    assert get(client, world["admin_a1"], appeal_id).get_json()["late_for_response"] is False
    clock.move_to(T0 + timedelta(hours=24, seconds=1))
    assert get(client, world["admin_a1"], appeal_id).get_json()["late_for_response"] is True
    accepted = act(client, world["admin_a1"], appeal_id, "accept").get_json()
    assert accepted["late_for_response"] is True
    late = client.get("/api/v1/appeals?late=true", headers=auth(world["admin_a1"])).get_json()["items"]
    assert [a["id"] for a in late] == [appeal_id]


def test_the_response_deadline_follows_the_configuration(app, client, world, monkeypatch):
    monkeypatch.setitem(app.config, "APPEAL_RESPONSE_HOURS", 2)
    shown = get(client, world["admin_a1"], _new(client, world)).get_json()
    assert datetime.fromisoformat(shown["response_due_at"]) == T0 + timedelta(hours=2)


def test_the_due_date_ends_at_local_midnight_and_overdue_stays_after_a_late_resolution(client, world, clock):
    appeal_id = _new(client, world)
    # Accepted at 23:30 local on 2 March (15:30 UTC, still 2 March in UTC too): due 9 March, the local date + 7.
    clock.move_to(datetime(2026, 3, 2, 23, 30, tzinfo=LOCAL))
    assert act(client, world["admin_a1"], appeal_id, "accept").get_json()["due_date"] == "2026-03-09"
    clock.move_to(datetime(2026, 3, 9, 23, 59, 59, tzinfo=LOCAL))
    assert get(client, world["admin_a1"], appeal_id).get_json()["overdue"] is False
    clock.move_to(datetime(2026, 3, 10, 0, 0, tzinfo=LOCAL))
    assert get(client, world["admin_a1"], appeal_id).get_json()["overdue"] is True
    overdue = client.get("/api/v1/appeals?overdue=true", headers=auth(world["admin_a1"])).get_json()["items"]
    assert [a["id"] for a in overdue] == [appeal_id]
    resolved = act(client, world["admin_a1"], appeal_id, "resolve", {"reply": "已处理"}).get_json()
    assert resolved["overdue"] is True


def test_a_resolution_on_the_due_date_is_in_time(client, world, clock):
    appeal_id = _new(client, world)
    act(client, world["admin_a1"], appeal_id, "accept")
    clock.move_to(datetime(2026, 3, 9, 23, 0, tzinfo=LOCAL))
    assert act(client, world["admin_a1"], appeal_id, "resolve", {"reply": "已处理"}).get_json()["overdue"] is False
    clock.move_to(datetime(2026, 4, 1, tzinfo=LOCAL))
    assert get(client, world["admin_a1"], appeal_id).get_json()["overdue"] is False


def test_the_escalation_date_defaults_to_seven_days_and_is_the_departments_deadline(client, world, clock):
    appeal_id = _new(client, world)
    act(client, world["admin_a1"], appeal_id, "accept")
    clock.move_to(datetime(2026, 3, 4, 9, 0, tzinfo=LOCAL))
    escalated = act(client, world["admin_a1"], appeal_id, "escalate",
                    {"department_id": world["department"].id, "note": "请协助清理"}).get_json()
    assert escalated["escalation"]["due_date"] == "2026-03-11"
    # The appeal's own date (9 March) moves to the later escalation date.
    assert escalated["due_date"] == "2026-03-11"


def test_the_reminder_job_tells_once_per_appeal_and_deadline(client, world, clock):
    job = JOBS["remind_overdue_appeals"]
    staff, department = world["admin_a1"], world["department_admin"]
    appeal_id = _new(client, world)
    assert run(job) == {"late": 0, "overdue": 0, "escalations": 0}

    clock.move_to(T0 + timedelta(hours=25))
    assert run(job)["late"] == 1
    assert run(job)["late"] == 0
    assert told("appeal_late", staff) == 1 and told("appeal_late") == 1

    act(client, staff, appeal_id, "accept")  # due 10 March (accepted 3 March local)
    act(client, staff, appeal_id, "escalate", {"department_id": world["department"].id, "note": "请协助",
                                               "due_date": "2026-03-05"})
    clock.move_to(datetime(2026, 3, 6, 0, 0, 1, tzinfo=LOCAL))
    assert run(job) == {"late": 0, "overdue": 0, "escalations": 1}
    assert run(job)["escalations"] == 0
    assert told("appeal_overdue", department) == 1 and told("appeal_overdue", staff) == 1

    clock.move_to(datetime(2026, 3, 11, 0, 0, 1, tzinfo=LOCAL))
    assert run(job)["overdue"] == 1
    assert run(job)["overdue"] == 0
    # Overdue while escalated: the community and the department, once each.
    assert told("appeal_overdue", staff) == 2 and told("appeal_overdue", department) == 2
    assert told("appeal_late") == 1


def test_two_overlapping_runs_of_the_reminder_tell_once(client, world, clock, app):
    _new(client, world)
    clock.move_to(T0 + timedelta(hours=30))
    from services import appeals

    # The second run finds the mark already set by the first (the conditional update) and the key taken.
    assert appeals.remind_overdue()["late"] == 1
    assert appeals.remind_overdue()["late"] == 0
    db.session.commit()
    assert told("appeal_late") == 1


def test_resolved_appeals_close_seven_times_24_hours_later(client, world, clock):
    appeal_id = _new(client, world)
    act(client, world["admin_a1"], appeal_id, "accept")
    act(client, world["admin_a1"], appeal_id, "resolve", {"reply": "已处理"})
    job = JOBS["close_resolved_appeals"]
    clock.move_to(T0 + timedelta(days=7) - timedelta(seconds=1))
    assert run(job) == 0
    clock.move_to(T0 + timedelta(days=7))
    assert run(job) == 1
    assert run(job) == 0
    shown = get(client, world["admin_a1"], appeal_id).get_json()
    assert shown["status"] == "closed" and shown["rating"] is None
    assert shown["timeline"][-1]["action"] == "closed" and shown["timeline"][-1]["actor_name"] == "系统"
    # Closed without a score: rating now is a wrong state, and it never reopens.
    response = act(client, world["resident"], appeal_id, "rate", {"score": 5})
    assert response.status_code == 409 and error_code(response) == "invalid_state"


# GET /stats/appeals.

def _at(clock, days=0, hours=0):
    clock.move_to(T0 + timedelta(days=days, hours=hours))


def _story(client, world, clock):
    """Appeals whose rates are known; "now" ends 20 days after T0."""
    staff_a1, staff_a2, staff_b1 = world["admin_a1"], world["admin_a2"], world["admin_b1"]
    # a1: accepted in time, resolved in time, scored 5.
    a = _new(client, world, kind="problem")
    _at(clock, hours=1)
    act(client, staff_a1, a, "accept")
    _at(clock, days=2)
    act(client, staff_a1, a, "resolve", {"reply": "好"})
    act(client, world["resident"], a, "rate", {"score": 5})
    # a1: accepted late (30 h), resolved late (due 10 March, resolved 12 March), scored 3.
    _at(clock)
    b = _new(client, world, kind="complaint")
    _at(clock, hours=30)
    act(client, staff_a1, b, "accept")
    _at(clock, days=10)
    act(client, staff_a1, b, "resolve", {"reply": "好"})
    act(client, world["resident"], b, "rate", {"score": 3})
    # a1: rejected in time; withdrawn inside its deadline (left out of the response rate).
    _at(clock)
    c = _new(client, world, kind="request")
    d = _new(client, world, kind="suggestion")
    _at(clock, hours=2)
    act(client, staff_a1, c, "reject", {"reason": "不属于社区职责"})
    act(client, world["resident"], d, "withdraw")
    # a2: never answered, long past its deadline; accepted and resolved in time, scored 4.
    _at(clock)
    _new(client, world, community="a2")
    f = file_for_resident(client, staff_a2, world["a2"], source="visit").get_json()["id"]
    _at(clock, hours=3)
    act(client, staff_a2, f, "accept")
    act(client, staff_a2, f, "resolve", {"reply": "好"})
    act(client, staff_a2, f, "rate", {"score": 4, "via": "visit"})
    # b1: a hotline appeal accepted in time, escalated, never resolved: overdue by day 20.
    _at(clock)
    g = file_for_resident(client, staff_b1, world["b1"]).get_json()["id"]
    _at(clock, hours=4)
    act(client, staff_b1, g, "accept")
    act(client, staff_b1, g, "escalate", {"department_id": world["other_department"].id, "note": "请房管所协助"})
    # a2, an hour before "now": still inside its response deadline, left out of the response rate.
    _at(clock, days=20, hours=-1)
    _new(client, world, community="a2")
    _at(clock, days=20)


def _stats(client, user, **query):
    response = client.get("/api/v1/stats/appeals", query_string=query, headers=auth(user))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_the_three_rates_of_a_street_and_its_communities(client, world, clock):
    _story(client, world, clock)
    street = _stats(client, world["street_admin"], region_id=world["street_a"].id)

    assert street["received"] == 7
    # In time: a, c, f of those judged: a, b, c, the unanswered one, f (d withdrawn and the newest left out).
    assert street["response_rate"] == 0.6
    assert street["resolution_rate"] == 0.6667
    assert street["satisfaction_rate"] == 0.6667
    assert street["accepted"] == 3 and street["escalated"] == 0 and street["overdue"] == 1
    assert street["by_kind"] == {"problem": 4, "suggestion": 1, "request": 1, "complaint": 1}
    assert street["by_source"] == {"app": 6, "hotline": 0, "reception": 0, "visit": 1, "meeting": 0}
    assert street["from"] == "2026-01-01" and street["to"] == "2026-12-31"
    children = {child["name"]: child for child in street["children"]}
    assert set(children) == {"a1社区", "a2社区"}
    a1, a2 = children["a1社区"], children["a2社区"]
    assert (a1["received"], a1["response_rate"], a1["resolution_rate"], a1["satisfaction_rate"]) == (
        4, 0.6667, 0.5, 0.5)
    assert (a2["received"], a2["response_rate"], a2["resolution_rate"], a2["satisfaction_rate"]) == (
        3, 0.5, 1.0, 1.0)


def test_a_district_counts_its_streets_and_a_rate_without_denominator_is_null(client, world, clock):
    _story(client, world, clock)
    district = _stats(client, world["district_admin"], region_id=world["district"].id)
    assert district["received"] == 8 and district["escalated"] == 1 and district["overdue"] == 2
    street_b = next(child for child in district["children"] if child["region_id"] == world["street_b"].id)
    assert street_b["received"] == 1 and street_b["response_rate"] == 1.0
    assert street_b["resolution_rate"] == 0.0 and street_b["satisfaction_rate"] is None
    assert street_b["escalated"] == 1 and street_b["by_source"]["hotline"] == 1
    empty = _stats(client, world["district_admin"], region_id=world["b2"].id)
    assert empty["received"] == 0
    assert (empty["response_rate"], empty["resolution_rate"], empty["satisfaction_rate"]) == (None, None, None)
    assert empty["by_kind"] == {"problem": 0, "suggestion": 0, "request": 0, "complaint": 0}


def test_the_dates_count_local_submission_days(client, world, clock):
    clock.move_to(datetime(2026, 3, 1, 23, 30, tzinfo=LOCAL))  # 15:30 UTC on 1 March
    _new(client, world)
    clock.move_to(datetime(2026, 3, 2, 0, 30, tzinfo=LOCAL))  # 16:30 UTC on 1 March
    _new(client, world)
    day = _stats(client, world["admin_a1"], **{"from": "2026-03-02", "to": "2026-03-02"})
    assert day["received"] == 1
    assert _stats(client, world["admin_a1"], **{"from": "2026-03-01", "to": "2026-03-01"})["received"] == 1
    assert _stats(client, world["admin_a1"])["region_id"] == world["a1"].id
    backwards = client.get("/api/v1/stats/appeals", query_string={"from": "2026-03-02", "to": "2026-03-01"},
                           headers=auth(world["admin_a1"]))
    assert backwards.status_code == 422


def test_department_and_unit_admins_get_403_and_other_regions_404(client, world):
    for user in ("department_admin", "unit_admin", "resident"):
        response = client.get("/api/v1/stats/appeals", headers=auth(world[user]))
        assert response.status_code == 403 and error_code(response) == "community_staff_only", user
    response = client.get(f"/api/v1/stats/appeals?region_id={world['street_b'].id}",
                          headers=auth(world["street_admin"]))
    assert response.status_code == 404


def test_dates_are_recorded_in_utc(client, world):
    appeal_id = _new(client, world)
    from models import Appeal

    row = db.session.get(Appeal, appeal_id)
    assert row.created_at == T0.astimezone(UTC) and row.number.startswith(f"{date(2026, 3, 2):%Y%m%d}-")
