"""The official calendar entered in the database (contract: Holidays; precisions: WeChat platform, Holidays)."""

from datetime import datetime

import pytest
import requests
import time_machine
from chinese_calendar.constants import holidays as package_holidays
from chinese_calendar.constants import workdays as package_workdays
from sqlalchemy import event, func, select

from extensions import db
from models import Notification, OfficialCalendar, Shift, ShiftAssignment
from schedulers.jobs import JOBS, run
from services import rosters
from tests.conftest import fire_at_once
from tests.factories import auth, error_code, make_member, make_staff, region_tree
from tests.test_posts import SHANGHAI, add_template, join, post_with_admin, roster

# 2027's New Year as a sysadmin would enter it, with a make-up Saturday: the package knows nothing of 2027.
NEW_YEAR_2027 = {"holidays": ["2027-01-03", "2027-01-01", "2027-01-02", "2027-01-01"], "workdays": ["2027-01-09"]}


def at(y, m, d, hh=0, mm=0):
    return datetime(y, m, d, hh, mm, tzinfo=SHANGHAI)


DECEMBER_28 = at(2026, 12, 28, 0, 30)


def local_days(items):
    return [item["starts_at"][:10] for item in items]


def calendar(client, user, year):
    return client.get(f"/api/v1/calendar/{year}", headers=auth(user))


def put_calendar(client, user, year, body):
    return client.put(f"/api/v1/calendar/{year}", headers=auth(user), json=body)


def days_of(year, days):
    return sorted(d.isoformat() for d in days if d.year == year)


def test_a_year_nobody_knows_is_entered_read_by_anyone_and_withdrawn(client):
    sysadmin, member = make_staff("sysadmin"), make_member()
    assert calendar(client, member, 2027).get_json() == {"year": 2027, "source": "none", "holidays": [],
                                                         "workdays": []}
    response = put_calendar(client, sysadmin, 2027, NEW_YEAR_2027)
    entered = {"year": 2027, "source": "official", "holidays": ["2027-01-01", "2027-01-02", "2027-01-03"],
               "workdays": ["2027-01-09"]}
    assert response.status_code == 200 and response.get_json() == entered
    assert calendar(client, member, 2027).get_json() == entered
    row = db.session.get(OfficialCalendar, 2027)
    assert row.updated_by == sysadmin.id and row.updated_at is not None

    # Entered again: the new arrangement replaces the old one whole.
    again = put_calendar(client, sysadmin, 2027, {"holidays": ["2027-01-01"], "workdays": []})
    assert again.get_json()["holidays"] == ["2027-01-01"] and again.get_json()["workdays"] == []

    assert client.delete("/api/v1/calendar/2027", headers=auth(sysadmin)).status_code == 204
    assert calendar(client, member, 2027).get_json()["source"] == "none"
    gone = client.delete("/api/v1/calendar/2027", headers=auth(sysadmin))
    assert gone.status_code == 404 and error_code(gone) == "calendar_not_found"


def test_a_year_the_package_knows_until_an_entry_overrides_it(client):
    sysadmin = make_staff("sysadmin")
    package = calendar(client, sysadmin, 2025).get_json()
    assert package == {"year": 2025, "source": "package", "holidays": days_of(2025, package_holidays),
                       "workdays": days_of(2025, package_workdays)}
    assert "2025-10-01" in package["holidays"] and "2025-09-28" in package["workdays"]
    put_calendar(client, sysadmin, 2025, {"holidays": ["2025-10-01"], "workdays": []})
    assert calendar(client, sysadmin, 2025).get_json()["source"] == "official"
    assert client.delete("/api/v1/calendar/2025", headers=auth(sysadmin)).status_code == 204
    assert calendar(client, sysadmin, 2025).get_json() == package


