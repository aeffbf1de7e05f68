"""Wishes in every state, the three lists with projects at every step, wish points and members' notifications."""

from datetime import timedelta

from sqlalchemy import select

from clock import local_today, utcnow
from extensions import db
from models import Need, Project, Report, Resource, Wish
from services import notifications, points

WISHES = (
    # (title, beneficiary, status, claimer: "member" | "unit" | None, days to deadline)
    ("为独居老人购买冬季棉被", "和平里3号楼独居老人", "open", None, 14),
    ("辅导小学生数学作业", "青年路困难家庭儿童", "open", None, 30),
    ("陪同行动不便老人就医", "光明里5号楼高龄老人", "claimed", "member", 5),
    ("修理楼道声控灯", "朝阳社区7号楼居民", "claimed", "unit", 10),
    ("代购降压药", "和平里社区空巢老人", "claimed", "member", -3),
    ("教老人使用智能手机", "青年路社区老年活动站", "fulfilled", "member", 7),
    ("为残疾人家庭送年货", "光明里社区残疾人家庭", "completed", "member", -10),
    ("为社区图书角捐书", "朝阳社区图书角", "completed", "unit", -20),
    ("清理楼顶堆积杂物", "和平里1号楼居民", "cancelled", None, 3),
)

NEEDS = (
    ("老旧小区加装楼道扶手", "养老", "survey"),
    ("垃圾分类桶站异味", "环境", "hotline"),
    ("周末儿童托管", "教育", "visit"),
    ("独居老人助餐", "养老", "meeting"),
    ("电动车充电桩不足", "安全", "online"),
)


def _wishes(ctx, now, today):
    communities, admins = ctx["communities"], ctx["community_admins"]
    members, units, unit_admins = ctx["members"], ctx["units"], ctx["unit_admins"]
    created = []
    for n, (title, beneficiary, status, claimer, days) in enumerate(WISHES):
        community = communities[n % len(communities)]
        wish = Wish(community_id=community.id, title=title, description=f"{beneficiary}的心愿：{title}",
                    beneficiary=beneficiary, deadline=today + timedelta(days=days), status=status,
                    created_by=admins[n % len(admins)].id, created_at=now - timedelta(days=30 - n))
        if claimer == "member":
            wish.claimer_member_id = wish.claimed_by = members[n].id
        elif claimer == "unit":
            wish.claimer_unit_id = units[n % len(units)].id
            wish.claimed_by = unit_admins[n % len(units)].id
        if claimer:
            wish.claimed_at = now - timedelta(days=20 - n)
        if status in ("fulfilled", "completed"):
            wish.fulfil_note = "已完成，受助居民表示感谢"
            wish.fulfilled_at = now - timedelta(days=5)
        if status == "completed":
            wish.completed_at = now - timedelta(days=3)
        if status == "cancelled":
            wish.cancelled_at = now - timedelta(days=1)
        db.session.add(wish)
        created.append(wish)
    db.session.flush()
    for wish in created:
        if wish.claimed_by is None:
            continue
        notifications.notify(wish.claimed_by, "wish_claimed", f"您已认领微心愿：{wish.title}", ref=f"wish:{wish.id}")
        if wish.status == "completed":
            points.credit(wish.claimed_by, points.POINTS_PER_COMPLETED_WISH, "wish_completed",
                          f"wish:{wish.id}:completed")
            notifications.notify(wish.claimed_by, "wish_completed", f"微心愿已完成：{wish.title}",
                                 f"社区已确认，获得 {points.POINTS_PER_COMPLETED_WISH} 积分", ref=f"wish:{wish.id}",
                                 key=f"wish:{wish.id}:completed")
    return created


def _lists(ctx, now):
    communities, admins, units = ctx["communities"], ctx["community_admins"], ctx["units"]
    needs = [Need(community_id=communities[n % 2].id, title=title, category=category, source=source, status="open",
                  created_by=admins[n % 2].id) for n, (title, category, source) in enumerate(NEEDS)]
    resources = [
        Resource(owner_type="community", owner_id=communities[0].id, community_id=communities[0].id,
                 title="社区党群服务中心活动室", kind="venue", detail="可容纳 60 人，工作日晚间开放",
                 created_by=admins[0].id),
        Resource(owner_type="community", owner_id=communities[1].id, community_id=communities[1].id,
                 title="社区志愿服务队", kind="people", detail="常驻志愿者 20 人", created_by=admins[1].id),
        Resource(owner_type="unit", owner_id=units[0].id, community_id=units[0].community_id,
                 title="义诊与健康讲座", kind="service", detail="每月一次，内科与老年科医生",
                 created_by=ctx["unit_admins"][0].id),
        Resource(owner_type="unit", owner_id=units[4].id, community_id=units[4].community_id,
                 title="助老服务专项资金", kind="funds", detail="年度 2 万元", created_by=ctx["unit_admins"][4].id),
    ]
    db.session.add_all(needs + resources)
    db.session.flush()
    stamps = ("approved_at", "started_at", "finished_at")
    projects = []
    for n, status in enumerate(("proposed", "approved", "in_progress", "done")):
        community = communities[n % 2]
        own_needs = [need for need in needs if need.community_id == community.id][:1 + n % 2]
        own_resources = [r for r in resources if r.community_id == community.id]
        project = Project(community_id=community.id, title=f"{own_needs[0].title}项目", status=status,
                          created_by=admins[n % 2].id, needs=own_needs, resources=own_resources)
        # A project at step n has passed the first n steps, a few days apart.
        for step, stamp in enumerate(stamps[:n]):
            setattr(project, stamp, now - timedelta(days=10 - 3 * step))
        if status != "proposed":
            for need in own_needs:
                need.status = "met" if status == "done" else "matched"
        unit = next((u for u in units if u.community_id == community.id), None)
        if n % 2 == 1 and unit is not None:
            project.unit_id = unit.id
            project.claimed_by = ctx["unit_admins"][units.index(unit)].id
            project.claimed_at = now - timedelta(days=8)
        projects.append(project)
    db.session.add_all(projects)
    return needs, resources, projects


def _report_notifications(ctx):
    """Members whose report was approved were told so, under the same key the approval uses."""
    member_ids = [m.id for m in ctx["members"]]
    approved = db.session.execute(select(Report.id, Report.member_id).where(
        Report.member_id.in_(member_ids), Report.kind == "member", Report.status == "approved")).all()
    for report_id, member_id in approved:
        notifications.notify(member_id, "report_approved", "报到已通过", ref=f"report:{report_id}",
                             key=f"report:{report_id}:approved")
    return len(approved)


def seed(ctx):
    now, today = utcnow(), local_today()
    wishes = _wishes(ctx, now, today)
    needs, resources, projects = _lists(ctx, now)
    told = _report_notifications(ctx)
    db.session.flush()
    ctx.update(wishes=wishes, needs=needs, resources=resources, projects=projects)
    return {"wishes": len(wishes), "needs": len(needs), "resources": len(resources), "projects": len(projects),
            "report_notifications": told}
