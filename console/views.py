"""The console's pages: each reads its form with the API's schema, calls one service with the signed-in Actor, and
renders; an action redirects back with a message (errors: console/errors.py)."""

from datetime import date, timedelta
from urllib.parse import urlsplit

from flask import current_app, flash, jsonify, redirect, render_template, request, url_for
from marshmallow import Schema, ValidationError

from api.activities import ActivityChangeSchema, ActivityListArgs, ActivitySchema
from api.appeals import (
    AnswerSchema,
    AppealListArgs,
    AppealRejectSchema,
    ConvertSchema,
    EscalateSchema,
    RecallSchema,
    ResolveSchema,
)
from api.certificates import BatchRequestSchema, CertificateRequestSchema, send_batch_zip
from api.downloads import XLSX_MIMETYPE, send_download
from api.fields import Id, Year
from api.meetings import MinutesSchema
from api.records import BulkApprovalSchema, CorrectionSchema, ExportArgs, RecordListArgs
from api.reports import RejectSchema, ReportListArgs
from api.tasks import TaskDoneSchema
from clock import local_today, to_local
from console import bp
from console.auth import current_actor
from console.forms import WeekArgs, list_filters, page, parse
from errors import ValidationFailed
from models import Region, Unit, User
from models.activity import CATEGORIES
from services import (
    activities,
    appeal_stats,
    appeals,
    background,
    certificates,
    departments,
    exports,
    meetings,
    posts,
    records,
    reports,
    screen,
    stats,
    tasks,
)
from services import console as console_service
from services import shifts as shifts_service
from services.authz import require_community_staff, require_region_staff

STATUS_NAMES = {
    "pending": "待审核", "approved": "已通过", "rejected": "已驳回", "withdrawn": "已撤回",
    "submitted": "待受理", "accepted": "已受理", "resolved": "已办结", "closed": "已关闭",
    "open": "进行中", "done": "已完成", "overdue": "已逾期", "claimed": "已认领", "fulfilled": "已完成",
    "confirmed": "已确认", "cancelled": "已取消", "published": "已发布", "scheduled": "已安排", "held": "已召开",
    "answered": "已答复", "recalled": "已召回", "escalated": "已吹哨", "converted": "已转为清单", "rated": "已评价",
    "queued": "排队中", "running": "进行中", "failed": "失败",
}
ACTION_NAMES = {
    "submitted": "提交", "accepted": "受理", "rejected": "驳回", "withdrawn": "撤回", "converted": "转为清单",
    "escalated": "吹哨", "answered": "部门答复", "recalled": "召回", "resolved": "办结", "rated": "评价",
    "closed": "关闭",
}
KIND_NAMES = {"member": "党员报到", "unit": "单位报到", "problem": "随手拍", "suggestion": "求计问策",
              "request": "求助", "complaint": "投诉", "hotline": "12345热线", "reception": "接待日",
              "visit": "走访", "meeting": "会议", "app": "小程序"}


def is_region_staff(actor):
    return actor.is_region_staff


def is_staff(actor):
    return actor.is_staff


def sees_appeals(actor):
    return actor.is_region_staff or actor.is_department_staff


NAV = (
    ("console.dashboard", "工作台", None),
    ("console.reports_page", "报到审核", is_staff),
    ("console.records_page", "服务时长", is_staff),
    ("console.appeals_page", "居民诉求", sees_appeals),
    ("console.tasks_page", "任务", is_staff),
    ("console.activities_page", "活动", is_region_staff),
    ("console.posts_page", "岗位排班", is_region_staff),
    ("console.meetings_page", "议事会议", is_region_staff),
    ("console.certificates_page", "证明", is_region_staff),
    ("console.charts", "图表", is_region_staff),
    ("console.jobs_page", "后台任务", None),
)


def _communities(actor):
    """The communities a list may be narrowed to (region staff; others' lists are their unit's or department's)."""
    return console_service.communities(actor) if actor.is_region_staff else []


