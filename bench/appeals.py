"""Appeal read paths at city scale (500,000 appeals with the city preset): ``GET /appeals`` for a community's admin
and for a street department's, ``GET /me/appeals``, and ``GET /stats/appeals`` for a street (goal: p99 under 50 ms)
and for the district (recorded, not a goal).

Requests go through the whole app in-process (test client: routing, JWT, schemas, SQL), members cycling so that no
one row is hot; then each endpoint's SQL is run again under ``EXPLAIN (ANALYZE, BUFFERS)`` (PostgreSQL).

    python -m bench.appeals [--database-url URL] [--repeat 200]
"""

import argparse
import json
import sys

from sqlalchemy import func, select, text

from bench.reads import GOAL_P99_MS, captured_plans, plans_markdown
from bench.runtime import bench_app, mint_access_token, timings_ms
from bench.seed import open_sessions
from extensions import db
from models import Appeal, Region, RoleAssignment

PLANNED = ("FROM appeals", "JOIN appeal_departments")


def _actors(repeat):
    member_ids = list(db.session.scalars(select(Appeal.member_id).where(Appeal.member_id.is_not(None))
                                         .group_by(Appeal.member_id).order_by(Appeal.member_id).limit(repeat)))
    staff = dict(db.session.execute(select(RoleAssignment.role, RoleAssignment.user_id)).all())
    street_id = db.session.scalar(select(Region.id).where(Region.kind == "street").order_by(Region.id))
    district_id = db.session.scalar(select(Region.id).where(Region.kind == "district").order_by(Region.id))
    sessions = open_sessions(member_ids + list(staff.values()))
    tokens = {user_id: mint_access_token(user_id, sid) for user_id, sid in sessions.items()}
    return member_ids, staff, street_id, district_id, tokens


def _paths(member_ids, staff, street_id, district_id, tokens):
    def bearer(role_or_id):
        user_id = staff[role_or_id] if isinstance(role_or_id, str) else role_or_id
        return {"Authorization": f"Bearer {tokens[user_id]}"}

    return {
        "GET /appeals (community)": lambda i: ("/api/v1/appeals?per_page=20", bearer("community_admin")),
        "GET /appeals (street department)": lambda i: ("/api/v1/appeals?per_page=20", bearer("department_admin")),
        "GET /me/appeals": lambda i: ("/api/v1/me/appeals", bearer(member_ids[i % len(member_ids)])),
        "GET /stats/appeals (street)": lambda i: (f"/api/v1/stats/appeals?region_id={street_id}", bearer(
            "street_admin")),
        "GET /stats/appeals (district)": lambda i: (f"/api/v1/stats/appeals?region_id={district_id}", bearer(
            "district_admin")),
    }


def run(database_url=None, repeat=200, explain=True, slow_repeat=20):
    app = bench_app(database_url)
    client = app.test_client()
    with app.app_context():
        postgres = db.engine.dialect.name == "postgresql"
        appeals = db.session.scalar(select(func.count()).select_from(Appeal))
        actors = _actors(repeat)
        db.session.commit()
        paths = _paths(*actors)
    results = {}
    for name, path in paths.items():
        def call(i, path=path):
            url, headers = path(i)
            response = client.get(url, headers=headers)
            assert response.status_code == 200, (url, response.status_code, response.get_data(as_text=True))

        district = "district" in name
        figures = timings_ms(call, slow_repeat if district else repeat, warmup=1 if district else 3)
        figures["goal"] = None if district else f"p99 < {GOAL_P99_MS} ms"
        figures["meets_goal"] = None if district else figures["p99_ms"] < GOAL_P99_MS
        if explain and postgres:
            figures["plans"] = captured_plans(app, call, PLANNED)
        results[name] = figures
    sizes = {}
    if postgres:
        with app.app_context():
            sizes = dict(db.session.execute(text(
                "SELECT relname, pg_size_pretty(pg_total_relation_size(relid)) FROM pg_stat_user_tables "
                "WHERE relname IN ('appeals', 'appeal_escalations', 'appeal_departments')")).all())
    return {"appeals": appeals, "table_sizes": sizes, "paths": results}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.appeals")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--slow-repeat", type=int, default=20, help="rounds for the district's statistics")
    parser.add_argument("--plans-out", help="write the EXPLAIN (ANALYZE, BUFFERS) plans to this Markdown file")
    args = parser.parse_args(argv)
    result = run(args.database_url, args.repeat, slow_repeat=args.slow_repeat)
    if args.plans_out:
        with open(args.plans_out, "w") as out:
            out.write(plans_markdown(result))
    for figures in result["paths"].values():
        figures.pop("plans", None)
    print(json.dumps(result, indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
