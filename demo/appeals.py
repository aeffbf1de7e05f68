"""Residents' appeals: 和平街道 with two departments (and one of the district), their admins, and appeals in every
state and from every source over the last five weeks, so that ``GET /stats/appeals`` shows the three rates."""

from datetime import timedelta

from clock import local_day_start, to_local, utcnow
from extensions import db
from models import Appeal, AppealDepartment, AppealEscalation, AppealEvent, Department, RoleAssignment
from services import appeals
from services.accounts import create_account
from services.auth import hash_password

DEPARTMENTS = (
    # (region: "street" | "district", name, demo username)
    ("street", "和平街道城市管理办公室", "dept1"),
    ("street", "和平街道综合行政执法队", "dept2"),
    ("district", "示范区住房和城乡建设委员会", "dept3"),
)

# (days ago, community index, source, kind, title, content, story, resident_or_member, extra)
# story: the steps after submission, each (action, hours after submission[, text]).
APPEALS = (
    (33, 0, "hotline", "complaint", "楼道堆满快递纸箱",
     "3号楼2单元有住户长期把快递纸箱堆在楼道和电梯口，影响通行，存在消防隐患。",
     (("accepted", 2), ("escalated", 26, 0, "住户不配合清理，请执法队协助"),
      ("answered", 70, "已上门劝导并清理完毕"),
      ("resolved", 80, "执法队与社区联合上门，楼道已清理，已与住户约定不再堆放"), ("rated", 96, 5, "处理得很及时")),
     "王女士", {"work_order_no": "GD202411010017"}),
    (30, 0, "app", "problem", "小区东门路灯不亮", "东门到5号楼之间的三盏路灯坏了一周，晚上老人出行不便。",
     (("accepted", 3), ("resolved", 50, "物业已更换灯泡，路灯恢复照明"), ("rated", 60, 4, None)), 0, {}),
    (28, 1, "app", "suggestion", "建议增设电动车充电桩", "小区电动车越来越多，很多人飞线充电，建议在车棚加装充电桩。",
     (("accepted", 5), ("converted", 30, "need"),
      ("resolved", 200, "已列入社区需求清单，与物业协商加装 20 个充电口")), 1, {"anonymous": True}),
    (26, 1, "reception", "request", "孩子入学登记怎么填",
     "居民接待日咨询：适龄儿童入学信息采集的地址和社区选项如何填写。",
     (("accepted", 1), ("resolved", 4, "已当场指导填写，并拉入入学咨询微信群")), "赵先生", {}),
    (24, 2, "visit", "problem", "地库喷淋管漏水", "入户走访时居民反映地下车库喷淋管滴水，地面湿滑。",
     (("accepted", 30), ("escalated", 40, 2, "涉及消防设施维修，请住建委督促物业"), ("answered", 130, "已督促物业维修"),
      ("resolved", 240, "喷淋管已更换")), "刘师傅", {}),
    (21, 0, "meeting", "suggestion", "老旧小区加装电梯", "议事协商会上居民提出为6栋高层之外的多层住宅加装电梯。",
     (("accepted", 20), ("converted", 22, "project")), "居民代表", {}),
    (20, 3, "app", "complaint", "楼上装修噪音扰民", "楼上住户周末早上七点就开始装修，影响休息。",
     (("accepted", 6), ("resolved", 30, "已与装修户沟通，约定施工时间为工作日 8:00-18:00"),
      ("rated", 40, 3, "还是有点吵")), 3, {}),
    (18, 2, "app", "problem", "私自安装外扩护栏", "7号楼低层住户私自安装外扩护栏，破坏外立面。",
     (("accepted", 4), ("escalated", 10, 1, "违建需执法队认定和拆除"),
      ("answered", 60, "已下达限期整改通知", "handled"),
      ("resolved", 150, "护栏已拆除"), ("closed", 150 + 7 * 24)), 4, {}),
    (15, 0, "hotline", "request", "老人买菜困难", "12345 转来：独居老人行动不便，希望有人帮忙买菜。",
     (("accepted", 3), ("converted", 5, "wish")), "孙大爷", {"work_order_no": "GD202411190233"}),
    (12, 1, "app", "problem", "共享单车乱停放", "地铁口共享单车堆满人行道。",
     (("rejected", 8, "属于市政道路管理，已告知拨打 12345"),), 5, {}),
    (11, 3, "app", "problem", "垃圾桶站异味", "2号桶站夏季异味大，清运不及时。",
     (("accepted", 30), ("resolved", 300, "已调整清运时间为每日两次")), 6, {}),
    (9, 0, "app", "request", "重复反映：楼道纸箱", "楼道纸箱又堆起来了。",
     (("rejected", 3, "与已受理诉求重复"),), 0, {"duplicate": 0}),
    (8, 2, "visit", "complaint", "电梯频繁故障", "5号楼电梯一周停运三次。",
     (("accepted", 2), ("escalated", 4, 2, "电梯维保单位不作为，请住建委约谈")), "周阿姨", {}),
    (6, 3, "app", "suggestion", "希望开设老年智能手机课堂", "很多老人不会用手机挂号，希望社区开课。",
     (("withdrawn", 2),), 7, {}),
    (5, 1, "app", "problem", "小区门口井盖松动", "北门井盖踩上去晃动，有安全隐患。",
     (("accepted", 40),), 8, {}),
    (2, 0, "app", "problem", "楼顶堆积杂物", "1号楼楼顶平台堆满旧家具。",
     (("accepted", 4), ("escalated", 6, 0, "请城管办协调清运")), 9, {}),
    (1, 2, "reception", "request", "咨询养老助餐点开放时间", "居民接待日咨询助餐点的开放时间和报名方式。",
     (), "陈奶奶", {}),
    (0, 3, "app", "complaint", "夜间广场舞音响太大", "晚上九点后广场舞音响仍然很大声。", (), 10, {"hours_ago": 3}),
)


