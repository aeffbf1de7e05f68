"""Volunteer teams (志愿服务队): owned by a community or by a unit, with a join policy, leaders and members.

- The owner's staff: for a community team, community staff (its admins, or street, district or sysadmins above it);
  for a unit team, the unit's admins and community staff of the unit's community. A unit's community is the one it
  has an approved unit report to, else the one it sits in. They create a team, edit it, dissolve it and name its
  leaders; leaders (active members) and the owner's staff approve and remove members, but only the owner's staff
  remove a leader.
- Names are unique per owner, trimmed and case-insensitive: a unique index on the normalised name decides.
- One membership row per team and member (a unique constraint): asking again while pending or active is 409
  ``already_member``; removing or leaving deletes the row, which ends leadership too.
- A team sign-up is the single sign-up (services/activities.py) composed for each member inside one transaction,
  under the activity's seat lock: never more confirmed than the capacity, and with ``all_or_nothing`` all or none.
- A sign-up made through a team carries ``team_id``, and so do the attendance and the service record that follow:
  a team's figures count those.
"""

from sqlalchemy import and_, case, delete, distinct, func, literal, or_, select, union_all, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from clock import local_today, local_year_bounds, utcnow
from errors import Conflict, Forbidden, NotFound, ValidationFailed
from extensions import db
from models import Attendance, Region, Report, ServiceRecord, Signup, Team, TeamEvent, TeamMember, Unit, User
from models.activity import SignupStatus
from models.record import RecordStatus
from models.report import ReportStatus, approved_unit_report
from models.team import JoinPolicy, MembershipStatus, TeamAction, TeamRole, TeamStatus, name_key
from services import activities, notifications, rollups, subscriptions
from services.authz import community_field, fetch, require_member, require_staff, row_field
from services.database import add_unique, as_dict, contains_text, update_if, valid_id, where_given


def _not_found():
    return NotFound("team_not_found", "服务队不存在或不在管辖范围内")


def _membership_not_found():
    return NotFound("membership_not_found", "该成员不在服务队中")


def _not_leader():
    return Forbidden("not_leader", "只有服务队队长或所属单位、社区的工作人员可以操作")


def _invalid_state(message="服务队已解散"):
    return Conflict("invalid_state", message)


def _not_active_members(member_ids):
    return ValidationFailed({"member_ids": [f"不是该服务队的正式成员：{', '.join(map(str, member_ids))}"]})


def _name_taken():
    return Conflict("team_name_taken", "同一社区或单位下已有同名服务队")


def _log(team, action, actor_id, member_id=None, details=None):
    """One row of the team's history, in the same transaction as the change it records."""
    db.session.add(TeamEvent(team_id=team.id, action=action, actor_id=actor_id, member_id=member_id,
                             details=details, at=utcnow()))


# Where units stand: the community of a unit's approved unit report, else their own (models/report.py).

def unit_communities(unit_ids):
    """``{unit_id: community_id}`` for these units, in one query."""
    if not unit_ids:
        return {}
    return dict(db.session.execute(
        select(Unit.id, func.coalesce(Report.community_id, Unit.community_id))
        .outerjoin(Report, approved_unit_report(Unit.id)).where(Unit.id.in_(set(unit_ids)))).all())


def _units_in_community(community_id):
    """The ids of the units whose community (as above) is this one: those reported to it, and those sitting in it
    reported nowhere. Two indexed lookups; a coalesce() over the join read every unit."""
    reported = select(Report.unit_id).where(Report.kind == "unit", Report.status == ReportStatus.APPROVED,
                                            Report.community_id == community_id)
    unreported = select(Unit.id).where(Unit.community_id == community_id,
                                       ~select(Report.id).where(approved_unit_report(Unit.id)).exists())
    return list(db.session.scalars(reported.union(unreported)))


def team_community_id(team):
    if team.owner_community_id is not None:
        return team.owner_community_id
    return unit_communities([team.owner_unit_id]).get(team.owner_unit_id)


