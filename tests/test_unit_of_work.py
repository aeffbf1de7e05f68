"""One unit of work per request, job and command (services/database.py): services flush, one place commits, any
exception rolls everything back, and services compose inside one transaction."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from clock import utcnow
from errors import Conflict
from extensions import db
from models import CorrectionRequest, Notification, RecordChange, ServiceRecord, Signup, Wish
from schedulers.jobs import Job, run
from services import activities, notifications, shifts
from services.authz import Actor
from services.database import unit_of_work, update_if
from tests.activity_factories import make_activity, make_post_shift, make_record
from tests.factories import auth, error_code, make_member, make_staff, region_tree


def count(model, *where):
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def test_accepting_a_correction_request_on_a_record_rejected_meanwhile_changes_nothing(client):
    tree = region_tree()
    admin = make_staff("community_admin", tree["a1"])
    member = make_member()
    record = make_record(member, tree["a1"], hours="2.00")
    asked = client.post(f"/api/v1/service-records/{record.id}/correction-requests", headers=auth(member),
                        json={"hours": 2.5, "reason": "签退晚了半小时"})
    assert asked.status_code == 201
    assert client.post(f"/api/v1/service-records/{record.id}/reject", headers=auth(admin),
                       json={"reason": "重复登记"}).status_code == 200

    accepted = client.post(f"/api/v1/correction-requests/{asked.get_json()['id']}/accept", headers=auth(admin))

    assert accepted.status_code == 409 and error_code(accepted) == "invalid_state"
    assert db.session.get(CorrectionRequest, asked.get_json()["id"]).status == "pending"
    assert db.session.get(ServiceRecord, record.id).hours == 2
    assert count(RecordChange, RecordChange.action == "correct") == 0


def test_two_services_compose_atomically_and_a_failure_in_the_second_leaves_nothing_of_the_first():
    tree = region_tree()
    member = make_member()
    activity = make_activity(tree["a1"], capacity=3)
    _post, full_shift = make_post_shift(tree["a1"], utcnow() + timedelta(days=1), assignees=[make_member(),
                                                                                                make_member()])
    actor = Actor(member.id)
    with pytest.raises(Conflict) as refused, unit_of_work():
        activities.sign_up(actor, activity.id)
        assert count(Signup) == 1  # flushed, visible inside the unit of work
        shifts.sign_up(actor, full_shift.id)
    assert refused.value.code == "shift_full"
    db.session.expire_all()
    assert count(Signup) == 0
    assert db.session.get(type(activity), activity.id).confirmed_count == 0
    assert count(Notification, Notification.member_id == member.id) == 0


def test_a_lost_conditional_update_rolls_nothing_back():
    tree = region_tree()
    member = make_member()
    wish = Wish(community_id=tree["a1"].id, title="买米", status="claimed")
    db.session.add(wish)
    db.session.commit()
    with unit_of_work():
        notifications.notify(member.id, "note", "先写下的通知")
        assert update_if(wish, Wish.status == "open", status="cancelled") is False
        assert wish.status == "claimed"
    assert count(Notification, Notification.member_id == member.id) == 1


def test_a_request_that_fails_after_its_service_flushed_leaves_nothing(client, monkeypatch):
    """The view's work is rolled back by the request's end, not by the service."""
    tree = region_tree()
    admin = make_staff("community_admin", tree["a1"])

    def flush_then_fail(actor, **fields):
        db.session.add(Wish(community_id=tree["a1"].id, title="写了一半", status="open"))
        db.session.flush()
        raise Conflict("invalid_state", "失败")

    monkeypatch.setattr("services.wishes.post_wish", flush_then_fail)
    response = client.post("/api/v1/wishes", headers=auth(admin), json={"community_id": tree["a1"].id,
                                                                        "title": "买米"})
    assert response.status_code == 409
    assert count(Wish) == 0


def test_a_failing_job_rolls_back_all_it_did():
    member = make_member()

    def half_done():
        notifications.notify(member.id, "note", "作业写了一半")
        raise RuntimeError("job crashed")

    with pytest.raises(RuntimeError):
        run(Job("half_done", half_done, "interval", {"minutes": 1}))
    assert count(Notification) == 0
    assert run(Job("whole", lambda: notifications.notify(member.id, "note", "完整") or "ok", "interval")) == "ok"
    assert count(Notification) == 1