def back(default):
    """Where an action returns: the page it was sent from (a console page), else ``default``."""
    target = request.form.get("back") or ""
    return redirect(target if target.startswith("/console/") else default)


@bp.app_template_filter("rate")
def rate_filter(value):
    return "—" if value is None else f"{float(value) * 100:.1f}%"


@bp.app_template_filter("local")
def local_filter(value, pattern="%Y-%m-%d %H:%M"):
    return "" if value is None else to_local(value).strftime(pattern)


@bp.context_processor
def page_context():
    def nav_items(actor):
        return [(endpoint, label) for endpoint, label, allowed in NAV if allowed is None or allowed(actor)]

    return {"actor": current_actor(), "nav_items": nav_items, "endpoints": current_app.view_functions,
            "status_name": lambda s: STATUS_NAMES.get(s, s),
            "action_name": lambda a: ACTION_NAMES.get(a, a), "kind_name": lambda k: KIND_NAMES.get(k, k)}


@bp.route("/")
def dashboard():
    actor = current_actor()
    return render_template("console/dashboard.html", counts=console_service.waiting(actor),
                           figures=console_service.figures(actor))


# Reports (报到).

@bp.route("/reports")
def reports_page():
    actor = current_actor()
    listing = page(reports.list_reports(actor, **list_filters(ReportListArgs)))
    rows = listing["items"]
    labels = {"users": console_service.names(User, [r.member_id for r in rows]),
              "units": console_service.names(Unit, [r.unit_id for r in rows]),
              "regions": console_service.names(Region, [r.community_id for r in rows])}
    return render_template("console/reports.html", listing=listing, labels=labels, args=request.args,
                           communities=_communities(actor))


@bp.route("/reports/<int:report_id>/approve", methods=["POST"])
def approve_report(report_id):
    reports.decide(current_actor(), report_id, approve=True)
    flash(f"报到 #{report_id} 已通过")
    return back(url_for("console.reports_page"))


@bp.route("/reports/<int:report_id>/reject", methods=["POST"])
def reject_report(report_id):
    reports.decide(current_actor(), report_id, approve=False, **parse(RejectSchema))
    flash(f"报到 #{report_id} 已驳回")
    return back(url_for("console.reports_page"))


# Service records (服务时长).

@bp.route("/records")
def records_page():
    actor = current_actor()
    listing = page(records.list_records(actor, **list_filters(RecordListArgs)), per_page=50)
    rows = listing["items"]
    labels = {"users": console_service.names(User, [r.member_id for r in rows]),
              "regions": console_service.names(Region, [r.community_id for r in rows])}
    return render_template("console/records.html", listing=listing, labels=labels, args=request.args,
                           communities=_communities(actor))


@bp.route("/records/approve", methods=["POST"])
def approve_records():
    result = records.approve_many(current_actor(), **parse(BulkApprovalSchema, lists=("ids",)))
    message = f"已批准 {result['approved']} 条服务记录"
    if result["skipped"]:
        reasons = {"record_not_found": "不存在或不在管辖范围", "own_record": "本人的记录", "invalid_state": "已处理"}
        message += "；跳过 " + "，".join(f"#{s['id']}（{reasons.get(s['code'], s['code'])}）"
                                         for s in result["skipped"])
    flash(message)
    return back(url_for("console.records_page"))


@bp.route("/records/<int:record_id>")
def record_page(record_id):
    actor = current_actor()
    record = records.access_record(actor, record_id, for_write=False)
    changes = records.present_changes(list(console_service.rows(records.history(actor, record_id))))
    labels = {"users": console_service.names(User, [record.member_id]),
              "regions": console_service.names(Region, [record.community_id])}
    return render_template("console/record.html", record=record, changes=changes, labels=labels)


