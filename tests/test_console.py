"""The console (console/) from the server side: sign-in as POST /auth/login has it, CSRF on every form, the
session cookie's settings, what waits for a staff member, scope (another community's pages are 404) and every
action changing state through the services."""


from datetime import timedelta

from clock import utcnow
from extensions import db
from models import AuthSession, Report
from tests.console_helpers import csrf_token, post_form, sign_in
from tests.factories import make_member, make_report, make_staff, region_tree


def test_staff_sign_in_opens_the_dashboard_with_a_secure_session_cookie(client):
    tree = region_tree()
    admin = make_staff("community_admin", tree["a1"], name="和平社区书记")
    response = sign_in(client, admin)
    assert response.status_code == 302 and response.headers["Location"].endswith("/console/")
    cookie = response.headers["Set-Cookie"]
    assert "baodao_console=" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Path=/console" in cookie
    page = client.get("/console/")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "待我处理" in text and "和平社区书记" in text and "a1社区" in text
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]


def test_the_cookie_is_secure_when_configured(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "SESSION_COOKIE_SECURE", True)
    admin = make_staff("community_admin", region_tree()["a1"])
    assert "Secure" in sign_in(client, admin).headers["Set-Cookie"]


def test_pages_need_a_sign_in(client):
    response = client.get("/console/")
    assert response.status_code == 302 and "/console/login" in response.headers["Location"]


def test_wrong_password_says_so_and_counts_towards_the_login_limit(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_FAILURE_LIMIT", "3 per 15 minutes")
    admin = make_staff("community_admin", region_tree()["a1"])
    for _ in range(3):
        response = sign_in(client, admin, password="wrong-password")
        assert response.status_code == 401
        assert "用户名或密码错误" in response.get_data(as_text=True)
    # The fourth attempt is refused before the password is looked at, even the right one, as POST /auth/login does.
    response = sign_in(client, admin)
    assert response.status_code == 429
    assert "登录失败次数过多" in response.get_data(as_text=True)
    api = client.post("/api/v1/auth/login", json={"username": admin.username, "password": "password123"})
    assert api.status_code == 429


def test_a_user_without_a_staff_role_is_refused_with_a_readable_message(client):
    from services.auth import hash_password

    member = make_member()
    member.username, member.password_hash = "resident1", hash_password("password123")
    db.session.commit()
    response = sign_in(client, member)
    assert response.status_code == 403
    assert "工作台仅限工作人员使用" in response.get_data(as_text=True)
    assert db.session.query(AuthSession).filter_by(user_id=member.id).count() == 0
    assert client.get("/console/").status_code == 302


def test_forms_without_the_csrf_token_are_refused(client):
    admin = make_staff("community_admin", region_tree()["a1"])
    response = client.post("/console/login", data={"username": admin.username, "password": "password123"})
    assert response.status_code == 400
    assert "CSRF" in response.get_data(as_text=True)
    sign_in(client, admin)
    response = client.post("/console/logout")
    assert response.status_code == 400
    assert client.get("/console/").status_code == 200


def test_sign_out_revokes_the_sign_in(client):
    admin = make_staff("community_admin", region_tree()["a1"])
    sign_in(client, admin)
    response = post_form(client, "/console/logout")
    assert response.status_code == 302
    assert db.session.query(AuthSession).filter_by(user_id=admin.id).one().revoked_at is not None
    assert client.get("/console/").status_code == 302


def test_a_revoked_session_signs_the_console_out(client):
    admin = make_staff("community_admin", region_tree()["a1"])
    sign_in(client, admin)
    db.session.query(AuthSession).filter_by(user_id=admin.id).update({"revoked_at": utcnow()})
    db.session.commit()
    assert client.get("/console/").status_code == 302


def test_sign_in_goes_back_only_to_a_console_page(client):
    admin = make_staff("community_admin", region_tree()["a1"])
    token = csrf_token(client)
    response = client.post("/console/login", data={"csrf_token": token, "username": admin.username,
                                                   "password": "password123", "next": "https://evil.example/"})
    assert response.headers["Location"].endswith("/console/")


def test_dashboard_counts_what_waits_in_my_scope(client):
    tree = region_tree()
    admin = make_staff("community_admin", tree["a1"])
    for _ in range(2):
        make_report(make_member(), tree["a1"], status="pending")
    make_report(make_member(), tree["a2"], status="pending")
    sign_in(client, admin)
    text = client.get("/console/").get_data(as_text=True)
    assert 'id="count-reports"' in text
    number = text.split('id="count-reports"')[1].split('class="number">')[1].split("<")[0]
    assert number == "2"
    assert db.session.query(Report).count() == 3


# Work pages: every action goes through the services and changes state; scope and errors as the API has them.

def _text(response):
    return response.get_data(as_text=True)


def test_approving_and_rejecting_reports_changes_them(client):
    tree = region_tree()
    admin = make_staff("community_admin", tree["a1"])
    first, second = make_report(make_member(), tree["a1"], "pending"), make_report(make_member(), tree["a1"], "pending")
    sign_in(client, admin)
    page = client.get("/console/reports?status=pending")
    assert page.status_code == 200 and f'id="report-{first.id}"' in _text(page)
    response = post_form(client, f"/console/reports/{first.id}/approve", {"back": "/console/reports"})
    assert response.status_code == 302 and response.headers["Location"] == "/console/reports"
    response = post_form(client, f"/console/reports/{second.id}/reject", {"reason": "不在本社区居住"})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Report, first.id).status == "approved"
    rejected = db.session.get(Report, second.id)
    assert (rejected.status, rejected.reason) == ("rejected", "不在本社区居住")
    assert "已通过" in _text(client.get("/console/reports"))
    # Deciding again is the service's 409, its message on the page, never a traceback.
    response = post_form(client, f"/console/reports/{first.id}/approve")
    assert response.status_code == 409
    assert "当前状态不允许该操作" in _text(response) and "Traceback" not in _text(response)