def _count_active(team, delta):
    """The team's community gains (+1) or loses (-1) an active team in the overview's rollup. A unit team's unit row
    is share-locked first: a unit report decided at the same moment locks it for update (services/reports.py), so
    either it waits and then moves this team with the unit's others, or it goes first and this counts the team
    where the unit stands now."""
    if team.owner_unit_id is not None:
        db.session.execute(select(Unit.id).where(Unit.id == team.owner_unit_id).with_for_update(read=True))
    rollups.teams_changed(team_community_id(team), delta)


def is_owner_staff(actor, team):
    """The owner's staff: community staff of a community team's community; a unit team's admins and community
    staff of the unit's community."""
    if team.owner_unit_id is not None and team.owner_unit_id in actor.unit_ids:
        return True
    community_id = team_community_id(team)
    return community_id is not None and actor.covers_community_id(community_id)


# Memberships.

def _membership(team_id, member_id, *, lock=False):
    statement = select(TeamMember).where(TeamMember.team_id == team_id, TeamMember.member_id == member_id)
    if lock:
        statement = statement.with_for_update().execution_options(populate_existing=True)
    return db.session.scalar(statement)


def is_leader(team_id, member_id):
    return db.session.scalar(select(TeamMember.id).where(
        TeamMember.team_id == team_id, TeamMember.member_id == member_id,
        TeamMember.role == TeamRole.LEADER)) is not None


def leader_ids(team_id):
    return list(db.session.scalars(select(TeamMember.member_id).where(
        TeamMember.team_id == team_id, TeamMember.role == TeamRole.LEADER).order_by(TeamMember.member_id)))


# Access.

def access_team(actor, team_id, *, lock=False):
    """A team: anyone signed in sees it (``lock`` when the caller will change it)."""
    return fetch(Team, team_id, _not_found(), lock=lock)


def _as_owner_staff(actor, team_id):
    """The team, locked, for its owner's staff: 403 ``staff_only`` for members, 404 for staff outside it."""
    require_staff(actor)
    team = access_team(actor, team_id, lock=True)
    if not is_owner_staff(actor, team):
        raise _not_found()
    return team


def _as_manager(actor, team_id):
    """The team, locked, for a leader or the owner's staff: ``(team, as_owner_staff)``; staff who are neither get
    404 (outside their scope), others 403 ``not_leader``."""
    team = access_team(actor, team_id, lock=True)
    if is_owner_staff(actor, team):
        return team, True
    if is_leader(team.id, actor.id):
        return team, False
    if actor.is_staff:
        raise _not_found()
    raise _not_leader()


def _active(team):
    if team.status != TeamStatus.ACTIVE:
        raise _invalid_state()


# The team itself.

def create_team(actor, *, owner_type, owner_id, name, description=None, join_policy=JoinPolicy.APPROVAL):
    """Staff of the community (or above), or the unit's admins, found a team; its name is unique for the owner."""
    require_staff(actor)
    team = Team(name=name, name_key=name_key(name), description=description, join_policy=join_policy,
                status=TeamStatus.ACTIVE, created_by=actor.id, created_at=utcnow())
    if owner_type == "community":
        community = community_field(owner_id, "owner_id")
        team.owner_community_id = community.id
    else:
        unit = row_field(Unit, owner_id, "owner_id", "单位不存在")
        team.owner_unit_id = unit.id
    if not is_owner_staff(actor, team):
        raise (NotFound("region_not_found", "区域不存在或不在管辖范围内") if owner_type == "community"
               else NotFound("unit_not_found", "单位不存在或不在管辖范围内"))
    if not add_unique(team):
        raise _name_taken()
    _count_active(team, +1)
    _log(team, TeamAction.CREATED, actor.id, details={"name": team.name})
    return team


def update_team(actor, team_id, **changes):
    """The owner's staff edit name, description and join policy; switching to ``open`` admits everyone waiting."""
    team = _as_owner_staff(actor, team_id)
    _active(team)
    before = {field: getattr(team, field) for field in changes}
    if "name" in changes:
        changes["name_key"] = name_key(changes["name"])
    for field, value in changes.items():
        setattr(team, field, value)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError:
        raise _name_taken() from None
    changed = {field: [was, changes[field]] for field, was in before.items() if was != changes[field]}
    if changed:
        _log(team, TeamAction.UPDATED, actor.id, details=changed)
    if changes.get("join_policy") == JoinPolicy.OPEN:
        _admit_pending(actor, team)
    return team