def test_only_a_sysadmin_enters_or_withdraws_a_calendar(client):
    tree = region_tree()
    for user in (make_staff("community_admin", tree["a1"]), make_staff("district_admin", tree["district"]),
                 make_member()):
        # The role's 403 comes before any field's 422.
        for body in (NEW_YEAR_2027, {"holidays": ["not a date"]}):
            refused = put_calendar(client, user, 2027, body)
            assert refused.status_code == 403 and error_code(refused) == "sysadmin_only"
        refused = client.delete("/api/v1/calendar/2027", headers=auth(user))
        assert refused.status_code == 403 and error_code(refused) == "sysadmin_only"
        assert calendar(client, user, 2027).status_code == 200
    assert client.get("/api/v1/calendar/2027").status_code == 401
    assert db.session.scalar(select(func.count()).select_from(OfficialCalendar)) == 0


@pytest.mark.parametrize("body, fields", [
    ({"holidays": ["2026-12-31", "2027-01-01"], "workdays": []}, {"holidays"}),
    ({"holidays": ["2027-01-01"], "workdays": ["2028-01-08"]}, {"workdays"}),
    ({"holidays": ["2027-01-01", "2027-01-09"], "workdays": ["2027-01-09"]}, {"holidays", "workdays"}),
    ({"holidays": ["2027-02-30"], "workdays": []}, {"holidays"}),
    ({"holidays": ["tomorrow"], "workdays": []}, {"holidays"}),
    ({"holidays": "2027-01-01", "workdays": []}, {"holidays"}),
    ({"holidays": ["2027-01-01"], "workdays": [20270109]}, {"workdays"}),
    ({"holidays": ["2027-01-01"]}, {"workdays"}),
])
def test_a_date_of_another_year_in_both_lists_or_malformed_is_refused_naming_the_field(client, body, fields):
    response = put_calendar(client, make_staff("sysadmin"), 2027, body)
    assert response.status_code == 422 and error_code(response) == "validation_failed"
    assert set(response.get_json()["error"]["details"]) == fields
    assert db.session.get(OfficialCalendar, 2027) is None


@pytest.mark.parametrize("year", [1999, 2101, 99999])
def test_a_year_outside_2000_to_2100_is_not_found(client, year):
    sysadmin = make_staff("sysadmin")
    empty = {"holidays": [], "workdays": []}
    for response in (calendar(client, sysadmin, year), put_calendar(client, sysadmin, year, empty),
                     client.delete(f"/api/v1/calendar/{year}", headers=auth(sysadmin))):
        assert response.status_code == 404 and error_code(response) == "year_out_of_range"


def test_an_entry_made_by_another_process_is_seen_at_once(client):
    member = make_member()
    assert calendar(client, member, 2027).get_json()["source"] == "none"
    # As another gunicorn worker would: the row appears between two requests of this process.
    db.session.add(OfficialCalendar(year=2027, holidays=["2027-01-01"], workdays=[]))
    db.session.commit()
    assert calendar(client, member, 2027).get_json()["holidays"] == ["2027-01-01"]
    db.session.delete(db.session.get(OfficialCalendar, 2027))
    db.session.commit()
    assert calendar(client, member, 2027).get_json()["source"] == "none"


def test_simultaneous_entries_of_a_new_year_leave_one(client, live_server):
    headers = [auth(make_staff("sysadmin")) for _ in range(4)]
    bodies = [{"holidays": [f"2027-01-0{n + 1}"], "workdays": []} for n in range(4)]

    def enter(i):
        return requests.put(f"{live_server}/api/v1/calendar/2027", json=bodies[i], headers=headers[i], timeout=30)

    answers = fire_at_once(4, enter)
    assert [a.status_code for a in answers] == [200] * 4
    rows = db.session.scalars(select(OfficialCalendar)).all()
    assert len(rows) == 1 and [rows[0].holidays] in [[b["holidays"]] for b in bodies]