@bp.route("/records/<int:record_id>/correct", methods=["POST"])
def correct_record(record_id):
    records.correct(current_actor(), record_id, **parse(CorrectionSchema))
    flash(f"服务记录 #{record_id} 已更正")
    return redirect(url_for("console.record_page", record_id=record_id))


@bp.route("/records/<int:record_id>/<any(approve, reject):decision>", methods=["POST"])
def decide_record(record_id, decision):
    reason = request.form.get("reason") or None
    records.decide(current_actor(), record_id, approve=decision == "approve", reason=reason)
    flash(f"服务记录 #{record_id} {'已批准' if decision == 'approve' else '已驳回'}")
    return back(url_for("console.record_page", record_id=record_id))


# Appeals (居民诉求) and a department's inbox.

@bp.route("/appeals")
def appeals_page():
    actor = current_actor()
    in_work = request.args.get("status") == "in_work"
    args = parse(AppealListArgs, {k: v for k, v in request.args.items() if not (k == "status" and in_work)})
    filters = {k: v for k, v in args.items() if k not in ("page", "per_page")}
    query = console_service.appeals_in_work(actor, **filters) if in_work else appeals.list_appeals(actor, **filters)
    listing = page(query, lambda rows: appeals.present(actor, rows))
    inbox = not actor.is_region_staff
    return render_template("console/appeals.html", listing=listing, args=request.args, inbox=inbox,
                           communities=_communities(actor),
                           regions=console_service.names(Region, [a["community_id"] for a in listing["items"]]))


@bp.route("/appeals/<int:appeal_id>")
def appeal_page(appeal_id):
    actor = current_actor()
    appeal = appeals.present_one(actor, appeals.access_appeal(actor, appeal_id))
    targets = []
    staff = actor.covers_community_id(appeal["community_id"])
    if staff and appeal["status"] == "accepted":
        targets = departments.present(list(console_service.rows(
            departments.list_departments(actor, community_id=appeal["community_id"]))))
    return render_template("console/appeal.html", appeal=appeal, staff=staff, targets=targets,
                           answering=_answering(actor, appeal),
                           community=console_service.names(Region, [appeal["community_id"]]))


def _answering(actor, appeal):
    escalation = appeal["escalation"]
    return bool(escalation and escalation["status"] == "open" and escalation["department_id"] in actor.department_ids)


APPEAL_ACTIONS = {
    "accept": (None, "已受理"),
    "reject": (AppealRejectSchema, "已驳回"),
    "resolve": (ResolveSchema, "已办结"),
    "escalate": (EscalateSchema, "已吹哨至职能部门"),
    "answer": (AnswerSchema, "已报到答复"),
    "recall": (RecallSchema, "已召回"),
}


@bp.route("/appeals/<int:appeal_id>/<any(accept, reject, resolve, escalate, answer, recall):action>",
          methods=["POST"])
def appeal_action(appeal_id, action):
    schema, done = APPEAL_ACTIONS[action]
    body = parse(schema) if schema else {}
    getattr(appeals, action)(current_actor(), appeal_id, **body)
    flash(f"诉求{done}")
    return redirect(url_for("console.appeal_page", appeal_id=appeal_id))


@bp.route("/appeals/<int:appeal_id>/convert", methods=["POST"])
def convert_appeal(appeal_id):
    body = parse(ConvertSchema)
    appeals.convert(current_actor(), appeal_id, **body)
    flash({"wish": "已转为微心愿", "need": "已转为需求清单", "project": "已转为项目清单"}[body["to"]])
    return redirect(url_for("console.appeal_page", appeal_id=appeal_id))


# Tasks, shifts short of seats, wishes overdue.

@bp.route("/tasks")
def tasks_page():
    actor = current_actor()
    status = request.args.get("status") or None
    if status not in (None, "open", "done", "overdue"):
        status = None
    listing = page(tasks.list_tasks(actor, status=status), tasks.present)
    return render_template("console/tasks.html", listing=listing, status=status)


