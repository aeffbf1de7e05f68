"""The points ledger: the balance is the sum of the entries, no event is credited twice, corrections compensate."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from extensions import db
from models import PointsEntry, ServiceRecord
from services import points
from tests.conftest import fire_at_once
from tests.factories import auth, make_member, region_tree


def entries(member):
    return list(db.session.scalars(select(PointsEntry).where(PointsEntry.member_id == member.id)
                                   .order_by(PointsEntry.id)))


def ledger_sum(member):
    return db.session.scalar(select(func.coalesce(func.sum(PointsEntry.delta), 0))
                             .where(PointsEntry.member_id == member.id))


def in_own_session(app, work):
    """Run ``work`` in a fresh app context (its own session and connection), as a request would."""
    def run(i):
        with app.app_context():
            try:
                result = work(i)
                db.session.commit()
                return result
            finally:
                db.session.remove()
    return run


def test_me_points_shows_balance_and_entries_newest_first(client):
    member = make_member()
    for n, (delta, reason) in enumerate(((25, "service_hours"), (20, "wish_completed"), (-5, "service_hours"))):
        db.session.add(PointsEntry(member_id=member.id, delta=delta, reason=reason, ref=f"test:{n}",
                                   at=datetime(2025, 5, 1 + n, tzinfo=UTC)))
    other = make_member()
    db.session.add(PointsEntry(member_id=other.id, delta=100, reason="service_hours", ref="test:other"))
    db.session.commit()
    body = client.get("/api/v1/me/points", headers=auth(member)).get_json()
    assert body["balance"] == 40 == ledger_sum(member)
    assert [i["delta"] for i in body["items"]] == [-5, 20, 25]
    assert body["items"][0] == {"delta": -5, "reason": "service_hours", "ref": "test:2",
                                "at": "2025-05-03T08:00:00+08:00"}
    assert (body["page"], body["per_page"], body["total"]) == (1, 20, 3)
    page = client.get("/api/v1/me/points?per_page=2&page=2", headers=auth(member)).get_json()
    assert page["balance"] == 40 and [i["delta"] for i in page["items"]] == [25] and page["total"] == 3
    assert client.get("/api/v1/me/points").status_code == 401
    assert client.get("/api/v1/me/points?per_page=500", headers=auth(member)).status_code == 422


def test_a_ref_is_credited_once_by_a_unique_constraint(app):
    member = make_member()
    assert points.credit(member.id, 20, "wish_completed", "wish:1:completed") is True
    assert points.credit(member.id, 20, "wish_completed", "wish:1:completed") is False
    db.session.commit()
    db.session.add(PointsEntry(member_id=member.id, delta=20, reason="wish_completed", ref="wish:1:completed"))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()
    assert ledger_sum(member) == 20


def test_concurrent_credits_of_one_ref_write_one_entry(app):
    member = make_member()
    member_id = member.id
    db.session.remove()
    results = fire_at_once(12, in_own_session(
        app, lambda i: points.credit(member_id, 10, "service_hours", "record:7:approved")))
    assert sorted(results) == [False] * 11 + [True]
    assert db.session.scalar(select(func.count()).select_from(PointsEntry)) == 1
    assert points.balance(member_id) == 10


def test_concurrent_credits_of_different_refs_all_count(app):
    member = make_member()
    member_id = member.id
    db.session.remove()
    fire_at_once(10, in_own_session(app, lambda i: points.credit(member_id, i + 1, "service_hours", f"record:{i}:a")))
    assert points.balance(member_id) == sum(range(1, 11))
    assert db.session.scalar(select(func.count()).select_from(PointsEntry)) == 10


def approved_record(member, hours):
    tree = region_tree()
    start = datetime(2025, 6, 1, 1, 0, tzinfo=UTC)
    record = ServiceRecord(member_id=member.id, community_id=tree["a1"].id, started_at=start,
                           ended_at=start + timedelta(hours=4), hours=Decimal(hours), status="approved")
    db.session.add(record)
    db.session.commit()
    return record


def test_settle_record_compensates_corrections_and_reversals(app):
    member = make_member()
    record = approved_record(member, "2.5")
    assert points.settle_record(record, "approved") is True
    db.session.commit()
    assert ledger_sum(member) == 25
    record.hours = Decimal("1.75")
    points.settle_record(record, "change:1")
    db.session.commit()
    # 1.75 h is worth 17 points (rounded down): one compensating entry of -8.
    assert [e.delta for e in entries(member)] == [25, -8] and ledger_sum(member) == 17
    # The same event settled again writes nothing.
    assert points.settle_record(record, "change:1") is False
    record.status = "rejected"
    points.settle_record(record, "change:2")
    db.session.commit()
    assert [e.delta for e in entries(member)] == [25, -8, -17] and ledger_sum(member) == 0
    assert points.balance(member.id) == ledger_sum(member)
    # Nothing left to settle: no zero entry.
    assert points.settle_record(record, "change:3") is False


def test_concurrent_settlements_of_one_approval_credit_once(app):
    member = make_member()
    record_id = approved_record(member, "3").id
    member_id = member.id
    db.session.remove()

    def settle(i):
        return points.settle_record(db.session.get(ServiceRecord, record_id), "approved")

    results = fire_at_once(10, in_own_session(app, settle))
    assert results.count(True) == 1
    assert points.balance(member_id) == 30
