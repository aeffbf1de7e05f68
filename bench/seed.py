"""City-scale data, fast: a district of streets and communities, units, members with approved reports, activities,
service records, posts with templates and pools, a fortnight of past shifts with their assignments, and residents'
appeals over two years with departments of every street and of the district and the escalations to them, and a year of
co-governance meetings in every community (bench/governance_seed.py), and volunteer teams with their members, some of
the activity records marked with a team (bench/teams_seed.py).

Rows are generated in batches of ``BATCH`` and written with PostgreSQL ``COPY`` (psycopg 3 ``cursor.copy``) or, on
SQLite, SQLAlchemy Core ``insert()`` with a list of dicts. Ids are assigned here (from the table's current maximum),
so rows can reference each other without a round trip; PostgreSQL sequences are moved past them at the end.
Everything is drawn from one seeded ``random.Random``: the same parameters give the same data.

    python -m bench.seed --preset city --database-url postgresql://postgres@127.0.0.1/baodao_bench --reset
    python -m bench.seed --communities 300 --members 200000 --records 2000000 --posts 3000
"""

import argparse
import json
import random
import sys
import time
from dataclasses import asdict, dataclass, fields, replace
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import JSON, func, select, text

from bench.governance_seed import governance_rows
from bench.teams_seed import mark_records, team_rows
from clock import local_day_start, local_today, to_local, utcnow
from extensions import db
from models import (
    Activity,
    Appeal,
    AppealDepartment,
    AppealEscalation,
    AppealNumberCounter,
    AuthSession,
    Department,
    PoolMembership,
    Post,
    Region,
    Report,
    RoleAssignment,
    ServiceRecord,
    Shift,
    ShiftAssignment,
    ShiftTemplate,
    Unit,
    User,
)
from models.activity import CATEGORIES
from models.appeal import APPEAL_KINDS, APPEAL_SOURCES
from services import rollups
from services.accounts import volunteer_number_for
from services.database import unit_of_work

BATCH = 10_000
STAFF_PASSWORD = "bench-password"
POST_KINDS = ("bin_station", "gate", "patrol", "other")
UNIT_KINDS = ("government", "enterprise", "institution", "school", "hospital", "social_org")
POLITICAL = ("party_member", "party_member", "probationary_member", "league_member", "masses")
TEMPLATE_SLOTS = (("07:00", "09:00"), ("18:00", "20:00"), ("09:00", "11:30"))


@dataclass(frozen=True)
class SeedSpec:
    communities: int = 300
    members: int = 200_000
    records: int = 2_000_000
    posts: int = 3_000
    communities_per_street: int = 10
    units_per_community: int = 3
    activities_per_community: int = 20
    templates_per_post: int = 2
    pool_size: int = 12
    seats: int = 2
    history_days: int = 14
    appeals: int = 500_000
    departments_per_street: int = 2
    teams: int = 20_000
    seed: int = 20240601


PRESETS = {
    "tiny": SeedSpec(communities=4, members=60, records=600, posts=6, communities_per_street=2,
                     units_per_community=2, activities_per_community=3, pool_size=5, history_days=2, appeals=400,
                     teams=8),
    "small": SeedSpec(communities=30, members=20_000, records=200_000, posts=300, appeals=50_000, teams=2_000),
    "city": SeedSpec(),
}


@dataclass
class Seeded:
    """What was written: counts per table, and the ids the benchmarks start from."""

    counts: dict
    district_id: int
    street_ids: list
    community_ids: list
    unit_ids: list
    first_member_id: int
    member_count: int
    staff: dict
    seconds: float = 0.0


