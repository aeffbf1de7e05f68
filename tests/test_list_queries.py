"""Every list endpoint runs a fixed number of queries whatever the page size: no query per item (N+1)."""

from datetime import date, timedelta
from decimal import Decimal

import pytest

from clock import utcnow
from extensions import db
from models import (
    AgendaItem,
    Appeal,
    AppealDepartment,
    AppealEscalation,
    AppealEvent,
    Certificate,
    Convention,
    ConventionVersion,
    CorrectionRequest,
    Department,
    Meeting,
    MeetingDecision,
    MeetingMinutes,
    MeetingTask,
    ModerationItem,
    Need,
    Notification,
    Partner,
    PointsEntry,
    PoolMembership,
    Post,
    Project,
    Report,
    Resource,
    Shift,
    ShiftAssignment,
    ShiftTemplate,
    Signup,
    Team,
    TeamEvent,
    TeamMember,
    Unit,
    Upload,
    Wish,
)
from services.records import log_change
from tests.activity_factories import make_activity, make_record
from tests.factories import auth, make_member, make_region, make_staff, region_tree

ITEMS = 6


@pytest.fixture
def lists():
    """Six of everything that is listed, in community a1, and the ids the list paths need."""
    tree = region_tree()
    community = tree["a1"]
    member = make_member()
    others = [make_member() for _ in range(ITEMS)]
    unit = Unit(name="示范单位", kind="school", community_id=community.id)
    db.session.add_all([unit, *(Unit(name=f"单位{n}", kind="school", community_id=community.id) for n in range(ITEMS)),
                        *(Post(community_id=community.id, name=f"岗位{n}", kind="gate") for n in range(ITEMS))])
    db.session.flush()
    for other in others:
        other.unit_id = unit.id
    activities = [make_activity(community) for _ in range(ITEMS)]
    post = Post(community_id=community.id, name="桶站", kind="bin_station")
    db.session.add(post)
    db.session.flush()
    soon = utcnow() + timedelta(days=1)
    shifts = [Shift(post_id=post.id, starts_at=soon + timedelta(hours=3 * n), ends_at=soon + timedelta(hours=3 * n + 2),
                    seats=ITEMS, filled=ITEMS) for n in range(ITEMS)]
    db.session.add_all(shifts)
    db.session.flush()
    record = make_record(member, community)
    # Teams of the community and of the unit, the member leading each, the others all in the first.
    teams = [Team(name=f"服务队{n}", name_key=f"服务队{n}", join_policy="open", status="active",
                  **({"owner_unit_id": unit.id} if n % 2 else {"owner_community_id": community.id}))
             for n in range(ITEMS)]
    db.session.add_all(teams)
    db.session.flush()
    db.session.add_all([TeamMember(team_id=t.id, member_id=member.id, status="active", role="leader") for t in teams])
    db.session.add_all([TeamMember(team_id=teams[0].id, member_id=o.id, status="active", role="member")
                        for o in others])
    db.session.add_all([TeamEvent(team_id=teams[0].id, action="approved", actor_id=member.id, member_id=o.id,
                                  at=utcnow()) for o in others])
    for n, other in enumerate(others):
        db.session.add_all([
            Signup(activity_id=activities[0].id, member_id=other.id, status="confirmed", created_at=utcnow()),
            ShiftTemplate(post_id=post.id, weekdays=[n + 1], start="07:00", end="08:00", seats=1, active=False),
            PoolMembership(post_id=post.id, member_id=other.id),
            Report(kind="member", status="pending", member_id=other.id, community_id=community.id,
                   created_by=other.id),
            Wish(community_id=community.id, title=f"心愿{n}", status="claimed", claimed_by=other.id,
                 claimer_member_id=None if n % 2 else other.id, claimer_team_id=teams[n].id if n % 2 else None),
            Need(community_id=community.id, title=f"需求{n}", category="养老", source="visit", status="open"),
            Resource(owner_type="community", owner_id=community.id, community_id=community.id, title=f"资源{n}",
                     kind="venue", status="available"),
            PointsEntry(member_id=member.id, delta=10, reason="service_hours", ref=f"test:{n}", at=utcnow()),
            Notification(member_id=member.id, kind="note", title=f"通知{n}", created_at=utcnow()),
            Certificate(number=f"BD-{n}", verify_code=f"code-{n}", member_id=member.id, issuer_id=community.id,
                        period_from=date(2025, 1, 1), period_to=date(2025, 12, 31), total_hours=Decimal(2),
                        snapshot={}, issued_via="api", issued_at=utcnow()),
        ])
        for shift in shifts:
            db.session.add(ShiftAssignment(shift_id=shift.id, member_id=other.id, status="assigned"))
        db.session.add(ShiftAssignment(shift_id=shifts[n].id, member_id=member.id, status="assigned"))
        other_record = make_record(other, community)
        db.session.add(CorrectionRequest(record_id=other_record.id, member_id=other.id, hours=1, reason="少算",
                                         status="pending"))
        log_change(record, other.id, "correct", reason=f"核对{n}")
        make_record(member, community)
    db.session.flush()
    needs = db.session.query(Need).all()
    db.session.add_all([Project(community_id=community.id, title=f"项目{n}", status="proposed", needs=needs[:2])
                        for n in range(ITEMS)])
    department_staff = _appeals(tree, community, member, needs)
    governance = _governance(tree, community, member, unit, needs)
    db.session.commit()
    staff = make_staff("district_admin", tree["district"])
    return {"staff": staff, "member": member, "department_staff": department_staff, "activity": activities[0].id,
            "post": post.id, "record": record.id, "unit": unit.id,
            "from": (soon - timedelta(days=1)).date().isoformat(), "to": (soon + timedelta(days=3)).date().isoformat(),
            "unit_staff": make_staff("unit_admin", unit), "district": tree["district"].id, "team": teams[0].id,
            "community": community.id,
            **governance}