def test_another_communitys_objects_are_404_pages(client):
    from tests.activity_factories import make_record

    tree = region_tree()
    admin = make_staff("community_admin", tree["a1"])
    report = make_report(make_member(), tree["a2"], "pending")
    record = make_record(make_member(), tree["a2"])
    sign_in(client, admin)
    assert f'id="report-{report.id}"' not in _text(client.get("/console/reports"))
    response = post_form(client, f"/console/reports/{report.id}/approve")
    assert response.status_code == 404 and "报到记录不存在" in _text(response)
    assert db.session.get(Report, report.id).status == "pending"
    assert client.get(f"/console/records/{record.id}").status_code == 404
    assert client.get("/console/records/999999").status_code == 404
    assert post_form(client, f"/console/records/{record.id}/correct", {"hours": "1", "reason": "x"}).status_code == 404


def test_actions_without_the_csrf_token_change_nothing(client):
    tree = region_tree()
    admin = make_staff("community_admin", tree["a1"])
    report = make_report(make_member(), tree["a1"], "pending")
    sign_in(client, admin)
    response = client.post(f"/console/reports/{report.id}/approve")
    assert response.status_code == 400
    response = client.post(f"/console/reports/{report.id}/approve", data={"csrf_token": "forged"})
    assert response.status_code == 400
    assert db.session.get(Report, report.id).status == "pending"


def test_bulk_approval_of_records_from_the_filtered_list(client):
    from models import ServiceRecord
    from tests.activity_factories import make_record

    tree = region_tree()
    admin = make_staff("community_admin", tree["a1"])
    mine = [make_record(make_member(), tree["a1"]) for _ in range(3)]
    elsewhere = make_record(make_member(), tree["a2"])
    sign_in(client, admin)
    page = _text(client.get("/console/records?status=pending"))
    assert all(f'id="record-{r.id}"' in page for r in mine) and f'id="record-{elsewhere.id}"' not in page
    response = post_form(client, "/console/records/approve",
                         {"ids": [mine[0].id, mine[1].id, elsewhere.id]}, page="/console/records")
    assert response.status_code == 302
    db.session.expire_all()
    statuses = {r.id: db.session.get(ServiceRecord, r.id).status for r in (*mine, elsewhere)}
    assert statuses == {mine[0].id: "approved", mine[1].id: "approved", mine[2].id: "pending",
                        elsewhere.id: "pending"}
    assert f"已批准 2 条服务记录；跳过 #{elsewhere.id}（不存在或不在管辖范围）" in _text(client.get("/console/records"))
    # Nothing ticked: the schema's 422, named on the page.
    response = post_form(client, "/console/records/approve", page="/console/records")
    assert response.status_code == 422