@bp.route("/tasks/<int:task_id>/done", methods=["POST"])
def complete_task(task_id):
    tasks.complete_task(current_actor(), task_id, **parse(TaskDoneSchema))
    flash(f"任务 #{task_id} 已完成")
    return back(url_for("console.tasks_page"))


@bp.route("/shifts/short")
def short_shifts():
    actor = current_actor()
    listing = page(console_service.short_shifts(actor))
    return render_template("console/short_shifts.html", listing=listing,
                           posts=console_service.post_names([s.post_id for s in listing["items"]]))


@bp.route("/wishes/overdue")
def overdue_wishes():
    actor = current_actor()
    listing = page(console_service.overdue_wishes(actor))
    return render_template("console/overdue_wishes.html", listing=listing,
                           regions=console_service.names(Region, [w.community_id for w in listing["items"]]))


# Exports (导出).

@bp.route("/records/export")
def export_records():
    args = parse(ExportArgs, request.args)
    file_format = args.pop("format")
    if args.pop("run_async"):
        job = background.submit_export(current_actor(), file_format=file_format, **args)
        return redirect(url_for("console.job_page", job_id=job.id))
    query = exports.export_query(current_actor(), **args)
    if file_format == "xlsx":
        body, mimetype = exports.file_chunks(exports.write_xlsx(query)), XLSX_MIMETYPE
    else:
        body, mimetype = exports.csv_chunks(query), "text/csv"
    return send_download(body, mimetype, f"service-records.{file_format}")


# Certificates (志愿服务证明) and background jobs.

def _relative(url):
    """A link the server made for PUBLIC_BASE_URL, followed on whatever host the console was opened at."""
    if not url:
        return None
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


@bp.route("/certificates")
def certificates_page():
    actor = current_actor()
    require_region_staff(actor)
    listing = page(certificates.list_certificates(actor))
    rows = listing["items"]
    return render_template("console/certificates.html", listing=listing,
                           communities=console_service.communities(actor),
                           users=console_service.names(User, [c.member_id for c in rows]),
                           regions=console_service.names(Region, [c.issuer_id for c in rows]))


@bp.route("/certificates", methods=["POST"])
def issue_certificate():
    certificate = certificates.issue_certificate(current_actor(), **parse(CertificateRequestSchema))
    flash(f"已开具证明 {certificate.number}（{certificate.total_hours} 小时）")
    return redirect(url_for("console.certificates_page"))


@bp.route("/certificates/<int:certificate_id>/pdf")
def certificate_pdf(certificate_id):
    certificate, pdf = certificates.certificate_pdf(current_actor(), certificate_id)
    return send_download(pdf, "application/pdf", f"{certificate.number}.pdf", attachment=False)


@bp.route("/certificates/batch", methods=["POST"])
def certificate_batch():
    actor = current_actor()
    body = parse(BatchRequestSchema)
    if request.form.get("async", "true") != "false":
        job = background.submit_certificate_batch(actor, **body)
        return redirect(url_for("console.job_page", job_id=job.id))
    return send_batch_zip(certificates.prepare_batch(actor, **body))


JOB_KINDS = {"certificate_batch": "批量开具证明", "service_record_export": "导出服务记录"}


def _job_state(job):
    shown = background.present(job)
    total, done = shown["total"] or 0, shown["done_count"]
    text = {"queued": "排队中…", "running": f"进行中：{done} / {total}", "done": f"已完成：共 {total} 份",
            "failed": f"失败：{(shown['error'] or {}).get('message', '')}"}[shown["status"]]
    return {"id": job.id, "kind": JOB_KINDS.get(job.kind, job.kind),
            "status": "succeeded" if shown["status"] == "done" else shown["status"],
            "done": total if shown["status"] == "done" else done, "total": total, "text": text,
            "download_url": _relative(shown["download_url"]), "created_at": job.created_at}


@bp.route("/jobs")
def jobs_page():
    actor = current_actor()
    listing = page(background.list_jobs(actor), lambda jobs: [_job_state(j) for j in jobs])
    return render_template("console/jobs.html", listing=listing)


