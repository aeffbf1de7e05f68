"""Big units of work at city scale (run after ``python -m bench.seed --preset city``):

- **Bulk approval**: 10,000 pending records of one activity, approved by ``POST /service-records/approve``
  through the whole app in-process (JWT, schema, service, one transaction): time, SQL statements, peak resident set;
  then every record approved, 10,000 points entries for them, and the rollups equal to a recomputation.
- **A street's certificates in the background**: one ``certificate_batch`` job per community of a street (the
  contract's issuer is a community), queued as ``POST /certificates/batch?async=true`` queues them and run by the
  worker function every scheduler process runs: time per certificate, peak resident set.
- **A district's year of records in the background**: one ``service_record_export`` job (CSV) of the district for
  this year: rows, seconds, peak resident set.

    python -m bench.batches [--database-url URL] [--records 10000] [--skip approval certificates export]
"""

import argparse
import json
import sys
import time
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import event, func, insert, select

from bench.runtime import bench_app, mint_access_token, rss_sampler
from bench.seed import open_sessions
from clock import local_today, utcnow
from extensions import db
from models import Activity, BackgroundJob, PointsEntry, Region, RoleAssignment, ServiceRecord, User
from services import background, rollups, stats
from services.authz import Actor
from services.database import unit_of_work


def _staff(role):
    return db.session.scalar(select(RoleAssignment.user_id).where(RoleAssignment.role == role))


def bulk_approval(app, records=10_000):
    with app.app_context():
        admin_id = _staff("district_admin")
        district = db.session.scalar(select(Region).where(Region.kind == "district").order_by(Region.id))
        community_id = db.session.scalar(select(Region.id).where(Region.kind == "community").order_by(Region.id))
        member_ids = list(db.session.scalars(select(User.id).where(User.openid.is_not(None)).order_by(User.id)
                                             .limit(records)))
        started_at = utcnow() - timedelta(days=2)
        activity = Activity(community_id=community_id, title="基准批量审核", category="environment",
                            starts_at=started_at, ends_at=started_at + timedelta(hours=3), capacity=records,
                            confirmed_count=0, requires_signup=False, status="published")
        db.session.add(activity)
        db.session.flush()
        db.session.execute(insert(ServiceRecord), [
            {"member_id": m, "community_id": community_id, "activity_id": activity.id, "category": "environment",
             "started_at": started_at, "ended_at": started_at + timedelta(hours=3), "hours": Decimal("2.50"),
             "status": "pending", "source": "checkin", "description": "基准批量审核", "created_at": utcnow()}
            for m in member_ids])
        activity_id = activity.id
        db.session.commit()
        token = mint_access_token(admin_id, open_sessions([admin_id])[admin_id])
        engine = db.engine
    statements = []

    def count(*_args):
        statements.append(1)

    client = app.test_client()
    event.listen(engine, "before_cursor_execute", count)
    try:
        with rss_sampler() as memory:
            started = time.perf_counter()
            response = client.post("/api/v1/service-records/approve", json={"activity_id": activity_id},
                                   headers={"Authorization": f"Bearer {token}"})
            seconds = time.perf_counter() - started
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert response.status_code == 200, response.get_data(as_text=True)
    with app.app_context():
        record_ids = list(db.session.scalars(select(ServiceRecord.id).where(
            ServiceRecord.activity_id == activity_id, ServiceRecord.status == "approved")))
        credited = db.session.scalar(select(func.count()).select_from(PointsEntry).where(
            PointsEntry.ref.in_([f"record:{record_id}:approve" for record_id in record_ids])))
        year = local_today().year
        live = stats.overview(Actor(admin_id), region_id=district.id, year=year)
        recomputed = stats.compute(district, year)
        equal = all(live[k] == recomputed[k] for k in stats.FIGURES)
    return {"records": len(member_ids), "approved": response.get_json()["approved"], "seconds": round(seconds, 2),
            "statements": len(statements), "rss_peak_mb": memory["peak_mb"], "records_approved_in_db": len(record_ids),
            "points_entries": credited, "rollups_equal_recomputation": equal}


def _run_jobs():
    while background.run_background_jobs():
        db.session.remove()


def street_certificates(app):
    with app.app_context():
        admin_id = _staff("district_admin")
        street_id = db.session.scalar(select(Region.id).where(Region.kind == "street").order_by(Region.id))
        communities = list(db.session.scalars(select(Region.id).where(Region.parent_id == street_id)
                                              .order_by(Region.id)))
        today = local_today()
        with unit_of_work():
            jobs = [background.submit_certificate_batch(Actor(admin_id), issuer_id=c,
                                                        period_from=date(today.year - 1, 1, 1), period_to=today).id
                    for c in communities]
        with rss_sampler() as memory:
            started = time.perf_counter()
            _run_jobs()
            seconds = time.perf_counter() - started
        rows = db.session.execute(select(BackgroundJob.status, BackgroundJob.done_count)
                                  .where(BackgroundJob.id.in_(jobs))).all()
    certificates = sum(done for _status, done in rows)
    return {"communities": len(communities), "jobs_done": sum(status == "done" for status, _ in rows),
            "certificates": certificates, "seconds": round(seconds, 1),
            "ms_per_certificate": round(seconds * 1000 / max(certificates, 1), 1), "rss_peak_mb": memory["peak_mb"]}


def district_export(app):
    with app.app_context():
        admin_id = _staff("district_admin")
        today = local_today()
        with unit_of_work():
            job_id = background.submit_export(Actor(admin_id), date_from=date(today.year, 1, 1), date_to=today).id
        with rss_sampler() as memory:
            started = time.perf_counter()
            _run_jobs()
            seconds = time.perf_counter() - started
        job = db.session.get(BackgroundJob, job_id)
    return {"status": job.status, "rows": job.done_count, "seconds": round(seconds, 1),
            "rss_peak_mb": memory["peak_mb"]}


def run(database_url=None, records=10_000, skip=()):
    app = bench_app(database_url)
    with app.app_context():
        # A bench database seeded before these tables existed gains them (empty).
        for model in (BackgroundJob, *rollups.ROLLUP_MODELS):
            model.__table__.create(db.engine, checkfirst=True)
        if db.session.scalar(select(func.count()).select_from(rollups.RegionYearVolunteers)) == 0:
            with unit_of_work():
                rollups.rebuild()
    results = {}
    if "approval" not in skip:
        results["bulk_approval"] = bulk_approval(app, records)
    if "certificates" not in skip:
        results["street_certificates"] = street_certificates(app)
    if "export" not in skip:
        results["district_export"] = district_export(app)
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.batches")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--records", type=int, default=10_000, help="pending records approved in one request")
    parser.add_argument("--skip", nargs="*", default=(), choices=("approval", "certificates", "export"))
    args = parser.parse_args(argv)
    print(json.dumps(run(args.database_url, args.records, args.skip), indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