def test_correcting_a_record_needs_a_reason_and_shows_in_its_history(client):
    from models import ServiceRecord
    from tests.activity_factories import make_record

    tree = region_tree()
    admin = make_staff("community_admin", tree["a1"], name="和平社区书记")
    record = make_record(make_member(), tree["a1"], status="approved", hours="2.00")
    sign_in(client, admin)
    response = post_form(client, f"/console/records/{record.id}/correct", {"hours": "1.5"})
    assert response.status_code == 422 and "reason" in _text(response)
    response = post_form(client, f"/console/records/{record.id}/correct", {"hours": "1.5", "reason": "提前离开"})
    assert response.status_code == 302
    db.session.expire_all()
    assert str(db.session.get(ServiceRecord, record.id).hours) == "1.50"
    page = _text(client.get(f"/console/records/{record.id}"))
    assert "提前离开" in page and "更正" in page and "和平社区书记" in page


def test_records_export_downloads_the_scope_as_csv(client):
    from tests.activity_factories import make_record

    tree = region_tree()
    admin = make_staff("community_admin", tree["a1"])
    make_record(make_member(name="王小明"), tree["a1"])
    make_record(make_member(name="李四海"), tree["a2"])
    sign_in(client, admin)
    response = client.get("/console/records/export?status=pending")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    body = response.get_data().decode("utf-8-sig")
    assert "王小明" in body and "李四海" not in body


def test_appeal_accepted_escalated_and_answered_by_the_department(app, client):
    from models import Appeal
    from tests.appeal_factories import appeal_world, new_appeal

    world = appeal_world()
    appeal_id = new_appeal(client, world, title="楼道堆物影响通行")
    sign_in(client, world["admin_a1"])
    page = _text(client.get("/console/appeals?status=submitted"))
    assert "楼道堆物影响通行" in page
    assert post_form(client, f"/console/appeals/{appeal_id}/accept").status_code == 302
    page = _text(client.get(f"/console/appeals/{appeal_id}"))
    assert "甲街道城管执法队" in page  # offered as an escalation target
    response = post_form(client, f"/console/appeals/{appeal_id}/escalate",
                         {"department_id": world["department"].id, "note": "需执法队清理楼道堆物"},
                         page=f"/console/appeals/{appeal_id}")
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Appeal, appeal_id).status == "escalated"

    department = app.test_client()
    sign_in(department, world["department_admin"])
    dashboard = _text(department.get("/console/"))
    assert dashboard.split('id="count-escalations_open"')[1].split('class="number">')[1].split("<")[0] == "1"
    inbox = _text(department.get("/console/appeals"))
    assert "部门收件箱" in inbox and "楼道堆物影响通行" in inbox
    assert "报到审核" not in inbox  # a department admin has no other staff pages
    response = post_form(department, f"/console/appeals/{appeal_id}/answer",
                         {"reply": "已清理完毕", "outcome": "handled"}, page=f"/console/appeals/{appeal_id}")
    assert response.status_code == 302
    page = _text(client.get(f"/console/appeals/{appeal_id}"))
    assert "已清理完毕" in page
    assert post_form(client, f"/console/appeals/{appeal_id}/resolve", {"reply": "执法队已清理"}).status_code == 302
    db.session.expire_all()
    assert db.session.get(Appeal, appeal_id).status == "resolved"
    # Another community's admin and another department: 404.
    other = app.test_client()
    sign_in(other, world["admin_a2"])
    assert other.get(f"/console/appeals/{appeal_id}").status_code == 404
    elsewhere = app.test_client()
    sign_in(elsewhere, world["other_department_admin"])
    assert elsewhere.get(f"/console/appeals/{appeal_id}").status_code == 404


def test_dashboard_links_to_the_late_appeals(client):
    from models import Appeal
    from tests.appeal_factories import appeal_world, new_appeal

    world = appeal_world()
    appeal_id = new_appeal(client, world)
    db.session.get(Appeal, appeal_id).response_due_at = utcnow() - timedelta(hours=1)
    db.session.commit()
    sign_in(client, world["admin_a1"])
    page = _text(client.get("/console/"))
    card = page.split('id="count-appeals_late"')[1]
    assert card.split('class="number">')[1].split("<")[0] == "1"
    link = card.split('href="')[1].split('"')[0]
    listing = _text(client.get(link.replace("&amp;", "&")))
    assert str(db.session.get(Appeal, appeal_id).number) in listing


