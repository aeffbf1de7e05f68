"""GET /stats/overview snapshots: served while younger than STATS_MAX_AGE_SECONDS, recomputed after, bypassed by
fresh=true, warmed by the refresh_statistics job, and never served outside the caller's scope."""

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import requests
import time_machine
from flask import current_app
from sqlalchemy import func, select

from extensions import db
from models import ServiceRecord, StatsSnapshot
from schedulers.jobs import JOBS, run
from tests.conftest import fire_at_once
from tests.factories import auth, error_code, make_member, make_staff, region_tree

BEIJING = ZoneInfo("Asia/Shanghai")
T0 = datetime(2025, 6, 1, 10, 0, tzinfo=BEIJING)


def record(member, community, hours, started_at):
    db.session.add(ServiceRecord(member_id=member.id, community_id=community.id, started_at=started_at,
                                 ended_at=started_at + timedelta(hours=4), hours=Decimal(hours),
                                 status="approved"))
    db.session.commit()


def overview(client, headers, region, **query):
    return client.get("/api/v1/stats/overview", query_string={"region_id": region.id, "year": 2025, **query},
                      headers=headers)


def snapshots():
    return {(s.region_id, s.year): s.computed_at
            for s in db.session.scalars(select(StatsSnapshot).execution_options(populate_existing=True))}


def max_age():
    return timedelta(seconds=current_app.config.get("STATS_MAX_AGE_SECONDS", 600))


def setup_tree():
    tree = region_tree()
    tree["member"] = make_member()
    record(tree["member"], tree["a1"], "2", datetime(2025, 3, 1, 9, tzinfo=BEIJING))
    return tree


def test_snapshot_is_served_while_young_and_recomputed_after(client):
    tree = setup_tree()
    district = tree["district"]
    with time_machine.travel(T0, tick=False):
        headers = auth(make_staff("district_admin", district))
        body = overview(client, headers, district).get_json()
        assert body["approved_hours"] == 2.0 and body["computed_at"] == T0.isoformat()
        assert snapshots() == {(district.id, 2025): T0}
        record(make_member(), tree["b1"], "3", datetime(2025, 4, 1, 9, tzinfo=BEIJING))

    with time_machine.travel(T0 + max_age() - timedelta(seconds=1), tick=False):
        body = overview(client, headers, district).get_json()
    # Still the snapshot: the new record is not in it yet.
    assert body["approved_hours"] == 2.0 and body["active_volunteers"] == 1
    assert body["computed_at"] == T0.isoformat()
    assert [c["approved_hours"] for c in body["children"]] == [2.0, 0]

    later = T0 + max_age() + timedelta(seconds=1)
    with time_machine.travel(later, tick=False):
        body = overview(client, headers, district).get_json()
    assert body["approved_hours"] == 5.0 and body["active_volunteers"] == 2
    assert [c["approved_hours"] for c in body["children"]] == [2.0, 3.0]
    assert body["computed_at"] == later.isoformat()
    assert snapshots() == {(district.id, 2025): later}


def test_the_age_limit_is_configurable(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "STATS_MAX_AGE_SECONDS", 60)
    tree = setup_tree()
    street = tree["street_a"]
    with time_machine.travel(T0, tick=False):
        headers = auth(make_staff("street_admin", street))
        assert overview(client, headers, street).get_json()["computed_at"] == T0.isoformat()
    with time_machine.travel(T0 + timedelta(seconds=59), tick=False):
        assert overview(client, headers, street).get_json()["computed_at"] == T0.isoformat()
    with time_machine.travel(T0 + timedelta(seconds=61), tick=False):
        body = overview(client, headers, street).get_json()
    assert body["computed_at"] == (T0 + timedelta(seconds=61)).isoformat() and body["approved_hours"] == 2.0


def test_each_region_and_year_has_its_own_snapshot(client):
    tree = setup_tree()
    with time_machine.travel(T0, tick=False):
        headers = auth(make_staff("district_admin", tree["district"]))
        assert overview(client, headers, tree["district"]).get_json()["approved_hours"] == 2.0
        street = overview(client, headers, tree["street_a"]).get_json()
        assert street["region_id"] == tree["street_a"].id and street["approved_hours"] == 2.0
        assert [c["region_id"] for c in street["children"]] == [tree["a1"].id, tree["a2"].id]
        assert overview(client, headers, tree["district"], year=2024).get_json()["approved_hours"] == 0
        assert overview(client, headers, tree["street_b"]).get_json()["approved_hours"] == 0
    assert snapshots() == {(tree["district"].id, 2025): T0, (tree["street_a"].id, 2025): T0,
                           (tree["district"].id, 2024): T0, (tree["street_b"].id, 2025): T0}


