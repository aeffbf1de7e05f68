"""Roster generation and fair filling (generate_rosters)."""

from collections import Counter
from datetime import date, datetime, timedelta

import pytest
import requests
import time_machine
from sqlalchemy import event, func, select

from clock import local_day_start, to_local, utcnow
from config import ConfigError
from extensions import db
from models import Notification, Shift, ShiftAssignment, ShiftTemplate
from models.post import AssignmentStatus
from schedulers.jobs import JOBS, run
from services import holidays, rosters
from tests.conftest import fire_at_once
from tests.factories import auth, make_member
from tests.test_posts import SHANGHAI, add_template, join, make_shift, post_with_admin, roster


def at(y, m, d, hh=0, mm=0):
    return datetime(y, m, d, hh, mm, tzinfo=SHANGHAI)


def shift_count():
    return db.session.scalar(select(func.count()).select_from(Shift))


def local_days(items):
    return [item["starts_at"][:10] for item in items]


def test_generation_crosses_the_week_boundary_and_midnight(client):
    admin, post_id = post_with_admin(client)
    # Thursday 2026-03-12: the 14 days run into the week after next.
    with time_machine.travel(at(2026, 3, 12, 1), tick=False):
        add_template(client, admin, post_id, [7], "22:00", "02:00")
        add_template(client, admin, post_id, [1, 5], "07:00", "09:00")
        items = roster(client, admin, post_id, "2026-03-12", "2026-03-25")
    night = [i for i in items if i["starts_at"].endswith("T22:00:00+08:00")]
    # Sunday 22:00 to Monday 02:00: one shift of four hours across the week boundary.
    assert [(i["starts_at"], i["ends_at"]) for i in night] == [
        ("2026-03-15T22:00:00+08:00", "2026-03-16T02:00:00+08:00"),
        ("2026-03-22T22:00:00+08:00", "2026-03-23T02:00:00+08:00"),
    ]
    morning = [i["starts_at"][:10] for i in items if "T07:00" in i["starts_at"]]
    assert morning == ["2026-03-13", "2026-03-16", "2026-03-20", "2026-03-23"]
    # Stored in UTC: 22:00 Shanghai is 14:00 UTC.
    first = next(s for s in db.session.scalars(select(Shift).order_by(Shift.starts_at))
                 if s.ends_at - s.starts_at > timedelta(hours=3))
    assert (first.starts_at.hour, first.ends_at - first.starts_at) == (14, timedelta(hours=4))


def test_holiday_is_skipped_and_make_up_workday_is_worked(client):
    admin, post_id = post_with_admin(client)
    with time_machine.travel(at(2026, 9, 28, 0, 30), tick=False):
        add_template(client, admin, post_id, [1, 2, 3, 4, 5], "08:00", "10:00", skip_holidays=True)
        add_template(client, admin, post_id, [1, 2, 3, 4, 5], "14:00", "16:00")
        items = roster(client, admin, post_id, "2026-09-28", "2026-10-11")
    working = [i["starts_at"][:10] for i in items if "T08:00" in i["starts_at"]]
    # National Day (1–7 October) is skipped; Saturday 10 October is a make-up workday (调休上班).
    assert working == ["2026-09-28", "2026-09-29", "2026-09-30", "2026-10-08", "2026-10-09", "2026-10-10"]
    plain = [i["starts_at"][:10] for i in items if "T14:00" in i["starts_at"]]
    assert plain == ["2026-09-28", "2026-09-29", "2026-09-30", "2026-10-01", "2026-10-02",
                     "2026-10-05", "2026-10-06", "2026-10-07", "2026-10-08", "2026-10-09"]


def test_unknown_calendar_year_falls_back_to_weekdays(client, caplog):
    admin, post_id = post_with_admin(client)
    with time_machine.travel(at(2031, 1, 6, 0, 30), tick=False):  # a Monday in a year the calendar lacks
        add_template(client, admin, post_id, [1, 2, 3, 4, 5, 6, 7], "08:00", "10:00", skip_holidays=True)
        items = roster(client, admin, post_id, "2031-01-06", "2031-01-19")
    assert len(items) == 10
    assert all(date.fromisoformat(i["starts_at"][:10]).isoweekday() <= 5 for i in items)