def test_overdue_appeals_count_only_those_still_in_work(client):
    from models import Appeal
    from tests.appeal_factories import accepted_appeal, appeal_world, resolved_appeal

    world = appeal_world()
    waiting = accepted_appeal(client, world, title="路灯不亮")
    done_late = resolved_appeal(client, world, title="井盖松动")
    for appeal_id in (waiting, done_late):
        db.session.get(Appeal, appeal_id).due_at = utcnow() - timedelta(days=30)
    db.session.commit()
    sign_in(client, world["admin_a1"])
    page = _text(client.get("/console/"))
    assert page.split('id="count-appeals_overdue"')[1].split('class="number">')[1].split("<")[0] == "1"
    listing = _text(client.get("/console/appeals?status=in_work&overdue=true"))
    assert "路灯不亮" in listing and "井盖松动" not in listing


def test_certificates_one_by_one_and_as_a_background_batch_with_its_download(client):
    import io
    import json
    import zipfile

    from clock import local_today
    from models import Certificate
    from schedulers.jobs import JOBS, run
    from tests.activity_factories import make_record

    tree = region_tree()
    admin = make_staff("community_admin", tree["a1"])
    members = [make_member(name=f"志愿者{i}") for i in range(3)]
    for member in members:
        make_record(member, tree["a1"], status="approved", hours="3.00")
    today = local_today()
    period = {"issuer_id": tree["a1"].id, "from": today.replace(month=1, day=1).isoformat(), "to": today.isoformat()}
    sign_in(client, admin)
    response = post_form(client, "/console/certificates", {**period, "member_id": members[0].id},
                         page="/console/certificates")
    assert response.status_code == 302
    assert "已开具证明" in _text(client.get("/console/certificates"))
    certificate = db.session.query(Certificate).one()
    pdf = client.get(f"/console/certificates/{certificate.id}/pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")

    response = post_form(client, "/console/certificates/batch", {**period, "async": "true"},
                         page="/console/certificates")
    assert response.status_code == 302 and "/console/jobs/" in response.headers["Location"]
    job_path = response.headers["Location"]
    state = json.loads(client.get(job_path + "/state").data)
    assert state["status"] == "queued" and state["download_url"] is None
    assert run(JOBS["run_background_jobs"]) == 1
    state = json.loads(client.get(job_path + "/state").data)
    assert state["status"] == "succeeded" and state["done"] == state["total"] == 3
    assert state["download_url"].startswith("/api/v1/jobs/")  # relative: followed on the console's own host
    archive = zipfile.ZipFile(io.BytesIO(client.get(state["download_url"]).data))
    assert len(archive.namelist()) == 3
    # Someone else's job is not found.
    other = make_staff("community_admin", tree["a1"])
    second = client.application.test_client()
    sign_in(second, other)
    assert second.get(job_path).status_code == 404
    # A community outside the scope: the service's 404 on the page.
    response = post_form(client, "/console/certificates/batch", {**period, "issuer_id": tree["b1"].id},
                         page="/console/certificates")
    assert response.status_code == 404


def test_activities_published_edited_and_shown_on_the_organisers_screen(client):
    from models import Activity
    from tests.activity_factories import make_activity

    tree = region_tree()
    admin = make_staff("community_admin", tree["a1"])
    sign_in(client, admin)
    form = {"community_id": tree["a1"].id, "title": "垃圾分类宣传日", "category": "environment", "capacity": "30",
            "requires_signup": "true", "starts_at": "2031-06-01T09:00", "ends_at": "2031-06-01T11:00",
            "location.address": "和平里广场", "location.lat": "39.95", "location.lng": "116.41"}
    response = post_form(client, "/console/activities/new", form, page="/console/activities/new")
    assert response.status_code == 302, _text(response)
    activity = db.session.query(Activity).one()
    assert (activity.title, activity.capacity, activity.address, activity.lat) == (
        "垃圾分类宣传日", 30, "和平里广场", 39.95)
    assert "09:00" in _text(client.get("/console/activities"))  # shown in TIMEZONE as entered
    response = post_form(client, f"/console/activities/{activity.id}/edit", {"capacity": "40", "title": "宣传日"},
                         page=f"/console/activities/{activity.id}/edit")
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Activity, activity.id).capacity == 40
    # The end before the start: the service's 422, named on the page.
    response = post_form(client, "/console/activities/new", {**form, "ends_at": "2031-06-01T08:00"},
                         page="/console/activities/new")
    assert response.status_code == 422
    page = post_form(client, f"/console/activities/{activity.id}/screen")
    assert page.status_code == 200
    link = _text(page).split('id="screen-link" href="')[1].split('"')[0]
    assert link.startswith("/screen/")
    assert client.get(link).status_code == 200
    other = make_activity(tree["a2"])
    assert client.get(f"/console/activities/{other.id}/edit").status_code == 404
    assert post_form(client, f"/console/activities/{other.id}/screen").status_code == 404