def _admit_pending(actor, team):
    now = utcnow()
    admitted = list(db.session.scalars(
        update(TeamMember).where(TeamMember.team_id == team.id, TeamMember.status == MembershipStatus.PENDING)
        .values(status=MembershipStatus.ACTIVE, joined_at=now, decided_by=actor.id)
        .returning(TeamMember.member_id).execution_options(synchronize_session=False)))
    for member_id in admitted:
        _log(team, TeamAction.APPROVED, actor.id, member_id)
        _tell_decision(team, member_id, approved=True)


def dissolve_team(actor, team_id):
    """The owner's staff dissolve a team: no new joins or sign-ups; its members, records and history stay."""
    team = _as_owner_staff(actor, team_id)
    if not update_if(team, Team.status == TeamStatus.ACTIVE, status=TeamStatus.DISSOLVED, dissolved_at=utcnow()):
        raise _invalid_state("服务队已解散")
    _count_active(team, -1)
    _log(team, TeamAction.DISSOLVED, actor.id)
    return team


def list_teams(*, community_id=None, unit_id=None, q=None, owner_type=None, status=None):
    """Teams, newest first. ``community_id`` matches the community's own teams and those of units in it."""
    query = select(Team)
    if community_id is not None:
        # The unit ids as values, not a subquery: then each side of the OR reads its own index (a bitmap OR), where
        # an OR with a subquery filtered every team (BENCHMARKS.md, "Teams").
        query = query.where(or_(Team.owner_community_id == community_id,
                                Team.owner_unit_id.in_(_units_in_community(community_id))))
    if owner_type == "community":
        query = query.where(Team.owner_community_id.is_not(None))
    elif owner_type == "unit":
        query = query.where(Team.owner_unit_id.is_not(None))
    if q:
        query = query.where(contains_text(Team.name, q))
    query = where_given(query, (Team.owner_unit_id, unit_id), (Team.status, status))
    if community_id is None:
        return query.order_by(Team.id.desc())
    # A community's teams (tens, hundreds) fetched first, then sorted: with a page's LIMIT the planner would walk
    # every team newest first, filtering, since a community's teams are not spread over the ids evenly.
    teams = aliased(Team, query.cte("community_teams").prefix_with("MATERIALIZED"))
    return select(teams).order_by(teams.id.desc())


def my_teams(actor):
    """The teams the caller belongs to or asked to join, newest first."""
    return (select(Team).join(TeamMember, and_(TeamMember.team_id == Team.id, TeamMember.member_id == actor.id))
            .order_by(Team.id.desc()))


def hours_this_year(condition, group_by):
    """SQL: this year's approved hours per ``group_by`` of the records meeting ``condition`` (on a team: read from
    the covering ``ix_service_records_team_status_started``)."""
    start, end = local_year_bounds(local_today().year)
    return (select(group_by, func.sum(ServiceRecord.hours))
            .where(condition, ServiceRecord.status == RecordStatus.APPROVED, ServiceRecord.started_at >= start,
                   ServiceRecord.started_at < end).group_by(group_by))


def _hours_this_year(condition, group_by):
    return dict(db.session.execute(hours_this_year(condition, group_by)).all())