def test_calendar_file_decides_a_year_the_library_lacks(client, calendar_file):
    # Monday 6 and Tuesday 7 January 2031 off, Saturday 11 January a make-up workday.
    calendar_file({"2031": {"holidays": ["2031-01-06", "2031-01-07"], "workdays": ["2031-01-11"]}})
    admin, post_id = post_with_admin(client)
    with time_machine.travel(at(2031, 1, 5, 0, 30), tick=False):
        add_template(client, admin, post_id, [1, 2, 3, 4, 5], "08:00", "10:00", skip_holidays=True)
        items = roster(client, admin, post_id, "2031-01-05", "2031-01-12")
    assert [i["starts_at"][:10] for i in items] == ["2031-01-08", "2031-01-09", "2031-01-10", "2031-01-11"]


@pytest.mark.parametrize("content, problem", [
    ("not json", "cannot be read"),
    ('{"2031": {"holidays": ["2031-02-30"]}}', "YYYY-MM-DD"),
    ('{"2031": {"holidays": ["2032-01-01"]}}', "another year"),
    ('{"2031": {"holidays": ["2031-01-06"], "workdays": ["2031-01-06"]}}', "both"),
    ('{"next": {}}', "not a year"),
])
def test_a_broken_calendar_file_stops_the_start_with_its_problem(tmp_path, content, problem):
    path = tmp_path / "calendar.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError, match=problem):
        holidays.read_calendar_file(path)


def test_calendar_command_says_which_calendar_decides_a_year(app, calendar_file):
    runner = app.test_cli_runner()
    assert "from the chinese_calendar library" in runner.invoke(args=["calendar", "2026"]).output
    assert "2026-10-01" in runner.invoke(args=["calendar", "2026"]).output
    assert "no official calendar" in runner.invoke(args=["calendar", "2031"]).output
    calendar_file({"2031": {"holidays": ["2031-01-01"], "workdays": []}})
    output = runner.invoke(args=["calendar", "2031"]).output
    assert "from HOLIDAY_CALENDAR_FILE" in output and "holidays: 2031-01-01" in output
    assert "make-up workdays: none" in output


def test_generating_twice_changes_nothing(client):
    admin, post_id = post_with_admin(client)
    members = [make_member() for _ in range(3)]
    for member in members:
        join(client, member, post_id)
    with time_machine.travel(at(2026, 3, 9, 1), tick=False):
        add_template(client, admin, post_id, [1, 2, 3, 4, 5, 6, 7], "07:00", "09:00", seats=2)
        first = run(JOBS["generate_rosters"])
        assignments = db.session.scalar(select(func.count()).select_from(ShiftAssignment))
        second = run(JOBS["generate_rosters"])
    nothing = {"shifts_created": 0, "seats_filled": 0, "shifts_removed": 0}
    assert first == nothing  # the template already made and filled them
    assert second == nothing
    assert shift_count() == 14 and assignments == 28
    assert db.session.scalar(select(func.count()).select_from(ShiftAssignment)) == 28


def test_generation_from_two_processes_at_once_never_duplicates(app, client):
    admin, post_id = post_with_admin(client)
    members = [make_member() for _ in range(5)]
    for member in members:
        join(client, member, post_id)
    with time_machine.travel(at(2026, 3, 9, 1), tick=True):
        # Templates inserted directly, so that only the concurrent runs generate.
        for start, end in (("07:00", "09:00"), ("18:00", "20:00"), ("22:00", "02:00")):
            db.session.add(ShiftTemplate(post_id=post_id, weekdays=[1, 2, 3, 4, 5, 6, 7], start=start, end=end,
                                         seats=2, skip_holidays=False, active=True))
        db.session.commit()

        def generate(_):
            with app.app_context():
                try:
                    return run(JOBS["generate_rosters"])
                finally:
                    db.session.remove()

        results = fire_at_once(4, generate)
    assert sum(r["shifts_created"] for r in results) == 42
    assert shift_count() == 42
    assert sum(r["seats_filled"] for r in results) == 84
    filled = db.session.execute(select(Shift.id, Shift.filled, func.count(ShiftAssignment.id))
                                .join(ShiftAssignment, ShiftAssignment.shift_id == Shift.id)
                                .group_by(Shift.id, Shift.filled)).all()
    assert len(filled) == 42 and all(f == n == 2 for _, f, n in filled)