def test_a_posts_roster_as_a_week_grid_and_its_pool(client):
    from clock import local_day_start, local_today
    from models import PoolMembership
    from tests.activity_factories import make_post_shift

    tree = region_tree()
    admin = make_staff("community_admin", tree["a1"])
    volunteer, waiting = make_member(name="赵志愿"), make_member(name="钱候补")
    monday = local_today() - timedelta(days=local_today().weekday())
    post, shift = make_post_shift(tree["a1"], local_day_start(monday + timedelta(days=2)) + timedelta(hours=7),
                                  assignees=[volunteer])
    db.session.add(PoolMembership(post_id=post.id, member_id=waiting.id, joined_at=utcnow()))
    db.session.commit()
    sign_in(client, admin)
    page = _text(client.get(f"/console/posts/{post.id}"))
    grid = page.split('id="roster"')[1].split("</table>")[0]
    cells = grid.split("<td>")[1:]
    assert len(cells) == 7 and "赵志愿" in cells[2] and "07:00–09:00" in cells[2] and "1/2" in cells[2]
    assert all("赵志愿" not in cell for i, cell in enumerate(cells) if i != 2)
    assert "钱候补" in page.split('id="pool"')[1]
    next_week = _text(client.get(f"/console/posts/{post.id}?week={(monday + timedelta(days=7)).isoformat()}"))
    assert "赵志愿" not in next_week.split('id="roster"')[1]
    other_post, _ = make_post_shift(tree["b1"], utcnow())
    assert client.get(f"/console/posts/{other_post.id}").status_code == 404


def test_meeting_minutes_recorded_with_decisions_and_tasks(client):
    from clock import local_today
    from models import MeetingDecision, MeetingTask
    from tests.governance_factories import governance_world, schedule

    world = governance_world()
    meeting = schedule(client, world["admin_a1"], world["a1"], partner_ids=[p.id for p in world["partners"]],
                       agenda=[{"title": "楼道堆物"}])
    sign_in(client, world["admin_a1"])
    page = _text(client.get(f"/console/meetings/{meeting['id']}"))
    assert 'id="minutes-form"' in page
    due = (local_today() + timedelta(days=10)).isoformat()
    form = {"summary": "讨论了楼道堆物清理", "present": [world["partners"][0].id, world["partners"][1].id],
            "decision-0-text": "本月底前清理楼道堆物", "decision-0-agenda": "0", "decision-0-for": "12",
            "decision-0-against": "0",
            "decision-0-abstain": "1", "decision-0-task": "物业清运", "decision-0-owner": world["partners"][2].id,
            "decision-0-due": due}
    response = post_form(client, f"/console/meetings/{meeting['id']}/minutes", form,
                         page=f"/console/meetings/{meeting['id']}")
    assert response.status_code == 302
    page = _text(client.get(f"/console/meetings/{meeting['id']}"))
    assert "本月底前清理楼道堆物" in page and "赞成 12" in page and "物业清运" in page
    assert db.session.query(MeetingTask).one().title == "物业清运"
    assert db.session.query(MeetingDecision).one().agenda_index == 0
    # Recorded once: again is the service's 409.
    response = post_form(client, f"/console/meetings/{meeting['id']}/minutes", form,
                         page="/console/meetings")
    assert response.status_code == 409
    other = make_staff("community_admin", world["b1"])
    second = client.application.test_client()
    sign_in(second, other)
    assert second.get(f"/console/meetings/{meeting['id']}").status_code == 404


