"""Co-governance read paths over a year of meetings in every community (bench/governance_seed.py; about 10,800
meetings and 21,000 tasks at the city preset): ``GET /meetings`` for a community (its admin's full view and a
member's), ``GET /tasks?status=overdue`` for a community and a street, ``GET /stats/governance`` for a street.
Goal: p99 under 50 ms each.

Requests go through the whole app in-process (test client: routing, JWT, schemas, SQL); then each endpoint's SQL
is run again under ``EXPLAIN (ANALYZE, BUFFERS)`` (PostgreSQL).

    python -m bench.governance [--database-url URL] [--repeat 200] [--plans-out plans.md]
"""

import argparse
import json
import sys

from sqlalchemy import func, select, text

from bench.reads import GOAL_P99_MS, captured_plans, plans_markdown
from bench.runtime import bench_app, mint_access_token, timings_ms
from bench.seed import open_sessions
from extensions import db
from models import Meeting, MeetingTask, Region, RoleAssignment, User

PLANNED = ("FROM meetings", "FROM meeting_tasks", "FROM meeting_decisions", "FROM meeting_agenda_items")


def _actors():
    staff = dict(db.session.execute(select(RoleAssignment.role, RoleAssignment.user_id)).all())
    community_id = db.session.scalar(select(RoleAssignment.scope_id).where(RoleAssignment.role == "community_admin"))
    street_id = db.session.scalar(select(RoleAssignment.scope_id).where(RoleAssignment.role == "street_admin"))
    member_id = db.session.scalar(select(User.id).where(User.openid.is_not(None)).order_by(User.id).limit(1))
    # The sessions are written on a connection of their own (on SQLite this one's transaction would lock it out).
    db.session.commit()
    sessions = open_sessions([member_id, *staff.values()])
    tokens = {user_id: mint_access_token(user_id, sid) for user_id, sid in sessions.items()}
    return staff, community_id, street_id, member_id, tokens


def _paths(staff, community_id, street_id, member_id, tokens):
    def bearer(user_id):
        return {"Authorization": f"Bearer {tokens[user_id]}"}

    meetings = f"/api/v1/meetings?community_id={community_id}&per_page=20"
    return {
        "GET /meetings (community, its admin)": (meetings, bearer(staff["community_admin"])),
        "GET /meetings (community, a member)": (meetings, bearer(member_id)),
        "GET /tasks?status=overdue (community)": ("/api/v1/tasks?status=overdue&per_page=20",
                                                  bearer(staff["community_admin"])),
        "GET /tasks?status=overdue (street)": ("/api/v1/tasks?status=overdue&per_page=20",
                                               bearer(staff["street_admin"])),
        "GET /stats/governance (street)": (f"/api/v1/stats/governance?region_id={street_id}&per_page=100",
                                           bearer(staff["street_admin"])),
    }


def run(database_url=None, repeat=200, explain=True):
    app = bench_app(database_url)
    client = app.test_client()
    with app.app_context():
        postgres = db.engine.dialect.name == "postgresql"
        counts = {"meetings": db.session.scalar(select(func.count()).select_from(Meeting)),
                  "tasks": db.session.scalar(select(func.count()).select_from(MeetingTask)),
                  "communities": db.session.scalar(select(func.count()).select_from(Region).where(
                      Region.kind == "community"))}
        paths = _paths(*_actors())
        db.session.commit()
    results = {}
    for name, (url, headers) in paths.items():
        def call(_i, url=url, headers=headers):
            response = client.get(url, headers=headers)
            assert response.status_code == 200, (url, response.status_code, response.get_data(as_text=True))

        figures = timings_ms(call, repeat)
        figures["goal"] = f"p99 < {GOAL_P99_MS} ms"
        figures["meets_goal"] = figures["p99_ms"] < GOAL_P99_MS
        if explain and postgres:
            figures["plans"] = captured_plans(app, call, PLANNED)
        results[name] = figures
    sizes = {}
    if postgres:
        with app.app_context():
            sizes = dict(db.session.execute(text(
                "SELECT relname, pg_size_pretty(pg_total_relation_size(relid)) FROM pg_stat_user_tables "
                "WHERE relname IN ('meetings', 'meeting_tasks', 'meeting_decisions', 'meeting_minutes', "
                "'meeting_agenda_items', 'partners')")).all())
    return {**counts, "table_sizes": sizes, "paths": results}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.governance")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--plans-out", help="write the EXPLAIN (ANALYZE, BUFFERS) plans to this Markdown file")
    args = parser.parse_args(argv)
    result = run(args.database_url, args.repeat)
    if args.plans_out:
        with open(args.plans_out, "w") as out:
            out.write(plans_markdown(result))
    for figures in result["paths"].values():
        figures.pop("plans", None)
    print(json.dumps(result, indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