class Writer:
    """Bulk writes through COPY on PostgreSQL or executemany of Core inserts elsewhere; counts what it wrote."""

    def __init__(self, connection):
        self.connection = connection
        self.postgres = connection.dialect.name == "postgresql"
        self.counts = {}

    def next_id(self, model):
        return (self.connection.scalar(select(func.max(model.__table__.c.id))) or 0) + 1

    def write(self, model, rows):
        """Write an iterable of row dicts (every column given) in batches."""
        table = model.__table__
        batch = []
        for row in rows:
            batch.append(row)
            if len(batch) >= BATCH:
                self._flush(table, batch)
                batch = []
        if batch:
            self._flush(table, batch)

    def _flush(self, table, batch):
        self.counts[table.name] = self.counts.get(table.name, 0) + len(batch)
        if not self.postgres:
            self.connection.execute(table.insert(), batch)
            return
        columns = list(batch[0])
        json_columns = {c.name for c in table.columns if isinstance(c.type, JSON)}
        cursor = self.connection.connection.driver_connection.cursor()
        names = ", ".join(f'"{c}"' for c in columns)
        with cursor.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy:
            for row in batch:
                copy.write_row([json.dumps(row[c]) if c in json_columns else row[c] for c in columns])

    def finish(self, models):
        if not self.postgres:
            return
        for model in models:
            name = model.__table__.name
            self.connection.execute(text(
                f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                f"GREATEST((SELECT max(id) FROM \"{name}\"), 1))"))


def _hours(rng, low=50, high=400):
    return Decimal(rng.randrange(low, high)) / 100