def test_fresh_true_computes_now_and_refreshes_the_snapshot(client):
    tree = setup_tree()
    street = tree["street_b"]
    with time_machine.travel(T0, tick=False):
        headers = auth(make_staff("street_admin", street))
        assert overview(client, headers, street).get_json()["approved_hours"] == 0
        record(make_member(), tree["b2"], "1.5", datetime(2025, 5, 1, 9, tzinfo=BEIJING))

    soon = T0 + timedelta(seconds=30)
    with time_machine.travel(soon, tick=False):
        assert overview(client, headers, street).get_json()["approved_hours"] == 0
        body = overview(client, headers, street, fresh="true").get_json()
        assert body["approved_hours"] == 1.5 and body["computed_at"] == soon.isoformat()
        assert [c["approved_hours"] for c in body["children"]] == [0, 1.5]
        # The fresh figures replaced the snapshot, so the next plain request serves them.
        body = overview(client, headers, street).get_json()
        assert body["approved_hours"] == 1.5 and body["computed_at"] == soon.isoformat()
        assert snapshots() == {(street.id, 2025): soon}
        response = overview(client, headers, street, fresh="perhaps")
        assert response.status_code == 422 and "fresh" in response.get_json()["error"]["details"]
        member = make_member()
        response = overview(client, auth(member), street, fresh="true")
        assert response.status_code == 403 and error_code(response) == "staff_only"


def test_refresh_statistics_job_warms_every_district_and_street(app, client):
    tree = setup_tree()
    with time_machine.travel(T0, tick=False):
        db.session.commit()
        result = app.test_cli_runner().invoke(args=["run-job", "refresh_statistics"])
        assert result.exit_code == 0, result.output
        assert "refresh_statistics: 3" in result.output
        # This year for the district and both streets; communities are computed when first asked for.
        assert snapshots() == {(tree["district"].id, 2025): T0, (tree["street_a"].id, 2025): T0,
                               (tree["street_b"].id, 2025): T0}
        record(make_member(), tree["a2"], "4", datetime(2025, 5, 1, 9, tzinfo=BEIJING))

    later = T0 + timedelta(minutes=5)
    with time_machine.travel(later, tick=False):
        headers = auth(make_staff("street_admin", tree["street_a"]))
        body = overview(client, headers, tree["street_a"]).get_json()
        assert body["computed_at"] == T0.isoformat()
        assert body["approved_hours"] == 2.0 and body["active_volunteers"] == 1
        assert {c["region_id"]: c["approved_hours"] for c in body["children"]} == {tree["a1"].id: 2.0,
                                                                                    tree["a2"].id: 0}
        assert run(JOBS["refresh_statistics"]) == 3
        body = overview(client, headers, tree["street_a"]).get_json()
    assert body["computed_at"] == later.isoformat()
    assert body["approved_hours"] == 6.0 and body["active_volunteers"] == 2
    district = db.session.scalars(select(StatsSnapshot).where(StatsSnapshot.region_id == tree["district"].id)
                                  .execution_options(populate_existing=True)).one()
    assert district.payload["approved_hours"] == "6.00" and district.computed_at == later


def test_a_snapshot_is_never_served_outside_the_callers_scope(client):
    tree = setup_tree()
    with time_machine.travel(T0, tick=False):
        street_a = auth(make_staff("street_admin", tree["street_a"]))
        assert overview(client, street_a, tree["street_a"]).status_code == 200
        assert overview(client, street_a, tree["a1"]).status_code == 200
        from services.stats import refresh_snapshots

        refresh_snapshots()
        assert (tree["street_a"].id, 2025) in snapshots() and (tree["district"].id, 2025) in snapshots()

        street_b = auth(make_staff("street_admin", tree["street_b"]))
        for region in ("street_a", "a1", "district"):
            for query in ({}, {"fresh": "true"}):
                response = overview(client, street_b, tree[region], **query)
                assert response.status_code == 404 and error_code(response) == "region_not_found", region
        community = auth(make_staff("community_admin", tree["a2"]))
        assert overview(client, community, tree["a1"]).status_code == 404
        assert overview(client, community, tree["street_a"]).status_code == 404
        assert overview(client, community, tree["a2"]).status_code == 200


def test_concurrent_requests_on_a_stale_snapshot_compute_it_once(live_server):
    """On PostgreSQL an advisory lock lets one request compute while the others wait and then read its result;
    on SQLite every transaction is serialised anyway."""
    tree = setup_tree()
    headers = auth(make_staff("district_admin", tree["district"]))
    url = f"{live_server}/api/v1/stats/overview"

    def ask(_):
        response = requests.get(url, params={"region_id": tree["district"].id, "year": 2025}, headers=headers,
                                timeout=30)
        return response.status_code, response.json()

    results = fire_at_once(8, ask)
    assert all(status == 200 for status, _ in results)
    assert len({body["computed_at"] for _, body in results}) == 1
    assert all(body["approved_hours"] == 2.0 and body["active_volunteers"] == 1 for _, body in results)
    assert db.session.scalar(select(func.count()).select_from(StatsSnapshot)) == 1

    forced = fire_at_once(6, lambda i: requests.get(
        url, params={"region_id": tree["district"].id, "year": 2025, "fresh": "true"}, headers=headers,
        timeout=30).status_code)
    assert forced == [200] * 6
    assert db.session.scalar(select(func.count()).select_from(StatsSnapshot)) == 1