def _departments(ctx):
    street, district = ctx["streets"][0], ctx["district"]
    made, admins = [], []
    for where, name, username in DEPARTMENTS:
        department = Department(region_id=(street if where == "street" else district).id, name=name)
        db.session.add(department)
        db.session.flush()
        admin = create_account(username=username, password_hash=hash_password("demo12345"), name=f"{name}联络员")
        admin.roles.append(RoleAssignment(role="department_admin", scope_type="department", scope_id=department.id))
        made.append(department)
        admins.append(admin)
    db.session.flush()
    return made, admins


def _step(appeal, action, at, actor_id, role, note=None, department_id=None):
    db.session.add(AppealEvent(appeal_id=appeal.id, action=action, actor_id=actor_id, actor_role=role, note=note,
                               department_id=department_id, at=at))


def _play(ctx, appeal, steps, departments, staff_id, made):
    """Replay the story's steps on the row, with their timeline, as the services would have left them."""
    submitted = appeal.created_at
    resident_role = "resident" if appeal.source == "app" else "staff"
    _step(appeal, "submitted", submitted, appeal.created_by, resident_role)
    for step in steps:
        action, hours = step[0], step[1]
        at = submitted + timedelta(hours=hours)
        if action == "accepted":
            appeal.status, appeal.accepted_at, appeal.responded_at = "accepted", at, at
            appeal.due_date = to_local(at).date() + timedelta(days=appeals.DUE_DAYS)
            appeal.due_at = local_day_start(appeal.due_date + timedelta(days=1))
            _step(appeal, action, at, staff_id, "staff")
        elif action == "rejected":
            appeal.status, appeal.responded_at, appeal.ended_at, appeal.reject_reason = "rejected", at, at, step[2]
            _step(appeal, action, at, staff_id, "staff", step[2])
        elif action == "withdrawn":
            appeal.status, appeal.ended_at = "withdrawn", at
            _step(appeal, action, at, appeal.member_id, "resident")
        elif action == "escalated":
            department = departments[step[2]]
            due = to_local(at).date() + timedelta(days=appeals.DUE_DAYS)
            escalation = AppealEscalation(appeal_id=appeal.id, department_id=department.id, note=step[3],
                                          status="open", escalated_by=staff_id, escalated_at=at, due_date=due,
                                          due_at=local_day_start(due + timedelta(days=1)))
            db.session.add(escalation)
            db.session.add(AppealDepartment(department_id=department.id, appeal_id=appeal.id,
                                            appeal_created_at=submitted))
            appeal.status, appeal.department_id, appeal.escalated_at = "escalated", department.id, at
            if due > appeal.due_date:
                appeal.due_date, appeal.due_at = due, escalation.due_at
            _step(appeal, action, at, staff_id, "staff", step[3], department.id)
            made["escalation"] = escalation
        elif action == "answered":
            escalation = made["escalation"]
            escalation.status, escalation.answer, escalation.answered_at = "answered", step[2], at
            escalation.outcome = step[3] if len(step) > 3 else "handled"
            appeal.status = "accepted"
            _step(appeal, action, at, None, "department", step[2], escalation.department_id)
        elif action == "converted":
            made.setdefault("conversions", []).append((appeal, step[2], at))
            _step(appeal, action, at, staff_id, "staff", step[2])
        elif action == "resolved":
            appeal.status, appeal.reply, appeal.resolved_at, appeal.ended_at = "resolved", step[2], at, at
            _step(appeal, action, at, staff_id, "staff", step[2])
        elif action == "rated":
            appeal.status, appeal.closed_at, appeal.rated_at = "closed", at, at
            appeal.rating_score, appeal.rating_comment = step[2], step[3]
            via = "app" if appeal.member_id else "phone"
            appeal.rating_via, appeal.rated_by = via, appeal.member_id or staff_id
            _step(appeal, action, at, appeal.rated_by, "resident" if via == "app" else "staff", step[3])
            _step(appeal, "closed", at, appeal.rated_by, "resident" if via == "app" else "staff")
        elif action == "closed":
            appeal.status, appeal.closed_at = "closed", at
            _step(appeal, action, at, None, "system")


