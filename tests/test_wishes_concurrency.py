"""Of many simultaneous claims of one wish exactly one wins (a conditional UPDATE; proven on PostgreSQL)."""

import requests
from sqlalchemy import func, select

from extensions import db
from models import Notification, Wish
from tests.conftest import fire_at_once
from tests.factories import auth, make_member, make_staff, make_unit, region_tree


# Runs on SQLite too (writes are serialised there); with TEST_DATABASE_URL it races on PostgreSQL.
def test_claim_is_exclusive_under_concurrency(live_server):
    tree = region_tree()
    wish = Wish(community_id=tree["a1"].id, title="陪老人看病", status="open")
    db.session.add(wish)
    db.session.commit()
    wish_id = wish.id
    unit = make_unit(tree["a1"])
    unit_id = unit.id
    claimers = [(auth(make_member()), {}) for _ in range(20)]
    claimers += [(auth(make_staff("unit_admin", unit)), {"unit_id": unit_id}) for _ in range(5)]
    db.session.remove()

    def claim(i):
        headers, body = claimers[i]
        return requests.post(f"{live_server}/api/v1/wishes/{wish_id}/claim", json=body, headers=headers, timeout=30)

    responses = fire_at_once(25, claim)
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [409] * 24
    assert {r.json()["error"]["code"] for r in responses if r.status_code == 409} == {"already_claimed"}
    winner = next(r.json() for r in responses if r.status_code == 200)
    row = db.session.get(Wish, wish_id)
    assert row.status == "claimed" and row.claimed_by is not None
    assert (winner["claimer_type"] == "unit") == (row.claimer_unit_id == unit_id)
    assert db.session.scalar(select(func.count()).select_from(Notification).where(
        Notification.kind == "wish_claimed")) == 1