def test_the_entered_year_wins_over_the_file(app, client, calendar_file):
    # The file: Monday 6 and Tuesday 7 January 2031 off. The sysadmin's entry: only Wednesday 8 off.
    calendar_file({"2031": {"holidays": ["2031-01-06", "2031-01-07"], "workdays": []}})
    sysadmin = make_staff("sysadmin")
    from_file = calendar(client, sysadmin, 2031).get_json()
    assert from_file == {"year": 2031, "source": "official", "holidays": ["2031-01-06", "2031-01-07"],
                         "workdays": []}
    put_calendar(client, sysadmin, 2031, {"holidays": ["2031-01-08"], "workdays": ["2031-01-11"]})
    assert calendar(client, sysadmin, 2031).get_json()["holidays"] == ["2031-01-08"]

    runner = app.test_cli_runner()
    output = runner.invoke(args=["calendar", "2031"]).output
    assert "from the database" in output and "the database entry wins" in output
    assert "holidays: 2031-01-08" in output and "make-up workdays: 2031-01-11" in output

    admin, post_id = post_with_admin(client)
    with time_machine.travel(at(2031, 1, 5, 0, 30), tick=False):
        add_template(client, admin, post_id, [1, 2, 3, 4, 5], "08:00", "10:00", skip_holidays=True)
        items = roster(client, admin, post_id, "2031-01-05", "2031-01-12")
    assert local_days(items) == ["2031-01-06", "2031-01-07", "2031-01-09", "2031-01-10", "2031-01-11"]

    assert client.delete("/api/v1/calendar/2031", headers=auth(sysadmin)).status_code == 204
    assert calendar(client, sysadmin, 2031).get_json() == from_file
    assert "from HOLIDAY_CALENDAR_FILE" in runner.invoke(args=["calendar", "2031"]).output


# Rosters from Monday 28 December 2026 on: the 14 days reach into 2027, which no source knows yet.

def shift_on(post_id, day, hour="08"):
    return next(s for s in db.session.scalars(select(Shift).where(Shift.post_id == post_id))
                if s.starts_at.astimezone(SHANGHAI).isoformat().startswith(f"{day}T{hour}:"))


def day_off_notices():
    return db.session.scalars(select(Notification).where(Notification.kind == "shift_on_holiday")).all()


def test_generated_shifts_follow_a_calendar_entered_later(client):
    sysadmin = make_staff("sysadmin")
    admin, post_id = post_with_admin(client)
    holder, quitter, pool_member = make_member(), make_member(), make_member()
    with time_machine.travel(DECEMBER_28, tick=False):
        add_template(client, admin, post_id, [1, 2, 3, 4, 5], "08:00", "10:00", seats=2, skip_holidays=True)
        # Not knowing 2027, the roster works Friday 1 and Monday 4 January and leaves Saturday 9 off.
        before = local_days(roster(client, admin, post_id, "2026-12-28", "2027-01-10"))
        assert before == ["2026-12-28", "2026-12-29", "2026-12-30", "2026-12-31", "2027-01-01", "2027-01-04",
                          "2027-01-05", "2027-01-06", "2027-01-07", "2027-01-08"]
        held = shift_on(post_id, "2027-01-04").id
        assert client.post(f"/api/v1/shifts/{held}/signups", headers=auth(holder)).status_code == 201
        declined = shift_on(post_id, "2027-01-01").id
        assert client.post(f"/api/v1/shifts/{declined}/signups", headers=auth(quitter)).status_code == 201
        assert client.delete(f"/api/v1/shifts/{declined}/signups/me", headers=auth(quitter)).status_code == 204
        join(client, pool_member, post_id)  # the next run fills from the pool

        # The State Council's arrangement arrives: 1–4 January off (the 4th for the test), Saturday 9 worked.
        body = {"holidays": ["2027-01-01", "2027-01-02", "2027-01-03", "2027-01-04"], "workdays": ["2027-01-09"]}
        assert put_calendar(client, sysadmin, 2027, body).status_code == 200
        outcome = run(JOBS["generate_rosters"])
        after = roster(client, admin, post_id, "2026-12-28", "2027-01-10")

    assert outcome["shifts_removed"] == 1 and outcome["shifts_created"] == 1
    # Friday 1 January went, with its declined seat; Monday 4 stays for its holder; Saturday 9 is worked.
    assert local_days(after) == ["2026-12-28", "2026-12-29", "2026-12-30", "2026-12-31", "2027-01-04",
                                 "2027-01-05", "2027-01-06", "2027-01-07", "2027-01-08", "2027-01-09"]
    assert db.session.get(Shift, declined) is None
    assert db.session.scalar(select(func.count()).select_from(ShiftAssignment)
                             .where(ShiftAssignment.member_id == quitter.id)) == 0
    kept = next(i for i in after if i["id"] == held)
    # The kept shift is not filled further; the others are, from the pool.
    assert [a["member_id"] for a in kept["assignees"]] == [holder.id] and kept["filled"] == 1
    assert all(pool_member.id in {a["member_id"] for a in i["assignees"]} for i in after if i["id"] != held)
    [notice] = day_off_notices()
    assert (notice.member_id, notice.ref) == (holder.id, f"shift:{held}")

    with time_machine.travel(DECEMBER_28, tick=False):
        again = run(JOBS["generate_rosters"])
    assert again == {"shifts_created": 0, "seats_filled": 0, "shifts_removed": 0}
    assert len(day_off_notices()) == 1  # told once


