"""Every list endpoint runs a fixed number of queries whatever the page size: no query per item (N+1)."""

from datetime import date, timedelta
from decimal import Decimal

import pytest

from clock import utcnow
from extensions import db
from models import (
    Appeal,
    AppealDepartment,
    AppealEscalation,
    AppealEvent,
    Certificate,
    CorrectionRequest,
    Department,
    ModerationItem,
    Need,
    Notification,
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
    Unit,
    Upload,
    Wish,
)
from services.records import log_change
from tests.activity_factories import make_activity, make_record
from tests.factories import auth, make_member, make_staff, region_tree

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
    for n, other in enumerate(others):
        db.session.add_all([
            Signup(activity_id=activities[0].id, member_id=other.id, status="confirmed", created_at=utcnow()),
            ShiftTemplate(post_id=post.id, weekdays=[n + 1], start="07:00", end="08:00", seats=1, active=False),
            PoolMembership(post_id=post.id, member_id=other.id),
            Report(kind="member", status="pending", member_id=other.id, community_id=community.id,
                   created_by=other.id),
            Wish(community_id=community.id, title=f"心愿{n}", status="claimed", claimed_by=other.id,
                 claimer_member_id=other.id),
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
    db.session.commit()
    staff = make_staff("district_admin", tree["district"])
    return {"staff": staff, "member": member, "department_staff": department_staff, "activity": activities[0].id,
            "post": post.id, "record": record.id, "unit": unit.id,
            "from": (soon - timedelta(days=1)).date().isoformat(), "to": (soon + timedelta(days=3)).date().isoformat()}


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