def seed(spec: SeedSpec, connection=None, now=None) -> Seeded:
    """Write ``spec``'s data set through ``connection`` (default: a transaction on the app's engine)."""
    if connection is None:
        with db.engine.begin() as connection:
            seeded = seed(spec, connection, now)
        # The rows went in directly, past the services: the statistics rollups are counted from them.
        with unit_of_work():
            rollups.rebuild()
        return seeded
    started = time.perf_counter()
    rng = random.Random(spec.seed)
    now = now or utcnow()
    today = local_today()
    history_start = local_day_start(date(today.year - 1, 1, 1))
    history_span = int((now - timedelta(days=1) - history_start).total_seconds())
    w = Writer(connection)

    # Regions: one district, streets of ``communities_per_street`` communities each.
    region_id = w.next_id(Region)
    district_id = region_id
    regions = [dict(id=district_id, name="基准区", kind="district", parent_id=None, path=f"/{district_id}/",
                    contact_name=None, contact_phone=None, address=None, created_at=now)]
    street_ids, community_ids, community_street = [], [], {}
    street_count = -(-spec.communities // spec.communities_per_street)
    next_id = region_id + 1
    for s in range(street_count):
        street_id = next_id
        next_id += 1
        street_ids.append(street_id)
        street_path = f"/{district_id}/{street_id}/"
        regions.append(dict(id=street_id, name=f"第{s + 1}街道", kind="street", parent_id=district_id,
                            path=street_path, contact_name=None, contact_phone=None, address=None, created_at=now))
        for c in range(min(spec.communities_per_street, spec.communities - s * spec.communities_per_street)):
            community_id = next_id
            next_id += 1
            community_ids.append(community_id)
            community_street[community_id] = street_id
            regions.append(dict(id=community_id, name=f"第{s + 1}街道第{c + 1}社区", kind="community",
                                parent_id=street_id, path=f"{street_path}{community_id}/",
                                contact_name="社区居委会", contact_phone="010-88886666",
                                address=f"基准区第{s + 1}街道{c + 1}号", created_at=now))
    w.write(Region, regions)

    # Units: ``units_per_community`` in each community.
    first_unit = w.next_id(Unit)
    units = [dict(id=first_unit + i, name=f"基准单位{i + 1}", kind=UNIT_KINDS[i % len(UNIT_KINDS)],
                  community_id=community_ids[i // spec.units_per_community], created_at=now)
             for i in range(len(community_ids) * spec.units_per_community)]
    w.write(Unit, units)
    unit_ids = [u["id"] for u in units]
    units_of = {c: unit_ids[i * spec.units_per_community:(i + 1) * spec.units_per_community]
                for i, c in enumerate(community_ids)}

    # Members: member i lives in community i mod C; in-service members belong to a unit there.
    first_member = w.next_id(User)
    member_community = [community_ids[i % len(community_ids)] for i in range(spec.members)]
    member_unit = []

    def members():
        for i in range(spec.members):
            member_id = first_member + i
            in_service = rng.random() < 0.6
            unit_id = rng.choice(units_of[member_community[i]]) if in_service else None
            member_unit.append(unit_id)
            yield dict(id=member_id, openid=f"bench-openid-{member_id}", username=None, password_hash=None,
                       volunteer_number=volunteer_number_for(member_id), name=f"成员{member_id}", phone=None,
                       id_number_encrypted=None, id_number_hash=None, id_number_masked=None,
                       political_status=rng.choice(POLITICAL), in_service=in_service, unit_id=unit_id,
                       unavailable_weekdays=[], unavailable_dates=[], is_active=True, created_at=now)

    w.write(User, members())

    # Staff: a sysadmin and one admin at each level, all with STAFF_PASSWORD.
    from services.auth import hash_password

    password_hash = hash_password(STAFF_PASSWORD)
    first_staff = first_member + spec.members
    # Departments: ``departments_per_street`` in each street and two of the district; the first street's first is
    # the department admin's.
    first_department = w.next_id(Department)
    department_rows = [dict(id=first_department + n, region_id=region, name=f"基准部门{n + 1}", created_by=None,
                            created_at=now)
                       for n, region in enumerate([s for s in street_ids for _ in range(spec.departments_per_street)]
                                                  + [district_id] * 2)]
    w.write(Department, department_rows)
    staff_roles = [("sysadmin", None, None), ("district_admin", "region", district_id),
                   ("street_admin", "region", street_ids[0]), ("community_admin", "region", community_ids[0]),
                   ("unit_admin", "unit", unit_ids[0]), ("department_admin", "department", first_department)]
    staff = {}
    staff_rows, role_rows = [], []
    first_role = w.next_id(RoleAssignment)
    for n, (role, scope_type, scope_id) in enumerate(staff_roles):
        user_id = first_staff + n
        staff[role] = user_id
        staff_rows.append(dict(id=user_id, openid=None, username=f"bench-{role}-{user_id}",
                               password_hash=password_hash, volunteer_number=None, name=f"基准{role}", phone=None,
                               id_number_encrypted=None, id_number_hash=None, id_number_masked=None,
                               political_status="party_member", in_service=True, unit_id=None,
                               unavailable_weekdays=[], unavailable_dates=[], is_active=True, created_at=now))
        role_rows.append(dict(id=first_role + n, user_id=user_id, role=role, scope_type=scope_type,
                              scope_id=scope_id, created_at=now))
    w.write(User, staff_rows)
    w.write(RoleAssignment, role_rows)

    # Reports: every member's approved report to its community, every unit's to its own.
    first_report = w.next_id(Report)

    def reports():
        for i in range(spec.members):
            yield dict(id=first_report + i, kind="member", status="approved", member_id=first_member + i,
                       unit_id=member_unit[i], community_id=member_community[i], created_by=first_member + i,
                       decided_by=staff["community_admin"], decided_at=now, reason=None, created_at=now)
        for j, unit in enumerate(units):
            yield dict(id=first_report + spec.members + j, kind="unit", status="approved", member_id=None,
                       unit_id=unit["id"], community_id=unit["community_id"], created_by=staff["unit_admin"],
                       decided_by=staff["community_admin"], decided_at=now, reason=None, created_at=now)

    w.write(Report, reports())

    # Activities: ``activities_per_community`` in each community, spread over this year and last.
    first_activity = w.next_id(Activity)
    activity_rows = []
    for c, community_id in enumerate(community_ids):
        for k in range(spec.activities_per_community):
            starts = history_start + timedelta(seconds=rng.randrange(history_span))
            activity_rows.append(dict(
                id=first_activity + len(activity_rows), community_id=community_id, title=f"基准活动{c}-{k}",
                description="基准测试数据", category=CATEGORIES[k % len(CATEGORIES)], starts_at=starts,
                ends_at=starts + timedelta(hours=2), capacity=50, confirmed_count=0, address="活动地点",
                lat=39.9 + c * 0.0001, lng=116.4, radius_m=500, requires_signup=False, status="published",
                created_by=staff["community_admin"], created_at=now))
    w.write(Activity, activity_rows)
    activities_of = {}
    for a in activity_rows:
        activities_of.setdefault(a["community_id"], []).append(a)

    # Service records: ``records`` over members at random; most approved, mostly from the member's community.
    first_record = w.next_id(ServiceRecord)

    def records():
        for r in range(spec.records):
            i = rng.randrange(spec.members)
            community_id = member_community[i] if rng.random() < 0.9 else rng.choice(community_ids)
            activity = rng.choice(activities_of[community_id]) if rng.random() < 0.6 else None
            if activity is not None:
                started = activity["starts_at"]
                category = activity["category"]
            else:
                started = history_start + timedelta(seconds=rng.randrange(history_span))
                category = rng.choice(CATEGORIES)
            hours = _hours(rng)
            roll = rng.random()
            status = "approved" if roll < 0.8 else ("pending" if roll < 0.95 else "rejected")
            yield dict(id=first_record + r, member_id=first_member + i, community_id=community_id,
                       activity_id=activity["id"] if activity else None, shift_id=None, attendance_id=None,
                       category=category, started_at=started, ended_at=started + timedelta(hours=float(hours)),
                       hours=hours, description="基准服务记录", status=status,
                       source="checkin" if activity else "manual", created_by=staff["community_admin"],
                       decided_by=staff["community_admin"] if status != "pending" else None,
                       decided_at=now if status != "pending" else None, reason=None, created_at=started)

    w.write(ServiceRecord, records())

    # Posts, their weekly templates and pools of volunteers from the post's community.
    first_post = w.next_id(Post)
    first_template = w.next_id(ShiftTemplate)
    first_pool = w.next_id(PoolMembership)
    members_of = {}
    for i, community_id in enumerate(member_community):
        members_of.setdefault(community_id, []).append(first_member + i)
    post_rows, template_rows, pool_rows, pools = [], [], [], {}
    for p in range(spec.posts):
        post_id = first_post + p
        community_id = community_ids[p % len(community_ids)]
        post_rows.append(dict(id=post_id, community_id=community_id, name=f"基准岗位{p + 1}",
                              kind=POST_KINDS[p % len(POST_KINDS)], address="岗位地点", lat=39.9, lng=116.4,
                              radius_m=300, created_by=staff["community_admin"], created_at=now))
        for t in range(spec.templates_per_post):
            start, end = TEMPLATE_SLOTS[t % len(TEMPLATE_SLOTS)]
            template_rows.append(dict(id=first_template + len(template_rows), post_id=post_id,
                                      weekdays=[1, 2, 3, 4, 5, 6, 7], start=start, end=end, seats=spec.seats,
                                      skip_holidays=t % 2 == 1, active=True, created_at=now))
        candidates = members_of.get(community_id, [])
        pool = rng.sample(candidates, min(spec.pool_size, len(candidates)))
        pools[post_id] = pool
        for member_id in pool:
            pool_rows.append(dict(id=first_pool + len(pool_rows), post_id=post_id, member_id=member_id,
                                  joined_at=now))
    w.write(Post, post_rows)
    w.write(ShiftTemplate, template_rows)
    w.write(PoolMembership, pool_rows)

    # A fortnight of past shifts (one a day per template) with assignees, some of them no-shows.
    first_shift = w.next_id(Shift)
    first_assignment = w.next_id(ShiftAssignment)
    shift_rows, assignment_rows = [], []
    for template in template_rows:
        pool = pools[template["post_id"]]
        for day in range(1, spec.history_days + 1):
            day_start = local_day_start(today - timedelta(days=day))
            hour, minute = (int(x) for x in template["start"].split(":"))
            starts = day_start + timedelta(hours=hour, minutes=minute)
            seated = pool[(day * spec.seats) % max(len(pool), 1):][:spec.seats] if pool else []
            shift_id = first_shift + len(shift_rows)
            shift_rows.append(dict(id=shift_id, post_id=template["post_id"], template_id=template["id"],
                                   starts_at=starts, ends_at=starts + timedelta(hours=2), seats=spec.seats,
                                   filled=len(seated), created_at=now))
            for member_id in seated:
                assignment_rows.append(dict(
                    id=first_assignment + len(assignment_rows), shift_id=shift_id, member_id=member_id,
                    status="no_show" if rng.random() < 0.05 else "attended", source="roster", created_at=now))
    w.write(Shift, shift_rows)
    w.write(ShiftAssignment, assignment_rows)

    _appeals(w, spec, rng, now, history_start, history_span, member_community, first_member, community_street,
             district_id, department_rows, staff)
    governance_rows(w, community_ids=community_ids, units_of=units_of, first_member=first_member,
                    members=spec.members, now=now, seed=spec.seed)
    unit_members_of = {}
    for i, unit_id in enumerate(member_unit):
        if unit_id is not None:
            unit_members_of.setdefault(unit_id, []).append(first_member + i)
    teams_of = team_rows(w, teams=spec.teams, community_ids=community_ids, units_of=units_of,
                         members_of=members_of, unit_members_of=unit_members_of, now=now, seed=spec.seed,
                         since=history_start)
    w.counts["service_records_with_team"] = mark_records(connection, teams_of, first_record=first_record)

    w.finish([Region, Unit, User, RoleAssignment, Report, Activity, ServiceRecord, Post, ShiftTemplate,
              PoolMembership, Shift, ShiftAssignment, Department, Appeal, AppealEscalation])
    return Seeded(counts=w.counts, district_id=district_id, street_ids=street_ids, community_ids=community_ids,
                  unit_ids=unit_ids, first_member_id=first_member, member_count=spec.members, staff=staff,
                  seconds=time.perf_counter() - started)


APPEAL_TITLES = ("楼道堆放杂物", "路灯不亮", "电梯故障", "噪音扰民", "垃圾桶站异味", "共享单车乱停放",
                 "建议增设充电桩", "咨询入学登记", "井盖松动", "违建外扩护栏")


def _appeals(w, spec, rng, now, history_start, history_span, member_community, first_member, community_street,
             district_id, department_rows, staff):
    """``appeals`` over the members at random (each in its community), submitted over the history, in the states
    a working community leaves them: mostly closed, some still in work, a tenth escalated to a department of the
    community's street or of the district."""
    departments_of = {}
    for row in department_rows:
        departments_of.setdefault(row["region_id"], []).append(row["id"])
    first_appeal = w.next_id(Appeal)
    first_escalation = w.next_id(AppealEscalation)
    escalations, reached = [], []
    # Numbers continue each day's counter (a second seeding appends), and the counters are moved past them, as
    # filings through the API would have left them.
    counters = AppealNumberCounter.__table__
    given = dict(w.connection.execute(select(counters.c.day, counters.c.last)).all())
    day_counts = {}

    def appeals():
        for n in range(spec.appeals):
            appeal_id = first_appeal + n
            i = rng.randrange(spec.members)
            community_id = member_community[i]
            created = history_start + timedelta(seconds=rng.randrange(history_span))
            day = to_local(created).date()
            day_counts[day] = day_counts.get(day, given.get(day, 0)) + 1
            roll = rng.random()
            status = ("closed" if roll < 0.6 else "resolved" if roll < 0.7 else "accepted" if roll < 0.8
                      else "escalated" if roll < 0.85 else "submitted" if roll < 0.9 else "rejected")
            if created > now - timedelta(days=3) and status in ("closed", "resolved"):
                status = "accepted"
            answered = status != "submitted"
            responded = created + timedelta(hours=rng.choice((1, 3, 8, 20, 30))) if answered else None
            accepted = responded if status not in ("submitted", "rejected") else None
            due_date = (accepted + timedelta(days=7)).date() if accepted else None
            resolved = accepted + timedelta(days=rng.choice((1, 3, 6, 9))) if status in ("resolved", "closed") else None
            escalated = status == "escalated" or (accepted is not None and rng.random() < 0.05)
            if escalated:
                choices = departments_of.get(community_street[community_id], []) + departments_of[district_id]
                department_id = rng.choice(choices)
                escalations.append(dict(
                    id=first_escalation + len(escalations), appeal_id=appeal_id, department_id=department_id,
                    status="open" if status == "escalated" else "answered", note="请协助处理",
                    due_date=due_date, due_at=local_day_start(due_date + timedelta(days=1)),
                    escalated_by=staff["community_admin"], escalated_at=accepted,
                    answer=None if status == "escalated" else "已处理", outcome=None if status == "escalated"
                    else "handled", answered_by=None, answered_at=None if status == "escalated" else accepted,
                    recall_reason=None, recalled_at=None, overdue_notified_at=now))
                reached.append(dict(department_id=department_id, appeal_id=appeal_id, appeal_created_at=created))
            rated = status == "closed" and rng.random() < 0.7
            yield dict(
                id=appeal_id, number=f"{day:%Y%m%d}-{day_counts[day]:04d}", community_id=community_id,
                kind=APPEAL_KINDS[n % len(APPEAL_KINDS)], title=APPEAL_TITLES[n % len(APPEAL_TITLES)],
                content="基准测试诉求", address=None, lat=None, lng=None, anonymous=n % 7 == 0,
                source=APPEAL_SOURCES[0] if n % 3 else rng.choice(APPEAL_SOURCES[1:]), status=status,
                member_id=first_member + i, resident_name=f"成员{first_member + i}", resident_phone=None,
                work_order_no=None, created_by=first_member + i, created_at=created,
                response_due_at=created + timedelta(hours=24), responded_at=responded, accepted_at=accepted,
                due_date=due_date, due_at=local_day_start(due_date + timedelta(days=1)) if due_date else None,
                department_id=escalations[-1]["department_id"] if escalated else None,
                escalated_at=accepted if escalated else None, reply="已处理" if resolved else None,
                reject_reason="不属于社区职责" if status == "rejected" else None, duplicate_of=None,
                resolved_at=resolved, ended_at=resolved or (responded if status == "rejected" else None),
                closed_at=resolved + timedelta(days=7) if status == "closed" else None,
                rating_score=rng.choice((2, 3, 4, 4, 5, 5)) if rated else None, rating_comment=None,
                rating_via="app" if rated else None, rated_by=first_member + i if rated else None,
                rated_at=resolved if rated else None, late_notified_at=now, overdue_notified_at=now)

    w.write(Appeal, appeals())
    w.write(AppealEscalation, escalations)
    w.write(AppealDepartment, reached)
    w.connection.execute(counters.delete().where(counters.c.day.in_(list(day_counts))))
    w.write(AppealNumberCounter, [dict(day=day, last=last) for day, last in day_counts.items()])


def open_sessions(member_ids, connection=None):
    """One sign-in session per member (``AuthSession`` rows), bulk-written; returns ``{member_id: session_id}``."""
    from services.auth import random_id

    if connection is None:
        with db.engine.begin() as connection:
            return open_sessions(member_ids, connection)
    now = utcnow()
    sessions = {member_id: random_id() for member_id in member_ids}
    Writer(connection).write(AuthSession, (dict(id=sid, user_id=member_id, created_at=now, revoked_at=None)
                                           for member_id, sid in sessions.items()))
    return sessions


def analyze():
    """After a bulk load (PostgreSQL): fresh planner statistics, and the visibility map that index-only scans need.
    Autovacuum would get there eventually (and not at all where it is switched off); the benchmarks run now."""
    if db.engine.dialect.name != "postgresql":
        return
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM (ANALYZE)"))


def spec_from_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.seed", description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", choices=sorted(PRESETS), default="city")
    for field in fields(SeedSpec):
        parser.add_argument("--" + field.name.replace("_", "-"), type=int, default=None)
    parser.add_argument("--database-url", default=None, help="default: DATABASE_URL or the app's default")
    parser.add_argument("--reset", action="store_true", help="drop and re-create every table first")
    args = parser.parse_args(argv)
    overrides = {f.name: getattr(args, f.name) for f in fields(SeedSpec) if getattr(args, f.name) is not None}
    return replace(PRESETS[args.preset], **overrides), args


def main(argv=None):
    from bench.runtime import bench_app

    spec, args = spec_from_args(argv)
    app = bench_app(args.database_url)
    with app.app_context():
        if args.reset:
            db.drop_all()
            db.create_all()
        seeded = seed(spec)
        analyze()
    print(json.dumps({"spec": asdict(spec), "seconds": round(seeded.seconds, 1), "counts": seeded.counts},
                     ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