def present(actor, teams):
    """A page of teams with owner names, communities, leaders, member counts, this year's approved hours and the
    caller's own membership: a fixed number of grouped queries for the page, none per team."""
    ids = [t.id for t in teams]
    if not ids:
        return []
    unit_ids = {t.owner_unit_id for t in teams if t.owner_unit_id}
    region_ids = {t.owner_community_id for t in teams if t.owner_community_id}
    # Every owner's name (and a unit's community) in one statement, whatever kinds of owner the page has.
    owners = union_all(
        select(literal("community"), Region.id, Region.name, Region.id).where(Region.id.in_(region_ids)),
        select(literal("unit"), Unit.id, Unit.name, func.coalesce(Report.community_id, Unit.community_id))
        .outerjoin(Report, approved_unit_report(Unit.id)).where(Unit.id.in_(unit_ids)))
    named = {(kind, owner_id): (name, community_id)
             for kind, owner_id, name, community_id in db.session.execute(owners)}
    # Member counts and the caller's own membership in one grouped statement (a round trip each cost p99 under load).
    counts, mine = {}, {}
    for team_id, active, my_status, my_role in db.session.execute(
            select(TeamMember.team_id, func.count(case((TeamMember.status == MembershipStatus.ACTIVE, 1))),
                   func.max(case((TeamMember.member_id == actor.id, TeamMember.status))),
                   func.max(case((TeamMember.member_id == actor.id, TeamMember.role))))
            .where(TeamMember.team_id.in_(ids)).group_by(TeamMember.team_id)):
        counts[team_id] = active
        if my_status is not None:
            mine[team_id] = (my_status, my_role)
    leaders = {}
    for team_id, member_id, name in db.session.execute(
            select(TeamMember.team_id, TeamMember.member_id, User.name).join(User, User.id == TeamMember.member_id)
            .where(TeamMember.team_id.in_(ids), TeamMember.role == TeamRole.LEADER)
            .order_by(TeamMember.team_id, TeamMember.member_id)):
        leaders.setdefault(team_id, []).append({"member_id": member_id, "name": name})
    hours = _hours_this_year(ServiceRecord.team_id.in_(ids), ServiceRecord.team_id)
    shown = []
    for team in teams:
        own_status, own_role = mine.get(team.id, (None, None))
        unit = team.owner_unit_id
        owner_name, community_id = named.get(("unit", unit) if unit else ("community", team.owner_community_id),
                                             (None, None))
        shown.append({
            **as_dict(team),
            "owner_type": team.owner_type,
            "owner_id": team.owner_id,
            "owner_name": owner_name,
            "community_id": community_id if unit else team.owner_community_id,
            "member_count": counts.get(team.id, 0),
            "leaders": leaders.get(team.id, []),
            "approved_hours_this_year": hours.get(team.id, 0),
            "my_status": own_status,
            "my_role": own_role,
        })
    return shown


def present_one(actor, team):
    return present(actor, [team])[0]


# Joining and leaving.

def join(actor, team_id):
    """A member asks to join: active at once in an open team, pending in one that approves; once only."""
    require_member(actor)
    team = access_team(actor, team_id)
    _active(team)
    now = utcnow()
    admitted = team.join_policy == JoinPolicy.OPEN
    membership = TeamMember(team_id=team.id, member_id=actor.id, role=TeamRole.MEMBER, requested_at=now,
                            status=MembershipStatus.ACTIVE if admitted else MembershipStatus.PENDING,
                            joined_at=now if admitted else None)
    if not add_unique(membership):
        raise Conflict("already_member", "已经加入或正在申请加入该服务队")
    _log(team, TeamAction.JOINED if admitted else TeamAction.REQUESTED, actor.id, actor.id)
    if not admitted:
        # Leaders decide; a team without leaders yet is its founder's to decide (if it has one on record).
        for leader_id in leader_ids(team.id) or [founder for founder in (team.created_by,) if founder]:
            notifications.notify(leader_id, "team_join_requested", f"有成员申请加入：{team.name}",
                                 f"{actor.user.name or '成员'}申请加入服务队，请审核", ref=f"team:{team.id}",
                                 key=f"team:{team.id}:request:{membership.id}:{leader_id}")
    return membership


def _tell_decision(team, member_id, *, approved):
    result = "已加入" if approved else "未通过加入申请"
    notifications.notify(member_id, "team_join_decided", f"{result}：{team.name}", ref=f"team:{team.id}")
    # One decision per request: the request's moment tells a later request's decision apart.
    subscriptions.push(member_id, "team_join_decided", f"{team.id}:{utcnow().isoformat()}",
                       {"id": team.id, "team": team.name, "result": result}, page=f"pages/teams/detail?id={team.id}")