def test_a_withdrawn_make_up_workday_loses_its_unheld_shift(client):
    sysadmin = make_staff("sysadmin")
    admin, post_id = post_with_admin(client)
    put_calendar(client, sysadmin, 2027, NEW_YEAR_2027)
    with time_machine.travel(DECEMBER_28, tick=False):
        add_template(client, admin, post_id, [1, 2, 3, 4, 5], "08:00", "10:00", skip_holidays=True)
        assert "2027-01-09" in local_days(roster(client, admin, post_id, "2027-01-09", "2027-01-09"))
        put_calendar(client, sysadmin, 2027, {**NEW_YEAR_2027, "workdays": []})
        assert run(JOBS["generate_rosters"])["shifts_removed"] == 1
        assert roster(client, admin, post_id, "2027-01-09", "2027-01-09") == []


def test_a_template_change_corrects_its_post_inside_the_request(client):
    sysadmin = make_staff("sysadmin")
    admin, post_id = post_with_admin(client)
    with time_machine.travel(DECEMBER_28, tick=False):
        add_template(client, admin, post_id, [1, 2, 3, 4, 5], "08:00", "10:00", skip_holidays=True)
        put_calendar(client, sysadmin, 2027, NEW_YEAR_2027)
        # Another template of the post is added: its generation also corrects the first one's shifts.
        add_template(client, admin, post_id, [6], "14:00", "16:00")
        mornings = [i for i in roster(client, admin, post_id, "2026-12-28", "2027-01-10") if "T08:00" in i["starts_at"]]
    assert "2027-01-01" not in local_days(mornings) and "2027-01-09" in local_days(mornings)


def test_a_generation_run_reads_the_calendar_once(app, client, monkeypatch):
    monkeypatch.setattr(rosters, "POSTS_PER_BATCH", 1)
    posts = [post_with_admin(client, key) for key in ("a1", "a2", "b1")]
    with time_machine.travel(DECEMBER_28, tick=False):
        for admin, post_id in posts:
            add_template(client, admin, post_id, [1, 2, 3, 4, 5], "08:00", "10:00", skip_holidays=True)
            add_template(client, admin, post_id, [1, 3, 5, 6], "18:00", "20:00", skip_holidays=True)
        reads = []

        def count(_conn, _cursor, statement, *_):
            if "official_calendars" in statement:
                reads.append(statement)

        event.listen(db.engine, "before_cursor_execute", count)
        try:
            run(JOBS["generate_rosters"])
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
    # Three batches, two templates each, fourteen days across two years: one read.
    assert len(reads) == 1

