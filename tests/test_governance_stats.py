"""GET /stats/governance (held joint meetings by local month, months without one up to the current one, decisions,
open and overdue tasks) and the remind_joint_meeting job (from the 20th, the community's own staff, once a month)."""

import pytest
import time_machine
from sqlalchemy import select

from extensions import db
from models import Notification
from schedulers.jobs import JOBS, run
from tests.factories import auth, error_code, make_staff
from tests.governance_factories import API, governance_world, schedule

NOW = "2026-06-25T10:00:00+08:00"


def hold(client, world, starts_at, kind="joint", decisions=(), staff=None, community=None):
    staff, community = staff or world["admin_a1"], community or world["a1"]
    meeting = schedule(client, staff, community, kind=kind, starts_at=starts_at)
    response = client.post(f"{API}/meetings/{meeting['id']}/minutes",
                           json={"summary": "纪要", "decisions": list(decisions)}, headers=auth(staff))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


@pytest.fixture
def world(client):
    with time_machine.travel(NOW, tick=False):
        world = governance_world()
        owner = world["partners"][2].id
        # Held joint meetings in January (its last evening, local), February, April and June; none held in March
        # (a consultation and a cancelled joint meeting only) or May (one scheduled, never held).
        hold(client, world, "2026-01-31T23:30:00", decisions=[
            {"text": "启动楼道清理", "tasks": [{"title": "物业清理楼道", "owner_partner_id": owner,
                                             "due_date": "2026-06-01"}]}])
        hold(client, world, "2026-02-10T15:00:00", decisions=[{"text": "甲"}, {"text": "乙"}])
        hold(client, world, "2026-03-01T00:30:00", kind="consultation", decisions=[
            {"text": "加装电梯方案", "votes": {"for": 30, "against": 2, "abstain": 1},
             "tasks": [{"title": "出具方案", "owner_partner_id": owner, "due_date": "2026-07-01"},
                       {"title": "公示方案", "owner_partner_id": owner, "due_date": "2026-03-10"}]}])
        cancelled = schedule(client, world["admin_a1"], world["a1"], starts_at="2026-03-15T15:00:00")
        client.post(f"{API}/meetings/{cancelled['id']}/cancel", json={"reason": "改期"},
                    headers=auth(world["admin_a1"]))
        schedule(client, world["admin_a1"], world["a1"], starts_at="2026-05-12T15:00:00")
        hold(client, world, "2026-04-08T15:00:00")
        hold(client, world, "2026-06-05T15:00:00")
        # Last year's December does not count for this year.
        hold(client, world, "2025-12-31T23:30:00", decisions=[{"text": "去年"}])
        yield world


def figures(client, user, query):
    with time_machine.travel(NOW, tick=False):
        response = client.get(f"{API}/stats/governance?{query}", headers=auth(user))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_a_communitys_year_by_local_month(client, world):
    page = figures(client, world["admin_a1"], "")
    assert (page["region_id"], page["year"], page["total"]) == (world["a1"].id, 2026, 1)
    assert page["items"] == [{
        "community_id": world["a1"].id, "name": "a1社区", "joint_meetings": 4,
        "months_without_joint_meeting": [3, 5], "decisions": 4, "tasks_open": 3, "tasks_overdue": 2}]


def test_a_street_lists_each_community_with_the_months_up_to_the_current_one(client, world):
    page = figures(client, world["street_admin"], f"region_id={world['street_a'].id}&year=2026")
    assert [item["community_id"] for item in page["items"]] == [world["a1"].id, world["a2"].id]
    a2 = page["items"][1]
    assert a2["months_without_joint_meeting"] == [1, 2, 3, 4, 5, 6] and a2["joint_meetings"] == 0
    assert figures(client, world["district_admin"], f"region_id={world['district'].id}")["total"] == 4
    paged = figures(client, world["district_admin"], f"region_id={world['district'].id}&per_page=3&page=2")
    assert len(paged["items"]) == 1 and paged["total"] == 4


def test_past_and_future_years(client, world):
    last_year = figures(client, world["admin_a1"], "year=2025")["items"][0]
    assert last_year["months_without_joint_meeting"] == list(range(1, 12)) and last_year["joint_meetings"] == 1
    assert last_year["decisions"] == 1 and last_year["tasks_open"] == 0
    next_year = figures(client, world["admin_a1"], "year=2027")["items"][0]
    assert next_year["months_without_joint_meeting"] == [] and next_year["joint_meetings"] == 0


def test_who_may_read_the_figures(client, world):
    with time_machine.travel(NOW, tick=False):
        for user in (world["member"], world["unit_admin"]):
            response = client.get(f"{API}/stats/governance?region_id={world['a1'].id}", headers=auth(user))
            assert response.status_code == 403 and error_code(response) == "community_staff_only"
        response = client.get(f"{API}/stats/governance?region_id={world['a1'].id}", headers=auth(world["admin_b1"]))
        assert response.status_code == 404 and error_code(response) == "region_not_found"
        response = client.get(f"{API}/stats/governance", headers=auth(world["district_admin"]))
        assert response.status_code == 200
        assert client.get(f"{API}/stats/governance?year=1999", headers=auth(world["admin_a1"])).status_code == 422
        sysadmin = make_staff("sysadmin")
        response = client.get(f"{API}/stats/governance", headers=auth(sysadmin))
        assert response.status_code == 422 and "region_id" in response.get_json()["error"]["details"]


def _missing_notices():
    return list(db.session.execute(select(Notification.member_id, Notification.ref, Notification.key).where(
        Notification.kind == "joint_meeting_missing").order_by(Notification.id)))


def test_the_reminder_tells_the_communitys_own_staff_from_the_20th_once_a_month(client, world):
    second_a2_admin = make_staff("community_admin", world["a2"])
    # a1 has its June joint meeting; a2 has none; b1 has only a cancelled one.
    with time_machine.travel("2026-06-10T10:00:00+08:00", tick=False):
        cancelled = schedule(client, world["admin_b1"], world["b1"], starts_at="2026-06-28T15:00:00")
        client.post(f"{API}/meetings/{cancelled['id']}/cancel", json={"reason": "改期"},
                    headers=auth(world["admin_b1"]))
    with time_machine.travel("2026-06-19T09:30:00+08:00", tick=False):
        assert run(JOBS["remind_joint_meeting"]) == 0
    assert _missing_notices() == []
    with time_machine.travel("2026-06-20T09:30:00+08:00", tick=False):
        assert run(JOBS["remind_joint_meeting"]) == 2
        assert run(JOBS["remind_joint_meeting"]) == 2  # asked again: nobody told twice
    told = _missing_notices()
    assert sorted(member for member, _ref, _key in told) == sorted([second_a2_admin.id, world["admin_b1"].id])
    assert {ref for _member, ref, _key in told} == {f"community:{world['a2'].id}", f"community:{world['b1'].id}"}
    # Staff above the community are not told; a scheduled joint meeting spares a community.
    assert world["street_admin"].id not in {member for member, _ref, _key in told}
    with time_machine.travel("2026-06-21T09:30:00+08:00", tick=False):
        schedule(client, second_a2_admin, world["a2"], starts_at="2026-06-29T15:00:00")
        run(JOBS["remind_joint_meeting"])
    assert len(_missing_notices()) == 2
    # Next month is a new month.
    with time_machine.travel("2026-07-20T09:30:00+08:00", tick=False):
        run(JOBS["remind_joint_meeting"])
    july = [key for _member, _ref, key in _missing_notices() if ":2026-07:" in key]
    assert len(july) == 3  # a1's, a2's and b1's own staff: none has a July joint meeting yet