def test_template_edit_changes_coming_shifts_and_moves_held_ones(client):
    admin, post_id = post_with_admin(client)
    member = make_member()
    with time_machine.travel(at(2026, 3, 9, 6), tick=False):
        template = add_template(client, admin, post_id, [1, 2, 3, 4, 5, 6, 7], "07:00", "09:00", seats=2)
        mine = roster(client, member, post_id, "2026-03-11", "2026-03-11")[0]
        assert client.post(f"/api/v1/shifts/{mine['id']}/signups", headers=auth(member)).status_code == 201
    with time_machine.travel(at(2026, 3, 10, 10), tick=False):  # Tuesday's shift is over
        response = client.patch(f"/api/v1/posts/{post_id}/templates/{template['id']}", headers=auth(admin),
                                json={"start": "08:00", "end": "10:30", "seats": 3})
        assert response.status_code == 200 and response.get_json()["start"] == "08:00"
        items = roster(client, admin, post_id, "2026-03-09", "2026-03-23")
    by_day = {i["starts_at"][:10]: i for i in items}
    # Past shifts keep their time and seats; the held one moves with its holder (tests/test_roster_life.py).
    for day in ("2026-03-09", "2026-03-10"):
        assert by_day[day]["starts_at"].endswith("T07:00:00+08:00") and by_day[day]["seats"] == 2
    assert by_day["2026-03-11"]["starts_at"].endswith("T08:00:00+08:00") and by_day["2026-03-11"]["seats"] == 3
    assert [a["member_id"] for a in by_day["2026-03-11"]["assignees"]] == [member.id]
    later = [i for i in items if i["starts_at"][:10] > "2026-03-11"]
    assert len(later) == 12  # through 23 March: 14 days from the edit
    assert all(i["starts_at"].endswith("T08:00:00+08:00") and i["ends_at"].endswith("T10:30:00+08:00")
               and i["seats"] == 3 for i in later)
    assert shift_count() == 15
    with time_machine.travel(at(2026, 3, 10, 11), tick=False):
        response = client.patch(f"/api/v1/posts/{post_id}/templates/{template['id']}", headers=auth(admin),
                                json={"active": False})
        assert response.status_code == 200
    assert shift_count() == 3
    forbidden = client.patch(f"/api/v1/posts/{post_id}/templates/{template['id']}", headers=auth(member),
                             json={"seats": 5})
    assert forbidden.status_code == 403


def simulate(days, start):
    for n in range(days):
        with time_machine.travel(start + timedelta(days=n), tick=False):
            run(JOBS["generate_rosters"])


def served(post_id, start, end):
    rows = db.session.execute(
        select(ShiftAssignment.member_id, Shift.starts_at).join(Shift, Shift.id == ShiftAssignment.shift_id)
        .where(Shift.post_id == post_id, Shift.starts_at >= start, Shift.starts_at < end,
               ShiftAssignment.status == "assigned")).all()
    return rows


