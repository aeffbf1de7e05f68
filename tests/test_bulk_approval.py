"""POST /service-records/approve: many records approved at once, each under the rules of a single approval,
points credited once each, in a number of statements that does not grow with the records."""

from datetime import timedelta

import requests
from sqlalchemy import func, select

from clock import utcnow
from extensions import db
from models import Notification, PointsEntry, RecordChange, Region, ServiceRecord
from services import points, rollups, stats
from tests.activity_factories import make_activity, make_record
from tests.conftest import fire_at_once, postgres_only
from tests.factories import auth, error_code, make_member, make_staff, region_tree

URL = "/api/v1/service-records/approve"


def status_of(record_id):
    return db.session.scalar(select(ServiceRecord.status).where(ServiceRecord.id == record_id)
                             .execution_options(populate_existing=True))


def test_records_are_approved_and_those_that_may_not_be_are_skipped_with_the_reason(client):
    tree = region_tree()
    admin = make_staff("community_admin", tree["a1"])
    member = make_member()
    pending = [make_record(member, tree["a1"], hours="1.50") for _ in range(3)]
    approved = make_record(member, tree["a1"], status="approved")
    elsewhere = make_record(member, tree["b1"])
    own = make_record(admin, tree["a1"])
    ids = [r.id for r in (*pending, approved, elsewhere, own)] + [pending[0].id, 999_999]
    response = client.post(URL, json={"ids": ids}, headers=auth(admin))
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"approved": 3, "skipped": [
        {"id": approved.id, "code": "invalid_state"}, {"id": elsewhere.id, "code": "record_not_found"},
        {"id": own.id, "code": "own_record"}, {"id": 999_999, "code": "record_not_found"}]}
    assert [status_of(r.id) for r in pending] == ["approved"] * 3
    assert (status_of(elsewhere.id), status_of(own.id)) == ("pending", "pending")
    # As a single approval leaves them: points, a history line, a notice each; the figures count them.
    assert points.balance(member.id) == 3 * 15
    changes = db.session.scalars(select(RecordChange).where(RecordChange.action == "approve")).all()
    assert sorted(c.record_id for c in changes) == sorted(r.id for r in pending)
    assert all(c.actor_id == admin.id and c.before["status"] == "pending" and c.after["status"] == "approved"
               for c in changes)
    assert db.session.scalar(select(func.count()).select_from(Notification).where(
        Notification.kind == "hours_approved", Notification.member_id == member.id)) == 3
    year = utcnow().year
    figures = client.get("/api/v1/stats/overview", query_string={"region_id": tree["a1"].id, "year": year},
                         headers=auth(admin)).get_json()
    recomputed = stats.compute(db.session.get(Region, tree["a1"].id), year)
    assert figures["approved_hours"] == float(recomputed["approved_hours"]) == 4.5 + 2.0
    # Approved once: a second bulk approval and a single one find nothing to do.
    again = client.post(URL, json={"ids": [pending[0].id]}, headers=auth(admin)).get_json()
    assert again == {"approved": 0, "skipped": [{"id": pending[0].id, "code": "invalid_state"}]}
    single = client.post(f"/api/v1/service-records/{pending[1].id}/approve", headers=auth(admin))
    assert single.status_code == 409
    assert points.balance(member.id) == 45


def test_every_pending_record_of_an_activity(client):
    tree = region_tree()
    admin = make_staff("street_admin", tree["street_a"])
    activity = make_activity(tree["a2"], starts_at=utcnow() - timedelta(days=1))
    members = [make_member() for _ in range(4)]
    records = [make_record(m, tree["a2"], activity_id=activity.id) for m in members]
    rejected = make_record(members[0], tree["a2"], activity_id=activity.id, status="rejected")
    unrelated = make_record(members[0], tree["a2"])
    body = client.post(URL, json={"activity_id": activity.id}, headers=auth(admin)).get_json()
    assert body == {"approved": 4, "skipped": []}
    assert [status_of(r.id) for r in records] == ["approved"] * 4
    assert (status_of(rejected.id), status_of(unrelated.id)) == ("rejected", "pending")


