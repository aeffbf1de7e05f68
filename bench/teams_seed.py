"""Volunteer teams (志愿服务队) for the seeded communities, bulk-written by the seeder's ``Writer``: ``teams`` spread
evenly over the communities, about seven in ten owned by the community (老党员先锋队, 文明劝导队 …) and the rest by
one of its units (党员志愿服务队 …), numbered when a name comes round again (文明劝导队第2分队). Each team has
10–40 members drawn from its community (a unit's team: from the unit's members while it has enough), one or two
leaders, and, in a team that approves joins, sometimes a request still pending; a ``created`` event each. Then a
sample of the communities' activity records (one in ``RECORD_SHARE``) is marked with a team of its member, as a
team sign-up leaves them, so that the teams' hours and per-member hours have data. Attendances are not written:
they feed the statistics rollups, which these rows bypass; marking records does not (rollups ignore ``team_id``).

At the city preset (300 communities, 200,000 members): 20,000 teams, about 500,000 memberships.

Inside ``bench.seed`` (every preset, proportionally), or alone on a database already seeded without teams:

    python -m bench.teams_seed --database-url postgresql://postgres@127.0.0.1/baodao_bench --teams 20000
"""

import argparse
import json
import random
import sys
import time
from datetime import timedelta

from sqlalchemy import func, select, text

from clock import utcnow
from extensions import db
from models import Report, ServiceRecord, Team, TeamEvent, TeamMember, Unit, User
from models.team import name_key

COMMUNITY_TEAMS = ("老党员先锋队", "在职党员心愿认领队", "垃圾分类桶前值守队", "文明劝导队", "助老服务队", "平安巡逻队",
                   "楼门长服务队", "青年突击队", "邻里互助队", "环境整治志愿队", "四点半课堂辅导队", "疫苗接种引导队")
UNIT_TEAMS = ("党员志愿服务队", "青年志愿服务队", "爱心帮扶队", "应急服务队", "文明交通劝导队")
UNIT_SHARE = 0.3
TEAM_SIZE = (10, 40)
# One activity record in this many carries a team of its member.
RECORD_SHARE = 10


def _name(bases, k):
    base = bases[k % len(bases)]
    round_ = k // len(bases) + 1
    return base if round_ == 1 else f"{base}第{round_}分队"


