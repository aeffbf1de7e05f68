"""Read paths at city scale (run after ``python -m bench.seed --preset city``): ``/me/hours``,
``/me/service-records``, ``/stats/overview`` for the district and for a street (live, from the rollups), the
staff's ``/service-records`` for the district and a street, ``/units/{id}/members``, and the teams' (seeded by
bench/teams_seed.py): a member's community's ``/teams``, the biggest team, ``/me/teams``, a leader's
``/teams/{id}/members`` and ``/teams/{id}/stats``; then, timed once each, the full
recomputation of the district's figures from the records (``stats.compute``, what the rollups replace) and the
nightly rebuild of the rollups (``reconcile_statistics``).

Requests go through the whole app in-process (Flask test client: routing, JWT, schemas, SQL), cycling through many
members so the cache is not one row hot. Then the SQL each endpoint ran is captured and run again under
``EXPLAIN (ANALYZE, BUFFERS)`` (PostgreSQL), to show which indexes it uses.

    python -m bench.reads [--database-url URL] [--repeat 200]
"""

import argparse
import json
import sys
import time

from sqlalchemy import and_, event, func, select, text

from bench.runtime import bench_app, mint_access_token, timings_ms
from bench.seed import open_sessions
from clock import local_today
from extensions import db
from models import Region, Report, RoleAssignment, ServiceRecord, TeamMember, Unit, User
from services import rollups, stats
from services.database import unit_of_work

GOAL_P99_MS = 50
# Statements worth a plan: the endpoint's own queries, not the sign-in lookups by primary key ("WHERE users.unit_id"
# picks a unit's page of members and its count).
PLANNED_TABLES = ("service_records", "reports", "shift_assignments", "points_entries", "wishes", "feedback",
                  "stats_", "WHERE users.unit_id", "teams", "team_members")


def _actors(repeat):
    """Members with records, the staff accounts, a street and the unit with the most members."""
    member_ids = list(db.session.scalars(
        select(User.id).where(User.openid.is_not(None)).order_by(User.id).limit(repeat)))
    staff = dict(db.session.execute(select(RoleAssignment.role, RoleAssignment.user_id)).all())
    street_id = db.session.scalar(select(Region.id).where(Region.kind == "street").order_by(Region.id))
    district_id = db.session.scalar(select(Region.id).where(Region.kind == "district").order_by(Region.id))
    unit_id = db.session.scalar(select(User.unit_id).where(User.unit_id.is_not(None)).group_by(User.unit_id)
                                .order_by(func.count().desc()).limit(1))
    sessions = open_sessions(member_ids + list(staff.values()))
    tokens = {user_id: mint_access_token(user_id, sid) for user_id, sid in sessions.items()}
    return member_ids, staff, street_id, district_id, unit_id, tokens


def _paths(member_ids, staff, street_id, district_id, unit_id, tokens):
    def bearer(user_id):
        return {"Authorization": f"Bearer {tokens[user_id]}"}

    sysadmin = staff["sysadmin"]
    region_staff = bearer(staff.get("district_admin", sysadmin))
    return {
        "GET /me/hours": lambda i: ("/api/v1/me/hours", bearer(member_ids[i % len(member_ids)])),
        "GET /me/service-records": lambda i: ("/api/v1/me/service-records",
                                              bearer(member_ids[i % len(member_ids)])),
        "GET /stats/overview (district)": lambda i: (
            f"/api/v1/stats/overview?region_id={district_id}", region_staff),
        "GET /stats/overview (street)": lambda i: (f"/api/v1/stats/overview?region_id={street_id}", region_staff),
        # Who served most in a street this year: the first page, read from the volunteers' rollup index.
        "GET /stats/members (street)": lambda i: (f"/api/v1/stats/members?region_id={street_id}", region_staff),
        # The staff list, newest first, over a whole district's and a whole street's records.
        "GET /service-records (district)": lambda i: ("/api/v1/service-records?per_page=20", region_staff),
        "GET /service-records (street)": lambda i: ("/api/v1/service-records?per_page=20",
                                                    bearer(staff.get("street_admin", sysadmin))),
        "GET /units/{id}/members": lambda i: (f"/api/v1/units/{unit_id}/members?per_page=20",
                                              bearer(staff.get("district_admin", sysadmin))),
    }


def _team_actors(repeat):
    """Members in teams with their communities, leaders with their teams, the biggest team, and their tokens; None
    when the database has no teams."""
    biggest = db.session.scalar(select(TeamMember.team_id).where(TeamMember.status == "active")
                                .group_by(TeamMember.team_id).order_by(func.count().desc(), TeamMember.team_id)
                                .limit(1))
    if biggest is None:
        return None
    # Spread over the whole membership (every 97th row), not the first teams' members only.
    members = db.session.execute(
        select(TeamMember.member_id, Report.community_id).join(Report, and_(
            Report.member_id == TeamMember.member_id, Report.kind == "member", Report.status == "approved"))
        .where(TeamMember.role == "member", TeamMember.status == "active", TeamMember.id % 97 == 0)
        .distinct().order_by(TeamMember.member_id).limit(repeat)).all()
    leaders = db.session.execute(
        select(TeamMember.member_id, TeamMember.team_id).where(TeamMember.role == "leader", TeamMember.id % 31 == 0)
        .order_by(TeamMember.id).limit(repeat)).all()
    sessions = open_sessions({m for m, _ in members} | {m for m, _ in leaders})
    tokens = {user_id: mint_access_token(user_id, sid) for user_id, sid in sessions.items()}
    return members, leaders, biggest, tokens