def test_every_page_renders_for_each_kind_of_staff(client):
    from tests.appeal_factories import appeal_world

    world = appeal_world()
    pages = ("/console/", "/console/reports", "/console/records", "/console/appeals", "/console/tasks",
             "/console/activities", "/console/activities/new", "/console/posts", "/console/meetings",
             "/console/certificates", "/console/jobs", "/console/shifts/short", "/console/wishes/overdue",
             "/console/charts")
    for key in ("admin_a1", "street_admin", "district_admin"):
        session = client.application.test_client()
        sign_in(session, world[key])
        for path in pages:
            assert session.get(path).status_code == 200, (key, path)
    # A department's and a unit's admins: their own pages, a readable 403 on the others.
    for key, refused in (("department_admin", "/console/reports"), ("unit_admin", "/console/activities")):
        session = client.application.test_client()
        sign_in(session, world[key])
        assert session.get("/console/").status_code == 200
        response = session.get(refused)
        assert response.status_code == 403 and "仅限" in _text(response)


def test_charts_draw_hours_by_month_and_category_children_and_the_three_rates(client):
    from clock import local_day_start, local_today
    from tests.activity_factories import make_activity, make_closed_attendance, make_record

    tree = region_tree()
    street = make_staff("street_admin", tree["street_a"])
    # 服务人次: checked-out attendances this year, two in the street, one in another.
    for community in (tree["a1"], tree["a2"], tree["b1"]):
        make_closed_attendance(make_member(), activity=make_activity(community, starts_at=local_day_start(
            local_today().replace(month=1, day=2))))
    year = local_today().year
    make_record(make_member(), tree["a1"], status="approved", hours="3.00", category="environment",
                started_at=local_day_start(local_today().replace(month=1, day=1)) + timedelta(hours=1))
    make_record(make_member(), tree["a2"], status="approved", hours="5.00", category="health",
                started_at=local_day_start(local_today().replace(month=1, day=1)) + timedelta(hours=2))
    make_record(make_member(), tree["b1"], status="approved", hours="7.00")  # another street: not counted
    sign_in(client, street)
    page = _text(client.get(f"/console/charts?year={year}"))
    months = page.split('id="chart-months"')[1].split("</svg>")[0]
    assert "1月：8.0 小时" in months and "2月：0.0 小时" in months
    categories = page.split('id="chart-categories"')[1].split("</svg>")[0]
    assert "健康服务：5.0" in categories and "环境保护：3.0" in categories
    children = page.split('id="chart-children"')[1].split("</svg>")[0]
    assert "a1社区：3.0" in children and "a2社区：5.0" in children and "b1社区" not in children
    assert 'id="chart-rates"' in page and "甲街道" in page
    dashboard = _text(client.get("/console/"))
    assert dashboard.split("服务人次")[0].rsplit('class="number">', 1)[1].split("<")[0] == "2"
    # Another street's region is outside the scope.
    assert client.get(f"/console/charts?region_id={tree['street_b'].id}").status_code == 404


def test_an_unknown_console_address_is_a_page_and_the_apis_stays_an_envelope(client):
    admin = make_staff("community_admin", region_tree()["a1"])
    sign_in(client, admin)
    response = client.get("/console/no-such-page")
    assert response.status_code == 404 and "页面不存在" in _text(response) and response.mimetype == "text/html"
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "not_found"


def test_an_appeal_rejected_or_converted_into_a_wish_and_a_task_done(client):
    from models import Appeal, MeetingTask, Wish
    from tests.appeal_factories import accepted_appeal, appeal_world, new_appeal
    from tests.governance_factories import governance_world, held_meeting

    world = appeal_world()
    duplicate = new_appeal(client, world, title="重复反映")
    wished = accepted_appeal(client, world, title="帮独居老人买菜")
    sign_in(client, world["admin_a1"])
    response = post_form(client, f"/console/appeals/{duplicate}/reject", {"reason": "已有同一诉求在办"})
    assert response.status_code == 302
    response = post_form(client, f"/console/appeals/{wished}/convert", {"to": "wish"})
    assert response.status_code == 302 and "已转为微心愿" in _text(client.get(f"/console/appeals/{wished}"))
    db.session.expire_all()
    assert db.session.get(Appeal, duplicate).status == "rejected"
    assert db.session.query(Wish).filter_by(appeal_id=wished).one().title == "帮独居老人买菜"
    # A need needs its category: the service's 422 on the page, naming the field.
    response = post_form(client, f"/console/appeals/{wished}/convert", {"to": "need"})
    assert response.status_code == 422 and "category" in _text(response)

    governance = governance_world()
    held_meeting(client, governance)
    task = db.session.query(MeetingTask).order_by(MeetingTask.id).first()
    staff = client.application.test_client()
    sign_in(staff, governance["admin_a1"])
    assert task.title in _text(staff.get("/console/tasks?status=open"))
    assert post_form(staff, f"/console/tasks/{task.id}/done", {"note": "方案已出具"}).status_code == 302
    db.session.expire_all()
    assert db.session.get(MeetingTask, task.id).status == "done"