@bp.route("/jobs/<int:job_id>")
def job_page(job_id):
    return render_template("console/job.html", job=_job_state(background.access_job(current_actor(), job_id)))


@bp.route("/jobs/<int:job_id>/state")
def job_state(job_id):
    state = _job_state(background.access_job(current_actor(), job_id))
    return jsonify({k: v for k, v in state.items() if k != "created_at"})


# Activities (活动) and the organiser's screen.

@bp.route("/activities")
def activities_page():
    actor = current_actor()
    require_region_staff(actor)
    listing = page(console_service.activities(actor, **list_filters(ActivityListArgs)), activities.present)
    return render_template("console/activities.html", listing=listing, args=request.args,
                           regions=console_service.names(Region, [a["community_id"] for a in listing["items"]]))


@bp.route("/activities/new", methods=["GET", "POST"])
def new_activity():
    actor = current_actor()
    require_region_staff(actor)
    if request.method == "POST":
        activity = activities.create_activity(actor, **parse(ActivitySchema))
        flash(f"活动“{activity.title}”已发布")
        return redirect(url_for("console.activities_page"))
    return render_template("console/activity_form.html", activity=None, categories=CATEGORIES,
                           communities=console_service.communities(actor))


@bp.route("/activities/<int:activity_id>/edit", methods=["GET", "POST"])
def edit_activity(activity_id):
    actor = current_actor()
    if request.method == "POST":
        changes = parse(ActivityChangeSchema, partial=True)
        activity = activities.update_activity(actor, activity_id, **changes)
        flash(f"活动“{activity.title}”已保存")
        return redirect(url_for("console.activities_page"))
    activity = activities.access_activity(actor, activity_id, for_write=False, as_staff=True)
    return render_template("console/activity_form.html", activity=activity, categories=CATEGORIES, communities=[])


@bp.route("/activities/<int:activity_id>/cancel", methods=["POST"])
def cancel_activity(activity_id):
    activity = activities.cancel_activity(current_actor(), activity_id)
    flash(f"活动“{activity.title}”已取消")
    return back(url_for("console.activities_page"))


@bp.route("/activities/<int:activity_id>/screen", methods=["POST"])
def open_screen(activity_id):
    link = screen.open_screen(current_actor(), activity_id)
    flash("签到大屏链接已生成，活动结束前有效")
    return render_template("console/screen_link.html", link={**link, "url": _relative(link["url"])},
                           activity_id=activity_id)


# Duty posts (岗位): the roster as a week grid, and the pool.

@bp.route("/posts")
def posts_page():
    actor = current_actor()
    require_region_staff(actor)
    listing = page(console_service.posts(actor))
    return render_template("console/posts.html", listing=listing,
                           regions=console_service.names(Region, [p.community_id for p in listing["items"]]))


@bp.route("/posts/<int:post_id>")
def post_page(post_id):
    actor = current_actor()
    post = posts.access_post(actor, post_id, for_write=False, as_staff=True)
    week = parse(WeekArgs, request.args).get("week") or local_today()
    monday = week - timedelta(days=week.weekday())
    days = [monday + timedelta(days=i) for i in range(7)]
    shifts = shifts_service.with_assignees(actor, list(console_service.rows(
        shifts_service.post_shifts(actor, post_id, date_from=days[0], date_to=days[-1]))))
    grid = {day: [] for day in days}
    for shift in shifts:
        grid.setdefault(to_local(shift["starts_at"]).date(), []).append(shift)
    pool = posts.pool_entries(list(console_service.rows(posts.list_pool(actor, post_id))))
    return render_template("console/post.html", post=post, days=days, grid=grid, pool=pool,
                           previous=monday - timedelta(days=7), following=monday + timedelta(days=7),
                           weekdays="一二三四五六日")


# Meetings (议事协商): minutes and decisions.