def _team_paths(members, leaders, biggest, tokens):
    def bearer(user_id):
        return {"Authorization": f"Bearer {tokens[user_id]}"}

    def member(i):
        return members[i % len(members)]

    def leader(i):
        return leaders[i % len(leaders)]

    return {
        "GET /teams?community_id= (a member)": lambda i: (f"/api/v1/teams?community_id={member(i)[1]}",
                                                          bearer(member(i)[0])),
        "GET /teams/{id} (the biggest team)": lambda i: (f"/api/v1/teams/{biggest}", bearer(member(i)[0])),
        "GET /me/teams": lambda i: ("/api/v1/me/teams", bearer(member(i)[0])),
        "GET /teams/{id}/members (a leader)": lambda i: (f"/api/v1/teams/{leader(i)[1]}/members",
                                                         bearer(leader(i)[0])),
        "GET /teams/{id}/stats": lambda i: (f"/api/v1/teams/{leader(i)[1]}/stats", bearer(member(i)[0])),
    }


def _explain(statements, tables=PLANNED_TABLES):
    plans = []
    for statement, parameters in statements:
        # Reads only: the snapshot's upsert is not a read path (and EXPLAIN ANALYZE would run it).
        if not statement.lstrip().upper().startswith(("SELECT", "WITH")):
            continue
        if not any(table in statement for table in tables):
            continue
        rows = db.session.connection().exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)
        plans.append({"sql": statement, "plan": "\n".join(r[0] for r in rows)})
    db.session.rollback()
    return plans


def captured_plans(app, call, tables=PLANNED_TABLES):
    """``call(0)`` once with its SQL captured, then that SQL (the statements naming one of ``tables``) run again
    under ``EXPLAIN (ANALYZE, BUFFERS)``."""
    captured = []
    with app.app_context():
        def capture(_conn, _cursor, statement, parameters, _context, _many):
            captured.append((statement, parameters))

        event.listen(db.engine, "before_cursor_execute", capture)
        try:
            call(0)
        finally:
            event.remove(db.engine, "before_cursor_execute", capture)
        return _explain(captured, tables)


def run(database_url=None, repeat=200, explain=True, only=None):
    app = bench_app(database_url)
    client = app.test_client()
    results = {}
    with app.app_context():
        postgres = db.engine.dialect.name == "postgresql"
        records = db.session.scalar(select(func.count()).select_from(ServiceRecord))
        units = db.session.scalar(select(func.count()).select_from(Unit))
        actors = _actors(repeat)
        team_actors = _team_actors(repeat)
        db.session.commit()
        paths = {**_paths(*actors), **(_team_paths(*team_actors) if team_actors else {})}
        # A bench database seeded before the rollups existed gains their tables, filled from its records.
        for model in rollups.ROLLUP_MODELS:
            model.__table__.create(db.engine, checkfirst=True)
        if db.session.scalar(select(func.count()).select_from(rollups.RegionYearVolunteers)) == 0:
            with unit_of_work():
                rollups.rebuild()
    for name, path in paths.items():
        if only and not any(word in name for word in only):
            continue

        def call(i, path=path):
            url, headers = path(i)
            response = client.get(url, headers=headers)
            assert response.status_code == 200, (url, response.status_code, response.get_data(as_text=True))

        figures = timings_ms(call, repeat, warmup=3)
        figures["meets_goal"] = figures["p99_ms"] < GOAL_P99_MS
        if explain and postgres:
            figures["plans"] = captured_plans(app, call)
        results[name] = figures
    slow = None
    if not only or any(word in "stats reconcile_statistics" for word in only):
        with app.app_context():
            district = db.session.scalar(select(Region).where(Region.kind == "district").order_by(Region.id))
            started = time.perf_counter()
            stats.compute(district, local_today().year)
            recomputation = round(time.perf_counter() - started, 2)
            started = time.perf_counter()
            with unit_of_work():
                drift = rollups.rebuild()
            _vacuum_rollups()
            slow = {"district_recomputation_seconds": recomputation,
                    "rebuild_seconds": round(time.perf_counter() - started, 2), "rebuild": drift}
    with app.app_context():
        sizes = {}
        if postgres:
            sizes = dict(db.session.execute(text(
                "SELECT relname, pg_size_pretty(pg_total_relation_size(relid)) FROM pg_stat_user_tables "
                "WHERE relname IN ('service_records', 'users', 'reports')")).all())
    return {"service_records": records, "units": units, "table_sizes": sizes, "paths": results,
            "statistics_without_rollups": slow}


def plans_markdown(result):
    lines = []
    for name, figures in result["paths"].items():
        lines.append(f"### {name}\n")
        for plan in figures.get("plans", []):
            lines.append("```sql\n" + plan["sql"].strip() + "\n```\n")
            lines.append("```\n" + plan["plan"] + "\n```\n")
    return "\n".join(lines)


def _vacuum_rollups():
    """The rebuild rewrote every rollup row: without this (and where autovacuum is off) the next run reads tables of
    half dead tuples."""
    if db.engine.dialect.name != "postgresql":
        return
    tables = ", ".join(model.__tablename__ for model in rollups.ROLLUP_MODELS)
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(f"VACUUM (ANALYZE) {tables}"))


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.reads")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--only", nargs="*", help="paths whose name contains one of these words")
    parser.add_argument("--plans-out", help="write the EXPLAIN (ANALYZE, BUFFERS) plans to this Markdown file")
    args = parser.parse_args(argv)
    result = run(args.database_url, args.repeat, only=args.only)
    if args.plans_out:
        with open(args.plans_out, "w") as out:
            out.write(plans_markdown(result))
    for figures in result["paths"].values():
        figures.pop("plans", None)
    print(json.dumps(result, indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