def test_an_activity_cancelled_and_an_export_run_in_the_background(client):
    from models import Activity, BackgroundJob
    from tests.activity_factories import make_activity, make_record

    tree = region_tree()
    admin = make_staff("community_admin", tree["a1"])
    activity = make_activity(tree["a1"])
    make_record(make_member(), tree["a1"])
    sign_in(client, admin)
    assert post_form(client, f"/console/activities/{activity.id}/cancel").status_code == 302
    db.session.expire_all()
    assert db.session.get(Activity, activity.id).status == "cancelled"
    response = client.get("/console/records/export?format=xlsx&async=true")
    assert response.status_code == 302 and "/console/jobs/" in response.headers["Location"]
    job = db.session.query(BackgroundJob).one()
    assert (job.kind, job.created_by, job.total) == ("service_record_export", admin.id, 1)


# Runs on SQLite too (writes are serialised there); with TEST_DATABASE_URL it races on PostgreSQL.
def test_two_desks_approving_the_same_records_at_once_approve_each_once(live_server):
    import requests

    from models import Notification, ServiceRecord
    from tests.activity_factories import make_record
    from tests.conftest import fire_at_once
    from tests.console_helpers import CSRF, PASSWORD

    tree = region_tree()
    desks = [make_staff("community_admin", tree["a1"]) for _ in range(2)] + [make_staff("street_admin",
                                                                                        tree["street_a"])]
    ids = [make_record(make_member(), tree["a1"]).id for _ in range(6)]
    sessions = []
    for desk in desks:
        browser = requests.Session()
        token = CSRF.search(browser.get(f"{live_server}/console/login", timeout=30).text).group(1)
        signed = browser.post(f"{live_server}/console/login", timeout=30, allow_redirects=False,
                              data={"csrf_token": token, "username": desk.username, "password": PASSWORD})
        assert signed.status_code == 302
        token = CSRF.search(browser.get(f"{live_server}/console/records", timeout=30).text).group(1)
        sessions.append((browser, token))

    def approve(i):
        browser, token = sessions[i]
        return browser.post(f"{live_server}/console/records/approve", data={"csrf_token": token, "ids": ids},
                            timeout=60)

    responses = fire_at_once(len(sessions), approve)
    assert all(r.status_code == 200 for r in responses)  # each followed its redirect to the list
    approved = sorted(int(r.text.split("已批准 ")[1].split(" ")[0]) for r in responses)
    assert sum(approved) == 6
    db.session.expire_all()
    assert {db.session.get(ServiceRecord, i).status for i in ids} == {"approved"}
    assert db.session.query(Notification).filter_by(kind="hours_approved").count() == 6


def test_a_streets_lists_narrow_to_one_community(client):
    from tests.activity_factories import make_record

    tree = region_tree()
    street = make_staff("street_admin", tree["street_a"])
    here, there = make_record(make_member(), tree["a1"]), make_record(make_member(), tree["a2"])
    sign_in(client, street)
    page = _text(client.get("/console/records"))
    assert 'id="community-filter"' in page and f'id="record-{here.id}"' in page and f'id="record-{there.id}"' in page
    page = _text(client.get(f"/console/records?community_id={tree['a1'].id}"))
    assert f'id="record-{here.id}"' in page and f'id="record-{there.id}"' not in page
    assert 'id="community-filter"' in _text(client.get("/console/reports"))
    assert 'id="community-filter"' in _text(client.get("/console/appeals"))