def test_fill_is_fair_over_four_simulated_weeks(client):
    admin, post_id = post_with_admin(client)
    members = [make_member() for _ in range(5)]
    for member in members:
        join(client, member, post_id)
    start = at(2026, 3, 2, 0, 30)  # a Monday
    with time_machine.travel(start, tick=False):
        add_template(client, admin, post_id, [1, 2, 3, 4, 5, 6, 7], "07:00", "09:00", seats=2)
        add_template(client, admin, post_id, [6, 7], "09:00", "12:00", seats=1)
        add_template(client, admin, post_id, [2, 4], "18:00", "21:00", seats=3)
    simulate(28, start)
    rows = served(post_id, start, start + timedelta(weeks=4))
    counts = Counter(member_id for member_id, _ in rows)
    # Every seat of the four weeks was filled, and the load is even.
    assert sum(counts.values()) == 28 * 2 + 8 * 1 + 8 * 3
    assert set(counts) == {m.id for m in members}
    assert max(counts.values()) - min(counts.values()) <= 1, counts
    # Never one member twice at overlapping times.
    by_member = {}
    for member_id, starts_at in rows:
        by_member.setdefault(member_id, []).append(starts_at)
    assert all(len(v) == len(set(v)) for v in by_member.values())


def test_unavailability_is_respected_and_the_rest_share_evenly(client):
    admin, post_id = post_with_admin(client)
    busy_mondays = make_member(unavailable_weekdays=[1], unavailable_dates=["2026-03-12"])
    others = [make_member() for _ in range(3)]
    for member in [busy_mondays, *others]:
        join(client, member, post_id)
    outsider = make_member()  # not in the pool: never scheduled
    start = at(2026, 3, 2, 0, 30)
    with time_machine.travel(start, tick=False):
        add_template(client, admin, post_id, [1, 2, 3, 4, 5, 6, 7], "07:00", "09:00", seats=1)
        # Sunday night into Monday touches Monday: not for a member unavailable on Mondays.
        add_template(client, admin, post_id, [7], "22:00", "01:00", seats=1)
    simulate(28, start)
    rows = served(post_id, start, start + timedelta(weeks=4))
    assert outsider.id not in {m for m, _ in rows}
    mine = [s.astimezone(SHANGHAI) for m, s in rows if m == busy_mondays.id]
    assert mine and all(s.isoweekday() != 1 and s.date() != date(2026, 3, 12) for s in mine)
    assert all(s.isoweekday() != 7 or s.hour != 22 for s in mine)
    counts = Counter(m for m, _ in rows)
    assert max(counts[o.id] for o in others) - min(counts[o.id] for o in others) <= 1, counts
    assert all(a.source == "scheduler" for a in db.session.scalars(select(ShiftAssignment)))


def add_raw_template(post_id, start, end, seats, weekdays=(1, 2, 3, 4, 5, 6, 7)):
    """A template stored directly, so that only the generation under test makes its shifts."""
    db.session.add(ShiftTemplate(post_id=post_id, weekdays=list(weekdays), start=start, end=end, seats=seats,
                                 skip_holidays=False, active=True))
    db.session.commit()


def held_rows():
    return db.session.execute(
        select(ShiftAssignment.member_id, Shift.id, Shift.post_id, Shift.starts_at, Shift.ends_at)
        .join(Shift, Shift.id == ShiftAssignment.shift_id)
        .where(ShiftAssignment.status.in_(AssignmentStatus.HELD))).all()


def assert_no_overbooking_or_overlap():
    rows = held_rows()
    held = Counter(shift_id for _, shift_id, _, _, _ in rows)
    for shift in db.session.scalars(select(Shift)):
        assert shift.filled == held[shift.id] <= shift.seats, (shift.id, shift.filled, held[shift.id])
    by_member = {}
    for member_id, _, _, starts, ends in rows:
        by_member.setdefault(member_id, []).append((starts, ends))
    for spans in by_member.values():
        spans.sort()
        assert all(e <= s for (_, e), (s, _) in zip(spans, spans[1:], strict=False)), spans