def _governance(tree, community, member, unit, needs):
    """Six partners (the first the unit), six held meetings with an agenda about a need, attendance of each kind,
    a decision with a vote and an overdue task each; six versions of the first meeting's minutes; six conventions,
    the first in six versions; two more communities, so that a district has six."""
    for n in (3, 4):
        make_region(f"a{n}社区", "community", tree["street_a"])
    partners = [Partner(community_id=community.id, name=f"共建方{n}", role="unit" if n == 0 else "other",
                        unit_id=unit.id if n == 0 else None, contact_name="联络人", contact_phone="010-64001234")
                for n in range(ITEMS)]
    db.session.add_all(partners)
    db.session.flush()
    past = utcnow() - timedelta(days=30)
    meetings = [Meeting(community_id=community.id, kind="joint", title=f"联席会{n}", starts_at=past + timedelta(days=n),
                        place="会议室", status="held", partner_ids=[p.id for p in partners], summary="纪要",
                        attendance=[{"partner_id": partners[n].id, "member_id": None, "name": None},
                                    {"partner_id": None, "member_id": member.id, "name": None},
                                    {"partner_id": None, "member_id": None, "name": "楼门长"}],
                        minutes_version=1) for n in range(ITEMS)]
    db.session.add_all(meetings)
    db.session.flush()
    for n, meeting in enumerate(meetings):
        db.session.add(AgendaItem(meeting_id=meeting.id, position=0, title="议题", need_id=needs[n].id))
        decision = MeetingDecision(meeting_id=meeting.id, position=0, agenda_index=0, text=f"决定{n}", votes_for=9,
                                   votes_against=0, votes_abstain=1)
        db.session.add(decision)
        db.session.flush()
        db.session.add(MeetingTask(community_id=community.id, meeting_id=meeting.id,
                                   meeting_starts_at=meeting.starts_at, decision_id=decision.id, decision_index=0,
                                   position=0, title=f"任务{n}", owner_partner_id=partners[0].id,
                                   due_date=(past + timedelta(days=n + 1)).date(), status="open"))
        db.session.add(MeetingMinutes(meeting_id=meetings[0].id, version=n + 1, summary="纪要",
                                      attendance=meetings[0].attendance, decisions=[
                                          {"agenda_index": 0, "text": "决定", "votes": None, "tasks": [
                                              {"title": "任务", "owner_partner_id": partners[0].id,
                                               "due_date": "2030-01-01"}]}],
                                      reason=None if n == 0 else f"更正{n}", recorded_by=member.id))
    conventions = [Convention(community_id=community.id, title=f"公约{n}", text="条文",
                              partner_ids=[p.id for p in partners], version=ITEMS if n == 0 else 1)
                   for n in range(ITEMS)]
    db.session.add_all(conventions)
    db.session.flush()
    db.session.add_all([ConventionVersion(convention_id=conventions[0].id, version=n + 1, title="公约", text="条文",
                                          partner_ids=[p.id for p in partners], reason=f"修订{n}")
                        for n in range(ITEMS)])
    db.session.flush()
    return {"meeting": meetings[0].id, "convention": conventions[0].id}