@bp.route("/meetings")
def meetings_page():
    actor = current_actor()
    require_region_staff(actor)
    listing = page(console_service.meetings(actor), lambda rows: meetings.present(actor, rows))
    return render_template("console/meetings.html", listing=listing,
                           regions=console_service.names(Region, [m["community_id"] for m in listing["items"]]))


@bp.route("/meetings/<int:meeting_id>")
def meeting_page(meeting_id):
    actor = current_actor()
    meeting = meetings.present_one(actor, meetings.access_meeting(actor, meeting_id, for_write=False, as_staff=True))
    return render_template("console/meeting.html", meeting=meeting, decision_rows=range(3))


def _minutes_body():
    """The minutes form as MinutesSchema's body: partners present, and up to three decisions with their votes and
    one task each."""
    form = request.form
    decisions = []
    for i in range(3):
        text = form.get(f"decision-{i}-text", "").strip()
        if not text:
            continue
        decision = {"text": text}
        agenda = form.get(f"decision-{i}-agenda", "")
        if agenda.isdigit():
            decision["agenda_index"] = int(agenda)
        votes = [form.get(f"decision-{i}-{k}", "").strip() for k in ("for", "against", "abstain")]
        if any(votes):
            decision["votes"] = dict(zip(("for", "against", "abstain"),
                                         (int(v) if v.isdigit() else v for v in votes), strict=True))
        task_title = form.get(f"decision-{i}-task", "").strip()
        if task_title:
            owner = form.get(f"decision-{i}-owner", "")
            decision["tasks"] = [{"title": task_title, "owner_partner_id": int(owner) if owner.isdigit() else owner,
                                  "due_date": form.get(f"decision-{i}-due", "")}]
        decisions.append(decision)
    attendance = [{"partner_id": int(p)} for p in form.getlist("present") if p.isdigit()]
    body = {"summary": form.get("summary", ""), "attendance": attendance, "decisions": decisions}
    try:
        return MinutesSchema().load(body)
    except ValidationError as error:
        raise ValidationFailed(error.messages) from None


@bp.route("/meetings/<int:meeting_id>/minutes", methods=["POST"])
def record_minutes(meeting_id):
    meetings.record_minutes(current_actor(), meeting_id, **_minutes_body())
    flash("会议纪要已记录")
    return redirect(url_for("console.meeting_page", meeting_id=meeting_id))


# Charts (图表).

CATEGORY_NAMES = {"civility": "文明实践", "order": "秩序维护", "culture": "文化活动", "health": "健康服务",
                  "environment": "环境保护", "safety": "安全巡查", "other": "其他"}


class ChartArgs(Schema):
    region_id = Id()
    year = Year()


@bp.route("/charts")
def charts():
    actor = current_actor()
    require_community_staff(actor)
    args = parse(ChartArgs, request.args)
    region_id = args.get("region_id") or getattr(console_service.home_region(actor), "id", None)
    year = args.get("year") or local_today().year
    breakdown = console_service.service_breakdown(actor, region_id=region_id, year=year)
    service = stats.overview(actor, region_id=region_id, year=year)
    rates = appeal_stats.appeal_stats(actor, region_id=region_id, date_from=date(year, 1, 1),
                                      date_to=date(year, 12, 31))
    return render_template(
        "console/charts.html", breakdown=breakdown, appeal_figures=rates,
        months=[float(h) for h in breakdown["by_month"]], month_labels=[f"{m}月" for m in range(1, 13)],
        categories=[(CATEGORY_NAMES.get(c, c), float(h)) for c, h in breakdown["by_category"]],
        children=[(c["name"], float(c["approved_hours"])) for c in service["children"]],
        rate_groups=[(rates["name"], rates)] + [(c["name"], c) for c in rates["children"]],
        regions=console_service.chart_regions(actor, breakdown["region"]),
        years=list(range(local_today().year, local_today().year - 5, -1)))