@pytest.mark.parametrize("posts_per_batch", [1, 100])
def test_a_member_in_two_pools_is_never_given_overlapping_shifts(client, monkeypatch, posts_per_batch):
    monkeypatch.setattr(rosters, "POSTS_PER_BATCH", posts_per_batch)
    _, first_post = post_with_admin(client)
    _, second_post = post_with_admin(client, "b1")
    both = make_member()
    only_second = make_member()
    join(client, both, first_post)
    join(client, both, second_post)
    join(client, only_second, second_post)
    with time_machine.travel(at(2026, 3, 9, 1), tick=False):
        add_raw_template(first_post, "07:00", "09:00", seats=1)
        add_raw_template(second_post, "08:00", "10:00", seats=2)
        outcome = run(JOBS["generate_rosters"])
    # The first post (lower id) is filled first; the second gets the member only where they are free.
    assert outcome == {"shifts_created": 28, "seats_filled": 14 + 14, "shifts_removed": 0}
    rows = held_rows()
    assert {post for member, _, post, _, _ in rows if member == both.id} == {first_post}
    assert {member for member, _, post, _, _ in rows if post == second_post} == {only_second.id}
    assert_no_overbooking_or_overlap()


def test_generation_writes_in_bulk_not_per_seat(app, client):
    posts = [post_with_admin(client, key)[1] for key in ("a1", "a2", "b1")]
    for post_id in posts:
        for _ in range(4):
            join(client, make_member(), post_id)
    statements = []

    def count(*_):
        statements.append(1)

    with time_machine.travel(at(2026, 3, 9, 1), tick=False):
        for post_id in posts:
            add_raw_template(post_id, "07:00", "09:00", seats=2)
            add_raw_template(post_id, "18:00", "20:00", seats=2)
        event.listen(db.engine, "before_cursor_execute", count)
        try:
            outcome = run(JOBS["generate_rosters"])
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
    assert outcome == {"shifts_created": 84, "seats_filled": 168, "shifts_removed": 0}
    # A fixed handful per batch of posts (select, lock, insert, update), where it used to be four per seat.
    assert len(statements) <= 15, len(statements)
    notices = db.session.scalars(select(Notification).where(Notification.kind == "shift_assigned")).all()
    assert len(notices) == 168 and len({n.key for n in notices}) == 168
    assert {n.ref for n in notices} == {f"shift:{s.id}" for s in db.session.scalars(select(Shift))}
    assert_no_overbooking_or_overlap()


def test_sign_ups_during_generation_never_overbook_or_overlap(app, client, live_server):
    _, post_id = post_with_admin(client)
    _, other_post = post_with_admin(client, "b1")
    add_raw_template(post_id, "07:00", "09:00", seats=2)
    assert run(JOBS["generate_rosters"])["seats_filled"] == 0  # the shifts exist, the pool is still empty
    pool = [make_member() for _ in range(3)]
    outsiders = [make_member() for _ in range(4)]
    for member in pool:
        join(client, member, post_id)
    tomorrow = to_local(utcnow()).date() + timedelta(days=1)
    target = db.session.scalar(select(Shift).where(Shift.post_id == post_id,
                                                   Shift.starts_at >= local_day_start(tomorrow))
                               .order_by(Shift.starts_at))
    # Overlaps the target: a pool member gets one or the other, never both.
    clash = make_shift(other_post, target.starts_at + timedelta(hours=1), hours=2, seats=5)
    calls = [(f"{live_server}/api/v1/shifts/{clash.id}/signups", auth(m)) for m in pool]
    calls += [(f"{live_server}/api/v1/shifts/{target.id}/signups", auth(m)) for m in outsiders]

    def call(i):
        if i == len(calls):
            with app.app_context():
                try:
                    return run(JOBS["generate_rosters"])
                finally:
                    db.session.remove()
        url, headers = calls[i]
        response = requests.post(url, headers=headers, timeout=30)
        return response.status_code, response.json().get("error", {}).get("code")

    *answers, outcome = fire_at_once(len(calls) + 1, call)
    assert {code for code, _ in answers} <= {201, 409}, answers
    assert {error for code, error in answers if code == 409} <= {"overlap", "shift_full"}, answers
    db.session.expire_all()
    assert_no_overbooking_or_overlap()
    shifts = db.session.scalars(select(Shift).where(Shift.post_id == post_id)).all()
    assert shifts and all(s.filled == 2 for s in shifts)
    assert outcome["seats_filled"] == sum(1 for member, _, post, _, _ in held_rows()
                                          if post == post_id and member in {m.id for m in pool})