def _convert(ctx, conversions):
    """The wishes, needs and projects made from appeals, linked both ways."""
    from models import Need, Project, Wish

    made = 0
    for appeal, kind, at in conversions:
        if kind == "wish":
            row = Wish(community_id=appeal.community_id, title=appeal.title, description=appeal.content,
                       beneficiary="社区独居老人", status="open", created_at=at)
        elif kind == "need":
            row = Need(community_id=appeal.community_id, title=appeal.title, category="安全",
                       source=appeals.NEED_SOURCE[appeal.source], status="open", created_at=at)
        else:
            need = Need(community_id=appeal.community_id, title=appeal.title, category="养老",
                        source=appeals.NEED_SOURCE[appeal.source], status="matched", created_at=at, appeal_id=appeal.id)
            db.session.add(need)
            row = Project(community_id=appeal.community_id, title=f"{appeal.title}项目", status="approved",
                          approved_at=at, created_at=at, needs=[need])
        row.appeal_id = appeal.id
        db.session.add(row)
        made += 1
    return made


def seed(ctx):
    now = utcnow()
    communities, admins, members = ctx["communities"], ctx["community_admins"], ctx["members"]
    departments, department_admins = _departments(ctx)
    created, made = [], {}
    for days, c, source, kind, title, content, steps, resident, extra in APPEALS:
        community, staff = communities[c], admins[c]
        submitted = now - timedelta(days=days, hours=extra.get("hours_ago", 0) + 9)
        member = members[resident] if isinstance(resident, int) else None
        appeal = Appeal(number=appeals.next_number(to_local(submitted).date()), community_id=community.id,
                        kind=kind, title=title, content=content, source=source, status="submitted",
                        anonymous=extra.get("anonymous", False), member_id=member.id if member else None,
                        resident_name=member.name if member else resident,
                        resident_phone=member.phone if member else "010-6" + str(2000000 + len(created)),
                        work_order_no=extra.get("work_order_no"), created_by=member.id if member else staff.id,
                        created_at=submitted, response_due_at=submitted + timedelta(hours=24),
                        address=f"{community.name}{len(created) + 1}号楼" if source == "app" else None,
                        lat=39.93 + c * 0.01 if source == "app" else None,
                        lng=116.42 + c * 0.01 if source == "app" else None)
        if "duplicate" in extra:
            appeal.duplicate_of = created[extra["duplicate"]].number
        db.session.add(appeal)
        db.session.flush()
        made.pop("escalation", None)
        # Department answers come from the department's demo admin.
        _play(ctx, appeal, steps, departments, staff.id, made)
        created.append(appeal)
    db.session.flush()
    conversions = _convert(ctx, made.get("conversions", []))
    db.session.flush()
    ctx.update(departments=departments, department_admins=department_admins, appeals=created)
    return {"departments": len(departments), "appeals": len(created), "appeals_converted": conversions}