def _appeals(tree, community, member, needs):
    """Six appeals of the member, each with a photo, an escalation, its steps, a linked need and a text in review;
    six departments. Returns a department admin who sees them all."""
    departments = [Department(region_id=tree["street_a"].id, name=f"部门{n}") for n in range(ITEMS)]
    db.session.add_all(departments)
    db.session.flush()
    now = utcnow()
    for n in range(ITEMS):
        appeal = Appeal(number=f"20260101-{n + 1:04d}", community_id=community.id, kind="problem", title=f"诉求{n}",
                        content="内容", source="app", status="escalated", member_id=member.id,
                        resident_name="居民", resident_phone="13800001111", anonymous=n % 2 == 0,
                        created_by=member.id, created_at=now, response_due_at=now + timedelta(hours=24),
                        accepted_at=now, responded_at=now, due_date=date(2030, 1, 1), due_at=now + timedelta(days=7),
                        department_id=departments[0].id, escalated_at=now)
        db.session.add(appeal)
        db.session.flush()
        db.session.add_all([
            Upload(owner_id=member.id, appeal_id=appeal.id, storage_key=f"key-{n}.jpg", content_type="image/jpeg",
                   width=10, height=10, size=100, review="passed", created_at=now),
            AppealEscalation(appeal_id=appeal.id, department_id=departments[0].id, note="请协助", status="open",
                             due_date=date(2030, 1, 1), due_at=now + timedelta(days=7), escalated_at=now),
            AppealDepartment(department_id=departments[0].id, appeal_id=appeal.id, appeal_created_at=now),
            AppealEvent(appeal_id=appeal.id, action="submitted", actor_id=member.id, actor_role="resident", at=now),
            ModerationItem(community_id=community.id, object_type="appeal", object_id=appeal.id, field="title",
                           text=f"诉求{n}", author_id=member.id, status="review", created_at=now),
        ])
        needs[n % len(needs)].appeal_id = appeal.id
    db.session.flush()
    return make_staff("department_admin", departments[0])


LISTS = {
    "/api/v1/regions": "staff",
    "/api/v1/units": "staff",
    "/api/v1/units/{unit}/members": "staff",
    "/api/v1/reports": "staff",
    "/api/v1/activities": "member",
    "/api/v1/activities/{activity}/signups": "staff",
    "/api/v1/posts": "member",
    "/api/v1/posts/{post}/templates": "member",
    "/api/v1/posts/{post}/pool": "staff",
    "/api/v1/posts/{post}/shifts?from={from}&to={to}": "member",
    "/api/v1/me/shifts?from={from}&to={to}": "member",
    "/api/v1/service-records": "staff",
    "/api/v1/service-records/{record}/history": "staff",
    "/api/v1/correction-requests": "staff",
    "/api/v1/me/service-records": "member",
    "/api/v1/certificates": "member",
    "/api/v1/wishes": "staff",
    "/api/v1/needs": "member",
    "/api/v1/resources": "member",
    "/api/v1/projects": "member",
    "/api/v1/me/points": "member",
    "/api/v1/me/notifications": "member",
    "/api/v1/appeals": "staff",
    "/api/v1/appeals?sort=due_date": "department_staff",
    "/api/v1/me/appeals": "member",
    "/api/v1/departments": "staff",
    "/api/v1/moderation": "staff",
    "/api/v1/partners": "member",
    "/api/v1/meetings": "staff",
    "/api/v1/meetings?status=held": "member",
    "/api/v1/meetings/{meeting}/minutes/versions": "staff",
    "/api/v1/tasks": "staff",
    "/api/v1/tasks?status=overdue": "unit_staff",
    "/api/v1/conventions": "member",
    "/api/v1/conventions/{convention}/versions": "member",
    "/api/v1/stats/governance?region_id={district}": "staff",
    "/api/v1/teams": "member",
    "/api/v1/teams?community_id={community}": "staff",
    "/api/v1/me/teams": "member",
    "/api/v1/teams/{team}/members": "member",
    "/api/v1/teams/{team}/history": "staff",
    "/api/v1/wishes?status=claimed": "member",
}


@pytest.mark.parametrize("path", sorted(LISTS))
def test_a_list_runs_the_same_queries_for_one_item_as_for_a_page(client, lists, count_queries, path):
    headers = auth(lists[LISTS[path]])
    url = path.format(**lists)
    separator = "&" if "?" in url else "?"
    answers = {}
    for per_page in (1, ITEMS):
        with count_queries() as counted:
            response = client.get(f"{url}{separator}per_page={per_page}", headers=headers)
        assert response.status_code == 200, response.get_json()
        answers[per_page] = (len(response.get_json()["items"]), counted.total)
    (one, queries_for_one), (page, queries_for_page) = answers[1], answers[ITEMS]
    assert one == 1 and page >= ITEMS - 1, answers
    assert queries_for_page == queries_for_one, answers