def approve_member(actor, team_id, member_id):
    """A leader or the owner's staff admit a pending request; anything but pending is 409 ``invalid_state``."""
    team, _ = _as_manager(actor, team_id)
    _active(team)
    membership = _membership(team.id, member_id)
    if membership is None:
        raise _membership_not_found()
    if not update_if(membership, TeamMember.status == MembershipStatus.PENDING, status=MembershipStatus.ACTIVE,
                     joined_at=utcnow(), decided_by=actor.id):
        raise _invalid_state("该成员不在待审核状态")
    _log(team, TeamAction.APPROVED, actor.id, member_id)
    _tell_decision(team, member_id, approved=True)
    return membership


def remove_member(actor, team_id, member_id):
    """A leader or the owner's staff remove a member (a pending request: decline it); only the owner's staff remove
    a leader."""
    team, as_owner_staff = _as_manager(actor, team_id)
    membership = _membership(team.id, member_id, lock=True) if valid_id(member_id) else None
    if membership is None:
        raise _membership_not_found()
    if membership.role == TeamRole.LEADER and not as_owner_staff:
        raise Forbidden("owner_staff_only", "只有服务队所属社区或单位的工作人员可以移除队长")
    db.session.delete(membership)
    db.session.flush()
    declined = membership.status == MembershipStatus.PENDING
    _log(team, TeamAction.DECLINED if declined else TeamAction.REMOVED, actor.id, member_id,
         {"role": membership.role} if not declined else None)
    if declined:
        _tell_decision(team, member_id, approved=False)


def leave(actor, team_id):
    """The caller leaves the team (or withdraws its request); a leader's leadership ends with it."""
    team = access_team(actor, team_id)
    removed = db.session.execute(delete(TeamMember).where(
        TeamMember.team_id == team.id, TeamMember.member_id == actor.id)).rowcount
    if not removed:
        raise _membership_not_found()
    _log(team, TeamAction.LEFT, actor.id, actor.id)


def set_leaders(actor, team_id, member_ids):
    """The owner's staff replace the leaders: each must be an active member (422 naming the others)."""
    team = _as_owner_staff(actor, team_id)
    _active(team)
    wanted = set(member_ids)
    active = set(db.session.scalars(select(TeamMember.member_id).where(
        TeamMember.team_id == team.id, TeamMember.member_id.in_(wanted),
        TeamMember.status == MembershipStatus.ACTIVE)))
    if wanted - active:
        raise _not_active_members(sorted(wanted - active))
    db.session.execute(update(TeamMember).where(TeamMember.team_id == team.id).values(role=TeamRole.MEMBER)
                       .execution_options(synchronize_session=False))
    if wanted:
        db.session.execute(update(TeamMember).where(
            TeamMember.team_id == team.id, TeamMember.member_id.in_(wanted)).values(role=TeamRole.LEADER)
            .execution_options(synchronize_session=False))
    _log(team, TeamAction.LEADERS_SET, actor.id, details={"member_ids": sorted(wanted)})
    db.session.flush()
    return team


def list_members(actor, team_id, *, status=None, role=None):
    """A team's members and requests (its leaders and the owner's staff), leaders first, then by arrival."""
    team, _ = _as_manager(actor, team_id)
    query = (select(TeamMember).where(TeamMember.team_id == team.id)
             .order_by(TeamMember.role, TeamMember.requested_at, TeamMember.id))
    return team, where_given(query, (TeamMember.status, status), (TeamMember.role, role))


def present_members(team, memberships):
    """A page of memberships with names and the hours each served with this team this year (two queries)."""
    member_ids = [m.member_id for m in memberships]
    names = dict(db.session.execute(select(User.id, User.name).where(User.id.in_(member_ids))).all())
    hours = _hours_this_year(and_(ServiceRecord.team_id == team.id, ServiceRecord.member_id.in_(member_ids)),
                             ServiceRecord.member_id)
    return [{"member_id": m.member_id, "name": names.get(m.member_id), "status": m.status, "role": m.role,
             "requested_at": m.requested_at, "joined_at": m.joined_at,
             "approved_hours_this_year": hours.get(m.member_id, 0)} for m in memberships]


def history(actor, team_id):
    """A team's history, newest first (its leaders and the owner's staff)."""
    team, _ = _as_manager(actor, team_id)
    return select(TeamEvent).where(TeamEvent.team_id == team.id).order_by(TeamEvent.id.desc())


