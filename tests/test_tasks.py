"""Tasks from meetings' decisions: who lists and completes them, done once with a note, overdue by local date, and
the overdue reminder told once."""

from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from clock import local_today
from extensions import db
from models import MeetingTask, Notification
from schedulers.jobs import JOBS, run
from tests.factories import auth, error_code, make_department, make_staff
from tests.governance_factories import API, governance_world, held_meeting


@pytest.fixture
def world():
    return governance_world()


@pytest.fixture
def meeting(client, world):
    return held_meeting(client, world)


def tasks_of(client, user, query=""):
    response = client.get(f"{API}/tasks{'?' + query if query else ''}", headers=auth(user))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def done(client, user, task_id, note="已办结"):
    return client.post(f"{API}/tasks/{task_id}/done", json={"note": note}, headers=auth(user))


def test_community_staff_list_their_tasks_most_urgent_first(client, world, meeting):
    page = tasks_of(client, world["admin_a1"])
    assert [t["title"] for t in page["items"]] == ["医院党支部组织志愿者入户宣传", "物业公司出具施工方案"]
    first = page["items"][0]
    assert set(first) >= {"id", "meeting_id", "decision_index", "title", "owner_partner_id", "owner_name",
                          "due_date", "status", "overdue", "note", "done_at"}
    assert (first["meeting_id"], first["decision_index"], first["owner_name"], first["status"]) == (
        meeting["id"], 0, "示范区人民医院党支部", "open")
    assert tasks_of(client, world["street_admin"])["total"] == 2
    assert tasks_of(client, world["admin_b1"])["total"] == 0
    assert tasks_of(client, world["admin_a1"], f"community_id={world['b1'].id}")["total"] == 0
    owner = world["partners"][2].id
    assert [t["title"] for t in tasks_of(client, world["admin_a1"], f"owner_partner_id={owner}")["items"]] == [
        "物业公司出具施工方案"]
    assert tasks_of(client, world["admin_a1"], f"meeting_id={meeting['id']}")["total"] == 2


def test_a_units_admins_see_and_complete_their_units_tasks_only(client, world, meeting):
    page = tasks_of(client, world["unit_admin"])
    assert [t["owner_partner_id"] for t in page["items"]] == [world["unit_partner"].id]
    assert tasks_of(client, world["other_unit_admin"])["total"] == 0
    own, other = (next(t for t in meeting["decisions"][0]["tasks"] if t["owner_partner_id"] == owner)
                  for owner in (world["unit_partner"].id, world["partners"][2].id))
    response = done(client, world["other_unit_admin"], own["id"])
    assert response.status_code == 404 and error_code(response) == "task_not_found"
    response = done(client, world["unit_admin"], other["id"])
    assert response.status_code == 404
    response = done(client, world["unit_admin"], own["id"], "组织志愿者入户 40 户")
    assert response.status_code == 200 and response.get_json()["status"] == "done"


def test_done_once_with_a_note(client, world, meeting):
    task = meeting["decisions"][0]["tasks"][0]
    assert done(client, world["admin_a1"], task["id"], "   ").status_code == 422
    assert client.post(f"{API}/tasks/{task['id']}/done", json={}, headers=auth(world["admin_a1"])).status_code == 422
    response = done(client, world["admin_a1"], task["id"], "施工方案已提交居委会")
    assert response.status_code == 200
    body = response.get_json()
    assert (body["status"], body["note"], body["overdue"]) == ("done", "施工方案已提交居委会", False)
    assert body["done_at"]
    again = done(client, world["street_admin"], task["id"], "再办一次")
    assert again.status_code == 409 and error_code(again) == "invalid_state"
    assert db.session.get(MeetingTask, task["id"]).note == "施工方案已提交居委会"
    assert tasks_of(client, world["admin_a1"], "status=done")["total"] == 1
    assert tasks_of(client, world["admin_a1"], "status=open")["total"] == 1


def test_who_may_complete(client, world, meeting):
    task_id = meeting["decisions"][0]["tasks"][0]["id"]
    response = done(client, world["member"], task_id)
    assert response.status_code == 403 and error_code(response) == "staff_only"
    department_admin = make_staff("department_admin", make_department(world["street_a"]))
    assert done(client, department_admin, task_id).status_code == 403
    assert client.get(f"{API}/tasks", headers=auth(department_admin)).status_code == 403
    assert client.get(f"{API}/tasks", headers=auth(world["member"])).status_code == 403
    assert done(client, world["admin_b1"], task_id).status_code == 404
    assert done(client, world["admin_a1"], 999_999).status_code == 404


def test_a_task_is_overdue_once_its_local_due_date_has_ended(client, world, meeting):
    due = local_today() + timedelta(days=7)
    assert tasks_of(client, world["admin_a1"], "status=overdue")["total"] == 0
    with time_machine.travel(f"{due.isoformat()}T23:59:00+08:00"):
        assert tasks_of(client, world["admin_a1"], "status=overdue")["total"] == 0
    with time_machine.travel(f"{(due + timedelta(days=1)).isoformat()}T00:01:00+08:00"):
        page = tasks_of(client, world["admin_a1"], "status=overdue")
        assert [t["title"] for t in page["items"]] == ["医院党支部组织志愿者入户宣传"]
        assert page["items"][0]["overdue"] is True
    assert client.get(f"{API}/tasks?status=late", headers=auth(world["admin_a1"])).status_code == 422


def _overdue_notices(kind="task_overdue"):
    return list(db.session.execute(select(Notification.member_id, Notification.ref).where(Notification.kind == kind)
                                   .order_by(Notification.id)))


def test_overdue_tasks_tell_the_communitys_own_staff_and_the_owner_unit_once(client, world, meeting):
    second_admin = make_staff("community_admin", world["a1"])
    late = local_today() + timedelta(days=8)
    with time_machine.travel(f"{late.isoformat()}T09:40:00+08:00"):
        assert run(JOBS["remind_overdue_tasks"]) == 1
        assert run(JOBS["remind_overdue_tasks"]) == 0
    task = next(t for t in meeting["decisions"][0]["tasks"] if t["owner_partner_id"] == world["unit_partner"].id)
    notices = _overdue_notices()
    assert sorted(member for member, _ref in notices) == sorted(
        [world["admin_a1"].id, second_admin.id, world["unit_admin"].id])
    assert {ref for _member, ref in notices} == {f"task:{task['id']}"}
    # Street staff are not told; a done task is never told.
    assert world["street_admin"].id not in {member for member, _ref in notices}
    done(client, world["admin_a1"], next(t["id"] for t in meeting["decisions"][0]["tasks"] if t["id"] != task["id"]))
    with time_machine.travel(f"{(late + timedelta(days=30)).isoformat()}T09:40:00+08:00"):
        assert run(JOBS["remind_overdue_tasks"]) == 0
    assert db.session.scalar(select(func.count()).select_from(Notification).where(
        Notification.kind == "task_overdue")) == 3