def test_staff_hours_are_decided_from_above_in_bulk_too(client):
    tree = region_tree()
    colleague = make_staff("community_admin", tree["a1"])
    admin = make_staff("community_admin", tree["a1"])
    street_admin = make_staff("street_admin", tree["street_a"])
    record = make_record(colleague, tree["a1"])
    body = client.post(URL, json={"ids": [record.id]}, headers=auth(admin)).get_json()
    assert body["skipped"] == [{"id": record.id, "code": "own_record"}]
    body = client.post(URL, json={"ids": [record.id]}, headers=auth(street_admin)).get_json()
    assert body == {"approved": 1, "skipped": []}


def test_bad_requests_change_nothing(client):
    tree = region_tree()
    admin = make_staff("community_admin", tree["a1"])
    record = make_record(make_member(), tree["a1"])
    other_activity = make_activity(tree["b1"])
    both = {"ids": [record.id], "activity_id": other_activity.id}
    for body, field in (({}, "ids"), ({}, "activity_id"), (both, "ids"),
                        ({"ids": []}, "ids"), ({"ids": list(range(1, 502))}, "ids"), ({"ids": ["1"]}, "ids"),
                        ({"activity_id": 0}, "activity_id"), ({"activity_id": 999_999}, "activity_id")):
        response = client.post(URL, json=body, headers=auth(admin))
        assert response.status_code == 422, body
        assert field in response.get_json()["error"]["details"], body
    response = client.post(URL, json={"activity_id": other_activity.id}, headers=auth(admin))
    assert response.status_code == 404 and error_code(response) == "activity_not_found"
    response = client.post(URL, json={"ids": [record.id]}, headers=auth(make_member()))
    assert response.status_code == 403 and error_code(response) == "staff_only"
    assert status_of(record.id) == "pending"


def test_statements_do_not_grow_with_the_records(client, count_queries):
    tree = region_tree()
    admin = make_staff("community_admin", tree["a1"])
    counts = []
    for size in (5, 200):
        members = [make_member() for _ in range(size)]
        ids = [make_record(m, tree["a1"]).id for m in members]
        headers = auth(admin)
        with count_queries() as counted:
            body = client.post(URL, json={"ids": ids}, headers=headers).get_json()
        assert body["approved"] == size
        counts.append(counted.total)
    assert counts[0] == counts[1], counts


@postgres_only
def test_overlapping_bulk_and_single_approvals_apply_once(live_server):
    tree = region_tree()
    admins = [make_staff("community_admin", tree["a1"]) for _ in range(3)]
    members = [make_member() for _ in range(30)]
    records = [make_record(m, tree["a1"], hours="2.00") for m in members]
    ids = [r.id for r in records]
    headers = [auth(a) for a in admins]
    db.session.commit()
    bulk = f"{live_server}{URL}"

    def approve(i):
        if i < 3:  # three bulk approvals of overlapping halves, in different orders
            chosen = ids[:20] if i == 0 else ids[10:] if i == 1 else list(reversed(ids))
            return requests.post(bulk, json={"ids": chosen}, headers=headers[i], timeout=60).json()["approved"]
        single = f"{live_server}/api/v1/service-records/{ids[i]}/approve"
        return 1 if requests.post(single, headers=headers[i % 3], timeout=60).status_code == 200 else 0

    assert sum(fire_at_once(8, approve)) == len(ids)
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(PointsEntry)) == len(ids)
    assert db.session.scalar(select(func.sum(PointsEntry.delta))) == 20 * len(ids)
    assert db.session.scalar(select(func.count()).select_from(RecordChange).where(
        RecordChange.action == "approve")) == len(ids)
    assert rollups.rebuild() == {"changed": 0}