def present_history(events):
    """A page of the history with the names of who acted and on whom (one query)."""
    people = {e.actor_id for e in events} | {e.member_id for e in events}
    names = dict(db.session.execute(select(User.id, User.name).where(User.id.in_(people - {None}))).all())
    return [{**as_dict(e), "actor_name": names.get(e.actor_id), "member_name": names.get(e.member_id)}
            for e in events]


# Team sign-ups.

def team_sign_up(actor, activity_id, *, team_id, member_ids, all_or_nothing=False):
    """A leader signs team members up: the single sign-up (``activities.sign_up_member``) for each, in this
    transaction, under the activity's seat lock. Members already signed up or not eligible are skipped; with
    ``all_or_nothing`` every other one is confirmed, or nobody is (409 ``not_enough_seats`` with the free seats)."""
    team = row_field(Team, team_id, "team_id", "服务队不存在")
    member_ids = list(dict.fromkeys(member_ids))
    active = set(db.session.scalars(select(TeamMember.member_id).where(
        TeamMember.team_id == team.id, TeamMember.member_id.in_(member_ids),
        TeamMember.status == MembershipStatus.ACTIVE)))
    strangers = [m for m in member_ids if m not in active]
    if strangers:
        raise _not_active_members(strangers)
    activity = activities.find_activity(activity_id)
    if not is_leader(team.id, actor.id):
        raise _not_leader()
    _active(team)
    activity = activities.open_for_signup(activity.id)
    signed_up = set(db.session.scalars(select(Signup.member_id).where(
        Signup.activity_id == activity.id, Signup.member_id.in_(member_ids),
        Signup.status.in_(SignupStatus.ACTIVE))))
    members = {user.id: user for user in db.session.scalars(select(User).where(User.id.in_(member_ids)))}
    ineligible = {m for m in member_ids if m not in signed_up and not activities.is_eligible(activity, members[m])}
    skipped = [{"member_id": m, "code": "already_signed_up" if m in signed_up else "not_eligible"}
               for m in member_ids if m in signed_up or m in ineligible]
    wanted = [m for m in member_ids if m not in signed_up and m not in ineligible]
    free_seats = max(0, activity.capacity - activity.confirmed_count)
    if all_or_nothing and len(wanted) > free_seats:
        raise Conflict("not_enough_seats", f"名额不足：剩余 {free_seats} 个", {"free_seats": free_seats})
    confirmed, waitlisted = [], []
    for member_id in wanted:
        signup = activities.sign_up_member(activity, member_id, team=team)
        if signup is None:
            skipped.append({"member_id": member_id, "code": "already_signed_up"})
        elif signup.status == SignupStatus.CONFIRMED:
            confirmed.append(member_id)
        elif all_or_nothing:
            # Cannot happen under the seat lock; if it did, the whole unit of work is rolled back.
            raise Conflict("not_enough_seats", "名额不足", {"free_seats": free_seats})
        else:
            waitlisted.append(member_id)
    return {"confirmed": confirmed, "waitlisted": waitlisted, "skipped": skipped}


# Figures.

def team_stats(actor, team_id, *, year=None):
    """In the local year: approved hours of the records carrying the team; checked-out attendances carrying it, with
    their distinct members and distinct activities."""
    team = access_team(actor, team_id)
    year = year or local_today().year
    start, end = local_year_bounds(year)
    hours = db.session.scalar(select(func.coalesce(func.sum(ServiceRecord.hours), 0)).where(
        ServiceRecord.team_id == team.id, ServiceRecord.status == RecordStatus.APPROVED,
        ServiceRecord.started_at >= start, ServiceRecord.started_at < end))
    attendances, members, activity_count = db.session.execute(
        select(func.count(), func.count(distinct(Attendance.member_id)), func.count(distinct(Attendance.activity_id)))
        .where(Attendance.team_id == team.id, Attendance.checked_out_at.is_not(None),
               Attendance.checked_in_at >= start, Attendance.checked_in_at < end)).one()
    return {"team_id": team.id, "year": year, "approved_hours": hours, "attendances": attendances,
            "active_members": members, "activities": activity_count}
