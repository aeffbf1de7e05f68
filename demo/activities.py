"""Activities in every category, sign-ups (confirmed and waitlisted), attendances and records in every state, and a
unit's own activity for party members with a sign-up window."""

from datetime import datetime, time, timedelta

from clock import local_today, local_zone, utcnow
from extensions import db
from models import Activity, Attendance, ServiceRecord, Signup
from services import points
from services.records import log_change, span_hours

# (title, category, days from today, local start hour, hours, capacity)
SPECS = (
    ("垃圾分类宣传进楼门", "civility", -20, 9, 3, 10),
    ("小区停车秩序引导", "order", -12, 8, 2, 6),
    ("社区读书会", "culture", -6, 14, 2, 15),
    ("老年人义诊服务", "health", -3, 9, 3, 8),
    ("背街小巷环境清整", "environment", 3, 9, 3, 4),
    ("消防安全隐患排查", "safety", 5, 14, 2, 6),
    ("文明养犬宣传", "civility", 9, 10, 2, 20),
    ("重阳节文艺演出", "culture", 12, 15, 2, 30),
)
# Where each community's activities take place (lat, lng), near its service station.
PLACES = ((39.9289, 116.4177), (39.9352, 116.4255), (39.9105, 116.4431), (39.9210, 116.4602))


def _local(day_offset, hour):
    day = local_today() + timedelta(days=day_offset)
    return datetime.combine(day, time(hour), tzinfo=local_zone())


def _record(member, activity, attendance, status, decider, source="checkin"):
    started = max(attendance.checked_in_at, activity.starts_at)
    ended = max(started, min(attendance.checked_out_at, activity.ends_at))
    record = ServiceRecord(member_id=member.id, community_id=activity.community_id, activity_id=activity.id,
                           attendance_id=attendance.id, category=activity.category, started_at=started,
                           ended_at=ended, hours=span_hours(started, ended), description=activity.title,
                           status="pending", source=source)
    if source == "auto_closed":
        record.description = f"{activity.title}（未签退，系统于结束时间自动签退，待核实）"
    db.session.add(record)
    db.session.flush()
    log_change(record, None if source == "auto_closed" else member.id, "create")
    if status != "pending":
        before = {"status": "pending"}
        record.status, record.decided_by, record.decided_at = status, decider.id, utcnow()
        record.reason = "未在现场" if status == "rejected" else None
        db.session.flush()
        log_change(record, decider.id, "approve" if status == "approved" else "reject", before, record.reason)
        points.settle_record(record, "approve")
    return record


def _open_now(community, admin):
    """An activity open for check-in when the demo is seeded (it began half an hour ago and runs three more hours),
    with no sign-up needed: the screen shows a live code, and any demo member can scan it."""
    starts = utcnow().replace(second=0, microsecond=0) - timedelta(minutes=30)
    activity = Activity(community_id=community.id, title=f"{community.name}志愿服务日（签到进行中）",
                        category="environment", description="演示：正在进行的活动，打开签到大屏即可扫码签到。",
                        starts_at=starts, ends_at=starts + timedelta(hours=3, minutes=30), capacity=50,
                        confirmed_count=0, address=community.address, lat=PLACES[0][0], lng=PLACES[0][1],
                        radius_m=300, requires_signup=False, status="published", created_by=admin.id)
    db.session.add(activity)
    db.session.flush()
    return activity


def _unit_activity(ctx):
    """示范区人民医院, reported to its community, organises a vaccination drive for party members: sign-ups open
    since yesterday and close the evening before; the demo's eligible members of that community are signed up."""
    unit, admin = ctx["units"][0], ctx["unit_admins"][0]
    community = next(c for c in ctx["communities"] if c.id == unit.community_id)
    starts = _local(4, 9)
    activity = Activity(community_id=community.id, unit_id=unit.id, title="疫苗接种引导",
                        category="health", description=f"{unit.name}党支部组织：接种点引导、扫码登记和秩序维护。",
                        starts_at=starts, ends_at=starts + timedelta(hours=3), capacity=12, confirmed_count=0,
                        address=community.address, lat=PLACES[0][0], lng=PLACES[0][1], radius_m=300,
                        requires_signup=True, status="published", created_by=admin.id,
                        signup_opens_at=utcnow().replace(second=0, microsecond=0) - timedelta(days=1),
                        signup_closes_at=_local(3, 20),
                        eligible_political_statuses=["party_member", "probationary_member"])
    db.session.add(activity)
    db.session.flush()
    eligible = [m for k, m in enumerate(ctx["members"]) if k % len(ctx["communities"]) == ctx["communities"].index(
        community) and m.political_status in activity.eligible_political_statuses]
    for k, member in enumerate(eligible[:3]):
        db.session.add(Signup(activity_id=activity.id, member_id=member.id, status="confirmed",
                              created_at=utcnow() - timedelta(hours=3 - k)))
        activity.confirmed_count += 1
    db.session.flush()
    return activity, len(eligible[:3])


