"""The same mistake gets the same answer on every resource, in the contract's order (v1.1, "Fixes to v1 readings"):
401 → 403 the role may not do this at all → 422 a malformed or wrong-kind field → 404 outside the caller's scope →
409. Each sweep walks every write endpoint it applies to."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from clock import utcnow
from extensions import db
from models import (
    Activity,
    Appeal,
    Convention,
    CorrectionRequest,
    Meeting,
    MeetingDecision,
    MeetingTask,
    ModerationItem,
    Need,
    Partner,
    Post,
    Project,
    Region,
    Report,
    ServiceRecord,
    ShiftTemplate,
    Unit,
    User,
    Wish,
)
from tests.activity_factories import make_activity, make_record
from tests.factories import auth, error_code, make_member, make_staff, make_unit, region_tree

MISSING = 999_999


def _objects(community, member):
    """One of each aggregate staff act on, in ``community``."""
    activity = make_activity(community)
    post = Post(community_id=community.id, name="桶站", kind="bin_station")
    wish = Wish(community_id=community.id, title="买米", status="fulfilled", claimed_by=member.id,
                claimer_member_id=member.id)
    need = Need(community_id=community.id, title="加装扶手", category="养老", source="visit", status="open")
    db.session.add_all([post, wish, need])
    db.session.flush()
    template = ShiftTemplate(post_id=post.id, weekdays=[1], start="07:00", end="09:00", seats=1, active=False)
    project = Project(community_id=community.id, title="楼道扶手", status="proposed", needs=[need])
    report = Report(kind="member", status="pending", member_id=member.id, community_id=community.id,
                    created_by=member.id)
    db.session.add_all([template, project, report])
    db.session.flush()
    record = make_record(member, community)
    request = CorrectionRequest(record_id=record.id, member_id=member.id, hours=1, reason="少算了", status="pending")
    now = utcnow()
    appeal = Appeal(number=f"20260101-{community.id:04d}", community_id=community.id, kind="problem", title="楼道堆物",
                    content="堆满纸箱", source="app", status="submitted", member_id=member.id, created_by=member.id,
                    created_at=now, response_due_at=now + timedelta(hours=24))
    db.session.add_all([request, appeal])
    db.session.flush()
    moderation = ModerationItem(community_id=community.id, object_type="appeal", object_id=appeal.id, field="title",
                                text="楼道堆物", author_id=member.id, status="review", created_at=now)
    db.session.add(moderation)
    db.session.commit()
    return {"activity": activity.id, "post": post.id, "template": template.id, "wish": wish.id, "need": need.id,
            "project": project.id, "report": report.id, "record": record.id, "request": request.id,
            "appeal": appeal.id, "moderation": moderation.id, **_governance(community)}


def _governance(community):
    """A partner, a scheduled meeting, a held one, another held one with a decision and its open task, and a
    convention."""
    partner = Partner(community_id=community.id, name="物业公司", role="property_company", contact_name="张经理",
                      contact_phone="010-64001234")
    starts = utcnow() - timedelta(days=1)
    meeting = Meeting(community_id=community.id, kind="joint", title="联席会", starts_at=starts, place="会议室",
                      status="scheduled", partner_ids=[], attendance=[], minutes_version=0)
    held = Meeting(community_id=community.id, kind="consultation", title="议事会", starts_at=starts, place="会议室",
                   status="held", partner_ids=[], attendance=[], minutes_version=1, summary="纪要")
    decided = Meeting(community_id=community.id, kind="joint", title="联席会", starts_at=starts, place="会议室",
                      status="held", partner_ids=[], attendance=[], minutes_version=1, summary="纪要")
    convention = Convention(community_id=community.id, title="公约", text="条文", partner_ids=[], version=1)
    db.session.add_all([partner, meeting, held, decided, convention])
    db.session.flush()
    decision = MeetingDecision(meeting_id=decided.id, position=0, text="决定")
    db.session.add(decision)
    db.session.flush()
    task = MeetingTask(community_id=community.id, meeting_id=decided.id, meeting_starts_at=starts,
                       decision_id=decision.id, decision_index=0,
                       position=0, title="任务", owner_partner_id=partner.id, due_date=starts.date(), status="open")
    db.session.add(task)
    db.session.commit()
    return {"partner": partner.id, "meeting": meeting.id, "held_meeting": held.id, "task": task.id,
            "convention": convention.id}


@pytest.fixture
def world():
    tree = region_tree()
    member = make_member()
    tree["member"] = member
    tree["someone"] = make_member()
    tree["admin_a1"] = make_staff("community_admin", tree["a1"])
    tree["unit_a1"] = make_unit(tree["a1"])
    tree["own"] = _objects(tree["a1"], make_member())
    tree["other"] = _objects(tree["b1"], make_member())
    return tree


def _when(days):
    return (utcnow() + timedelta(days=days)).isoformat()


# Writes whose body names a community (or a region, unit or community-like scope): (path, field, body).
BODY_SCOPED = {
    "activity": ("/api/v1/activities", "community_id", lambda c, w: {
        "community_id": c, "title": "清理楼道", "category": "environment", "starts_at": _when(1),
        "ends_at": _when(2), "capacity": 5, "location": {"lat": 39.9, "lng": 116.4}}),
    "post": ("/api/v1/posts", "community_id", lambda c, w: {"community_id": c, "name": "桶站", "kind": "gate"}),
    "wish": ("/api/v1/wishes", "community_id", lambda c, w: {"community_id": c, "title": "买米"}),
    "need": ("/api/v1/needs", "community_id", lambda c, w: {"community_id": c, "title": "扶手", "category": "养老",
                                                            "source": "visit"}),
    "project": ("/api/v1/projects", "community_id", lambda c, w: {"community_id": c, "title": "扶手",
                                                                  "need_ids": [w["own"]["need"]]}),
    "unit": ("/api/v1/units", "community_id", lambda c, w: {"name": "新单位", "kind": "school", "community_id": c}),
    "record": ("/api/v1/service-records", "community_id", lambda c, w: {
        "member_id": w["member"].id, "community_id": c, "started_at": "2030-03-01T09:00:00",
        "ended_at": "2030-03-01T11:00:00", "hours": 2}),
    "resource": ("/api/v1/resources", "owner_id", lambda c, w: {"owner_type": "community", "owner_id": c,
                                                                "title": "活动室", "kind": "venue"}),
    "staff": ("/api/v1/staff", "scope_id", lambda c, w: {"username": f"new{c}", "password": "password123",
                                                         "name": "新管理员", "role": "community_admin", "scope_id": c}),
    "certificate_batch": ("/api/v1/certificates/batch", "issuer_id", lambda c, w: {
        "issuer_id": c, "from": "2020-01-01", "to": "2030-12-31"}),
    "certificate": ("/api/v1/certificates", "issuer_id", lambda c, w: {
        "issuer_id": c, "member_id": w["someone"].id, "from": "2020-01-01", "to": "2030-12-31"}),
    # A staff filing of an appeal for a resident (with ``source``).
    "appeal": ("/api/v1/appeals", "community_id", lambda c, w: {
        "community_id": c, "kind": "problem", "title": "楼道堆物", "content": "12345 转来", "source": "visit",
        "resident_name": "王大爷"}),
    "partner": ("/api/v1/partners", "community_id", lambda c, w: {
        "community_id": c, "name": "业委会", "role": "owners_committee", "contact_name": "李主任",
        "contact_phone": "13800001111"}),
    "meeting": ("/api/v1/meetings", "community_id", lambda c, w: {
        "community_id": c, "kind": "joint", "title": "五方联席会", "starts_at": _when(3), "place": "会议室",
        "partner_ids": [], "agenda": [{"title": "楼道堆物"}]}),
    "convention": ("/api/v1/conventions", "community_id", lambda c, w: {
        "community_id": c, "title": "社区公约", "text": "楼道不堆物", "partner_ids": []}),
}


# Open to members for themselves (a certificate of one's own hours, an appeal of their own): the body decides which
# role is asking.
MEMBERS_ALSO = {"certificate", "appeal"}


def _post(client, user, name, community_id, world):
    path, _field, body = BODY_SCOPED[name]
    return client.post(path, json=body(community_id, world), headers=auth(user))


def _rows():
    return sum(db.session.scalar(select(func.count()).select_from(model))
               for model in (Activity, Post, Wish, Need, Project, Unit, ServiceRecord, User, Region, Appeal, Partner,
                             Meeting, Convention))


@pytest.mark.parametrize("name", sorted(BODY_SCOPED))
def test_a_member_gets_403_before_any_field_is_looked_at(client, world, name):
    before = _rows()
    for community_id in (world["a1"].id, world["street_a"].id, MISSING):
        response = _post(client, world["member"], name, community_id, world)
        assert response.status_code == 403, (name, community_id, response.get_json())
    path, field, _body = BODY_SCOPED[name]
    if name not in MEMBERS_ALSO:
        garbage = client.post(path, json={field: "not an id", "unexpected": True}, headers=auth(world["member"]))
        assert garbage.status_code == 403, name
    assert _rows() == before


@pytest.mark.parametrize("name", sorted(BODY_SCOPED))
def test_staff_naming_a_street_or_nothing_where_a_community_belongs_get_422_on_that_field(client, world, name):
    before = _rows()
    _path, field, _body = BODY_SCOPED[name]
    for wrong in (world["street_a"].id, world["district"].id, MISSING):
        response = _post(client, world["admin_a1"], name, wrong, world)
        assert response.status_code == 422, (name, wrong, response.get_json())
        assert list(response.get_json()["error"]["details"]) == [field], name
    assert _rows() == before


@pytest.mark.parametrize("name", sorted(BODY_SCOPED))
def test_staff_naming_a_community_outside_their_scope_get_404(client, world, name):
    before = _rows()
    response = _post(client, world["admin_a1"], name, world["b1"].id, world)
    assert response.status_code == 404 and error_code(response) == "region_not_found", (name, response.get_json())
    assert _rows() == before


# Staff actions on an object named by the path: (method, path template, body).
PATH_SCOPED = {
    "edit activity": ("PATCH", "/api/v1/activities/{activity}", {"title": "改名"}),
    "cancel activity": ("POST", "/api/v1/activities/{activity}/cancel", None),
    "list sign-ups": ("GET", "/api/v1/activities/{activity}/signups", None),
    "activity qrcode": ("GET", "/api/v1/activities/{activity}/qrcode", None),
    "open screen": ("POST", "/api/v1/activities/{activity}/screen", None),
    "add template": ("POST", "/api/v1/posts/{post}/templates", {"weekdays": [1], "start": "07:00", "end": "08:00",
                                                               "seats": 1}),
    "edit template": ("PATCH", "/api/v1/posts/{post}/templates/{template}", {"seats": 2}),
    "list pool": ("GET", "/api/v1/posts/{post}/pool", None),
    "post qrcode": ("GET", "/api/v1/posts/{post}/qrcode", None),
    "confirm wish": ("POST", "/api/v1/wishes/{wish}/confirm", None),
    "cancel wish": ("POST", "/api/v1/wishes/{wish}/cancel", None),
    "approve project": ("POST", "/api/v1/projects/{project}/approve", None),
    "approve record": ("POST", "/api/v1/service-records/{record}/approve", None),
    "reject record": ("POST", "/api/v1/service-records/{record}/reject", {"reason": "无效"}),
    "correct record": ("PATCH", "/api/v1/service-records/{record}", {"hours": 1, "reason": "核实"}),
    "accept correction": ("POST", "/api/v1/correction-requests/{request}/accept", None),
    "decline correction": ("POST", "/api/v1/correction-requests/{request}/decline", {"reason": "不符"}),
    "approve report": ("POST", "/api/v1/reports/{report}/approve", None),
    "reject report": ("POST", "/api/v1/reports/{report}/reject", {"reason": "不在本社区"}),
    "accept appeal": ("POST", "/api/v1/appeals/{appeal}/accept", None),
    "reject appeal": ("POST", "/api/v1/appeals/{appeal}/reject", {"reason": "不属于本社区"}),
    "resolve appeal": ("POST", "/api/v1/appeals/{appeal}/resolve", {"reply": "已处理"}),
    "recall appeal": ("POST", "/api/v1/appeals/{appeal}/recall", {"reason": "居民已自行解决"}),
    "convert appeal": ("POST", "/api/v1/appeals/{appeal}/convert", {"to": "need", "category": "环境"}),
    "approve moderation": ("POST", "/api/v1/moderation/{moderation}/approve", None),
    "reject moderation": ("POST", "/api/v1/moderation/{moderation}/reject", {"reason": "不实"}),
    "read partner": ("GET", "/api/v1/partners/{partner}", None),
    "edit partner": ("PATCH", "/api/v1/partners/{partner}", {"name": "改名"}),
    "remove partner": ("DELETE", "/api/v1/partners/{partner}", None),
    "reschedule meeting": ("PATCH", "/api/v1/meetings/{meeting}", {"place": "二楼会议室"}),
    "record minutes": ("POST", "/api/v1/meetings/{meeting}/minutes", {"summary": "纪要"}),
    "correct minutes": ("PUT", "/api/v1/meetings/{held_meeting}/minutes", {"summary": "更正", "reason": "笔误"}),
    "cancel meeting": ("POST", "/api/v1/meetings/{meeting}/cancel", {"reason": "改期"}),
    "minutes versions": ("GET", "/api/v1/meetings/{held_meeting}/minutes/versions", None),
    "export minutes": ("GET", "/api/v1/meetings/{held_meeting}/minutes/export", None),
    "complete task": ("POST", "/api/v1/tasks/{task}/done", {"note": "已办结"}),
    "revise convention": ("PUT", "/api/v1/conventions/{convention}", {"title": "公约", "text": "新条文",
                                                                      "reason": "修订"}),
}


def _call(client, user, name, ids):
    method, template, body = PATH_SCOPED[name]
    path = template.format(**ids)
    return client.open(path, method=method, json=body if method != "GET" else None, headers=auth(user))


def _everywhere(ids, value):
    return dict.fromkeys(ids, value)


@pytest.mark.parametrize("name", sorted(PATH_SCOPED))
def test_path_objects_answer_403_to_members_then_404_outside_the_scope(client, world, name):
    own, other = world["own"], world["other"]
    for ids in (own, other, _everywhere(own, MISSING)):
        response = _call(client, world["member"], name, ids)
        assert response.status_code == 403, (name, response.get_json())
    for ids in (other, _everywhere(own, MISSING)):
        response = _call(client, world["admin_a1"], name, ids)
        assert response.status_code == 404, (name, response.get_json())
    # In scope, the caller gets past authorisation (to the action's own answer, a 409 for a wish in the wrong state).
    assert _call(client, world["admin_a1"], name, own).status_code in (200, 201, 204, 409), name


@pytest.mark.parametrize("name", sorted(n for n, (_m, _p, body) in PATH_SCOPED.items() if body))
def test_a_malformed_body_is_422_before_the_path_object_is_looked_up(client, world, name):
    method, template, body = PATH_SCOPED[name]
    malformed = {field: ["not", "this"] for field in body}
    for ids in (world["other"], _everywhere(world["own"], MISSING)):
        response = client.open(template.format(**ids), method=method, json=malformed, headers=auth(world["admin_a1"]))
        assert response.status_code == 422, (name, response.get_json())