def team_rows(w, *, teams, community_ids, units_of, members_of, unit_members_of, now, seed, since):
    """Write ``teams`` teams of ``community_ids`` with their memberships and ``created`` events.

    ``units_of``: community → unit ids; ``members_of``: community → member ids; ``unit_members_of``: unit → member
    ids; ``since``: the earliest founding time. Returns ``{member_id: [team ids]}`` of the active memberships."""
    if not teams or not community_ids:
        return {}
    rng = random.Random(seed + 30)
    span = max(int((now - timedelta(days=1) - since).total_seconds()), 1)
    first_team, first_member_row, first_event = (w.next_id(m) for m in (Team, TeamMember, TeamEvent))
    team_list, memberships, events = [], [], []
    per_community, extra = divmod(teams, len(community_ids))
    for c, community_id in enumerate(community_ids):
        candidates = members_of.get(community_id, [])
        count = per_community + (1 if c < extra else 0)
        units = units_of.get(community_id, [])
        unit_count = round(count * UNIT_SHARE) if units else 0
        for k in range(count):
            team_id = first_team + len(team_list)
            created = since + timedelta(seconds=rng.randrange(span))
            policy = "open" if rng.random() < 0.4 else "approval"
            if k < unit_count:
                unit_id = units[k % len(units)]
                name = _name(UNIT_TEAMS, k // len(units))
                owner = dict(owner_community_id=None, owner_unit_id=unit_id)
                pool = unit_members_of.get(unit_id, [])
                pool = pool if len(pool) >= TEAM_SIZE[0] else candidates
            else:
                name = _name(COMMUNITY_TEAMS, k - unit_count)
                owner = dict(owner_community_id=community_id, owner_unit_id=None)
                pool = candidates
            team_list.append(dict(id=team_id, **owner, name=name, name_key=name_key(name),
                                  description=f"{name}：基准测试数据", join_policy=policy, status="active",
                                  created_by=None, created_at=created, dissolved_at=None))
            events.append(dict(id=first_event + len(events), team_id=team_id, action="created", actor_id=None,
                               member_id=None, details={"name": name}, at=created))
            chosen = rng.sample(pool, min(rng.randint(*TEAM_SIZE), len(pool)))
            leaders = 2 if rng.random() < 0.3 else 1
            pending = 1 if policy == "approval" and len(chosen) > leaders and rng.random() < 0.5 else 0
            for n, member_id in enumerate(chosen):
                waiting = n >= len(chosen) - pending
                joined = created + timedelta(seconds=rng.randrange(max(int((now - created).total_seconds()), 1)))
                memberships.append(dict(
                    id=first_member_row + len(memberships), team_id=team_id, member_id=member_id,
                    status="pending" if waiting else "active", role="leader" if n < leaders else "member",
                    requested_at=created if n < leaders else joined, joined_at=None if waiting else joined,
                    decided_by=None))
    w.write(Team, team_list)
    w.write(TeamMember, memberships)
    w.write(TeamEvent, events)
    w.finish([Team, TeamMember, TeamEvent])
    teams_of = {}
    for row in memberships:
        if row["status"] == "active":
            teams_of.setdefault(row["member_id"], []).append(row["team_id"])
    return teams_of


def mark_records(connection, teams_of, first_record=None):
    """One activity record in ``RECORD_SHARE`` (ids from ``first_record``) of a member in ``teams_of`` (member →
    its active teams) gets one of those teams, picked per record; returns how many were marked."""
    records = ServiceRecord.__table__.c
    rows = connection.execute(select(records.id, records.member_id).where(
        records.team_id.is_(None), records.activity_id.is_not(None), records.id >= (first_record or 0),
        records.id % RECORD_SHARE == 0))
    pairs = [(record_id, teams_of[member_id][(record_id // RECORD_SHARE) % len(teams_of[member_id])])
             for record_id, member_id in rows if member_id in teams_of]
    if not pairs:
        return 0
    if connection.dialect.name != "postgresql":
        connection.execute(text("UPDATE service_records SET team_id = :team_id WHERE id = :id"),
                           [{"id": record_id, "team_id": team_id} for record_id, team_id in pairs])
        return len(pairs)
    # One UPDATE joined to the pairs, COPYed into a temporary table, rather than a statement per record.
    connection.execute(text("CREATE TEMPORARY TABLE seed_record_teams (id bigint PRIMARY KEY, team_id integer) "
                            "ON COMMIT DROP"))
    cursor = connection.connection.driver_connection.cursor()
    with cursor.copy("COPY seed_record_teams (id, team_id) FROM STDIN") as copy:
        for pair in pairs:
            copy.write_row(pair)
    marked = connection.execute(text("UPDATE service_records SET team_id = t.team_id FROM seed_record_teams t "
                                     "WHERE service_records.id = t.id")).rowcount
    connection.execute(text("DROP TABLE seed_record_teams"))
    return marked


def seeded_population(connection):
    """What a seeded database holds, as ``team_rows`` wants it: the communities with members of approved member
    reports, their units, their members and the units' members."""
    members_of, unit_members_of = {}, {}
    rows = connection.execute(
        select(Report.community_id, Report.member_id, User.unit_id).join(User, User.id == Report.member_id)
        .where(Report.kind == "member", Report.status == "approved", User.openid.is_not(None),
               User.is_active.is_(True)).order_by(Report.member_id))
    for community_id, member_id, unit_id in rows:
        members_of.setdefault(community_id, []).append(member_id)
        if unit_id is not None:
            unit_members_of.setdefault(unit_id, []).append(member_id)
    community_ids = sorted(members_of)
    units_of = {}
    for unit_id, community_id in connection.execute(
            select(Unit.id, Unit.community_id).where(Unit.community_id.in_(community_ids)).order_by(Unit.id)):
        units_of.setdefault(community_id, []).append(unit_id)
    return community_ids, units_of, members_of, unit_members_of


def add_teams(connection, teams, seed=20240601):
    """Teams for a database already seeded (see the module's docstring); refuses one whose communities have teams."""
    from bench.seed import Writer

    community_ids, units_of, members_of, unit_members_of = seeded_population(connection)
    existing = connection.scalar(select(func.count()).select_from(Team).where(
        Team.owner_community_id.in_(community_ids)
        | Team.owner_unit_id.in_(select(Unit.id).where(Unit.community_id.in_(community_ids)))))
    if existing:
        raise SystemExit(f"the seeded communities already have {existing} teams: not adding more")
    now = utcnow()
    since = connection.scalar(select(func.min(ServiceRecord.started_at))) or now - timedelta(days=365)
    w = Writer(connection)
    teams_of = team_rows(w, teams=teams, community_ids=community_ids, units_of=units_of, members_of=members_of,
                         unit_members_of=unit_members_of, now=now, seed=seed, since=since)
    marked = mark_records(connection, teams_of)
    return {**w.counts, "service_records_marked": marked}


def main(argv=None):
    from bench.runtime import bench_app

    parser = argparse.ArgumentParser(prog="python -m bench.teams_seed", description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=None, help="default: BENCH_DATABASE_URL or the bench database")
    parser.add_argument("--teams", type=int, default=20_000)
    args = parser.parse_args(argv)
    app = bench_app(args.database_url)
    started = time.perf_counter()
    with app.app_context():
        with db.engine.begin() as connection:
            counts = add_teams(connection, args.teams)
        if db.engine.dialect.name == "postgresql":
            # Only the tables written: the rest of the database may be under another benchmark.
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.execute(text("VACUUM (ANALYZE) teams, team_members, team_events, service_records"))
    print(json.dumps({"seconds": round(time.perf_counter() - started, 1), "counts": counts}, ensure_ascii=False,
                     indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