def seed(ctx):
    communities, members, admins = ctx["communities"], ctx["members"], ctx["community_admins"]
    activities, signups, attendances, records = [], 0, 0, []
    for c, community in enumerate(communities):
        lat, lng = PLACES[c % len(PLACES)]
        for n, (title, category, day, hour, hours, capacity) in enumerate(SPECS):
            starts = _local(day + c, hour)
            activity = Activity(community_id=community.id, title=f"{community.name}{title}", category=category,
                                description=f"{title}，欢迎居民和在职党员报名参加。", starts_at=starts,
                                ends_at=starts + timedelta(hours=hours), capacity=capacity, confirmed_count=0,
                                address=community.address, lat=lat, lng=lng, radius_m=300,
                                requires_signup=n % 4 != 2, status="published", created_by=admins[c].id)
            db.session.add(activity)
            activities.append(activity)
    db.session.flush()

    for i, activity in enumerate(activities):
        c = i // len(SPECS)
        pool = [m for k, m in enumerate(members) if k % len(communities) == c]
        # The fifth spec (capacity 4) gets more volunteers than seats: a waitlist.
        wanted = pool[:7] if activity.capacity == 4 else pool[: min(len(pool), activity.capacity, 5)]
        for k, member in enumerate(wanted):
            confirmed = activity.confirmed_count < activity.capacity
            db.session.add(Signup(activity_id=activity.id, member_id=member.id,
                                  status="confirmed" if confirmed else "waitlisted",
                                  created_at=activity.created_at + timedelta(minutes=k)))
            activity.confirmed_count += 1 if confirmed else 0
            signups += 1
        if activity.ends_at >= utcnow():
            continue
        for k, member in enumerate(wanted[:4]):
            checked_in = activity.starts_at - timedelta(minutes=10) + timedelta(minutes=k)
            auto_closed = k == 3 and i % 2 == 0
            checked_out = activity.ends_at if auto_closed else activity.ends_at - timedelta(minutes=20 * k)
            attendance = Attendance(member_id=member.id, activity_id=activity.id, checked_in_at=checked_in,
                                    checked_out_at=checked_out,
                                    minutes=int((checked_out - checked_in).total_seconds() // 60),
                                    check_in_lat=activity.lat, check_in_lng=activity.lng, needs_review=auto_closed)
            db.session.add(attendance)
            db.session.flush()
            attendances += 1
            status = "pending" if auto_closed else ("approved", "approved", "pending", "rejected")[k]
            records.append(_record(member, activity, attendance, status, admins[c],
                                   "auto_closed" if auto_closed else "checkin"))

    cancelled = activities[-1]
    cancelled.status = "cancelled"
    activities.append(_open_now(communities[0], admins[0]))
    unit_activity, unit_signups = _unit_activity(ctx)
    activities.append(unit_activity)
    signups += unit_signups
    # One manual entry per community: an evening duty that ran past midnight.
    for c, community in enumerate(communities):
        member = members[c]
        started = _local(-8, 21)
        record = ServiceRecord(member_id=member.id, community_id=community.id, category="safety",
                               started_at=started, ended_at=started + timedelta(hours=4), hours=span_hours(
                                   started, started + timedelta(hours=4)),
                               description="夜间防火巡查（跨午夜）", status="pending", source="manual",
                               created_by=admins[c].id)
        db.session.add(record)
        db.session.flush()
        log_change(record, admins[c].id, "create")
        records.append(record)
    db.session.flush()

    ctx["activities"] = activities
    ctx["service_records"] = records
    by_status = {s: sum(1 for r in records if r.status == s) for s in ("pending", "approved", "rejected")}
    return {"activities": len(activities), "signups": signups, "attendances": attendances,
            "service_records": len(records), **{f"records_{s}": n for s, n in by_status.items()}}
