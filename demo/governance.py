"""Co-governance at 和平里社区: its five partners (五方共建) and, as 社会治理合伙人, a unit and a street department; a
year of monthly joint meetings with one month missing (so ``GET /stats/governance`` and ``remind_joint_meeting``
have something to say); a consultation on the lift project that ended in a unanimous vote; tasks open, overdue and
done; a convention in two versions. Made through the services, as the console would, then dated as it happened."""

from datetime import datetime, time, timedelta

from sqlalchemy import func, select

from clock import as_utc, local_today
from extensions import db
from models import Meeting, MeetingDecision, MeetingMinutes, MeetingTask, Project
from services import conventions, meetings, partners, tasks
from services.authz import Actor

PARTNERS = (
    # (role, name, contact name, contact phone)
    ("party_branch", "和平里社区党支部", "刘书记", "010-64010001"),
    ("residents_committee", "和平里社区居民委员会", "陈主任", "010-64010002"),
    ("property_company", "安居物业服务有限公司和平里项目部", "张经理", "010-64010003"),
    ("owners_committee", "和平里小区业主委员会", "王主任", "13910010004"),
    ("social_org", "和平社工事务所", "李社工", "13910010005"),
)
MISSING_MONTHS_AGO = 3
JOINT_TOPICS = ("楼道堆物清理", "垃圾分类桶站值守", "电动车充电安全", "雨季排水", "冬季供暖", "小区绿化补种",
                "停车秩序", "老旧小区改造", "消防通道畅通", "节日安全", "物业费收缴与公开", "文明养犬")
CONVENTION_V1 = ("一、社区党组织是主心骨，居委会是组织者，全体业主是当家人，物业公司是大管家，上级职能部门是后援团，"
                 "驻区单位是共建者。\n二、五方联席会每月至少召开一次，由社区党支部书记召集。\n"
                 "三、楼道不堆物，垃圾分类投放，车辆有序停放。")
CONVENTION_V2 = CONVENTION_V1 + ("\n四、电动车不进楼入户，在集中充电点充电。"
                                 "\n五、事事有协商，事事有回应：议定事项公示到楼门。")


def _month_start(today, months_ago):
    year, month = today.year, today.month - months_ago
    while month < 1:
        year, month = year - 1, month + 12
    return today.replace(year=year, month=month, day=1)


def _at(day, hour=15):
    return as_utc(datetime.combine(day, time(hour)))


def _dated(meeting, recorded_at):
    """As if the minutes were written the evening of the meeting."""
    meeting.held_at = meeting.minutes_updated_at = recorded_at
    for version in db.session.scalars(select(MeetingMinutes).where(MeetingMinutes.meeting_id == meeting.id)):
        version.recorded_at = recorded_at


def _decisions_of(meeting):
    """A held meeting's decisions and tasks as the minutes write them (for a correction that keeps them)."""
    tasks_of = {}
    for task in db.session.scalars(select(MeetingTask).where(MeetingTask.meeting_id == meeting.id)
                                   .order_by(MeetingTask.decision_index, MeetingTask.position)):
        tasks_of.setdefault(task.decision_index, []).append(
            {"title": task.title, "owner_partner_id": task.owner_partner_id, "due_date": task.due_date})
    return [{"agenda_index": d.agenda_index, "text": d.text, "votes": d.votes, "tasks": tasks_of.get(d.position, [])}
            for d in db.session.scalars(select(MeetingDecision).where(MeetingDecision.meeting_id == meeting.id)
                                        .order_by(MeetingDecision.position))]


def seed(ctx):
    community, staff = ctx["communities"][0], ctx["community_admins"][0]
    actor = Actor(staff.id)
    today = local_today()
    made = [partners.create_partner(actor, community_id=community.id, name=name, role=role, contact_name=contact,
                                    contact_phone=phone) for role, name, contact, phone in PARTNERS]
    hospital = next(u for u in ctx["units"] if u.community_id == community.id)
    made.append(partners.create_partner(actor, community_id=community.id, name=f"{hospital.name}党支部", role="unit",
                                        unit_id=hospital.id, contact_name="赵书记", contact_phone="010-64010006"))
    department = ctx["departments"][0]
    made.append(partners.create_partner(actor, community_id=community.id, name=department.name, role="department",
                                        department_id=department.id, contact_name="孙科长",
                                        contact_phone="010-64010007"))
    party, committee, property_company, owners, social, unit_partner, city = made
    five = [p.id for p in made[:5]]
    members = ctx["members"]

    # A year of monthly joint meetings, on the 10th; one month missing. This month's is still to come before the 10th.
    held = []
    for months_ago in range(11, -1, -1):
        if months_ago == MISSING_MONTHS_AGO:
            continue
        day = _month_start(today, months_ago) + timedelta(days=9)
        topic = JOINT_TOPICS[day.month - 1]
        meeting = meetings.schedule_meeting(
            actor, community_id=community.id, kind="joint", title=f"{day.month}月五方联席会：{topic}",
            starts_at=_at(day), place="和平里社区党群服务中心二楼会议室", partner_ids=five,
            agenda=[{"title": topic}, {"title": "上月议定事项落实情况"}])
        if day > today:
            continue
        due = day + timedelta(days=30)
        meetings.record_minutes(
            actor, meeting.id,
            summary=f"社区党支部书记主持召开五方联席会，围绕“{topic}”协商，通报上月议定事项落实情况。",
            attendance=[{"partner_id": i} for i in five] + [{"member_id": members[day.month % 10].id},
                                                            {"name": "楼门长代表"}],
            decisions=[{"agenda_index": 0, "text": f"{topic}：由物业公司牵头、居委会配合，一个月内完成。",
                        "tasks": [{"title": f"{topic}落实方案", "owner_partner_id": property_company.id,
                                   "due_date": due}]},
                       {"agenda_index": 1, "text": "上月议定事项已基本落实，未完成事项继续跟进。"}])
        _dated(meeting, _at(day, 18))
        held.append(meeting)
    # The minutes of one meeting corrected: a second version with its reason.
    first = held[0]
    attendance = [{key: value for key, value in entry.items() if value is not None} for entry in first.attendance]
    meetings.correct_minutes(actor, first.id, reason="补记列席的驻区单位",
                             summary=first.summary + "驻区医院党支部列席。",
                             attendance=[*attendance, {"partner_id": unit_partner.id}], decisions=_decisions_of(first))

    # The consultation on the lift (议事协商会), which ended in a unanimous vote.
    project = db.session.scalar(select(Project).where(Project.community_id == community.id,
                                                      Project.appeal_id.is_not(None)).limit(1))
    need_id = project.need_ids[0] if project is not None and project.need_ids else None
    day = today - timedelta(days=45)
    consultation = meetings.schedule_meeting(
        actor, community_id=community.id, kind="consultation", title="多层住宅加装电梯议事协商会",
        starts_at=_at(day, 19), place="和平里社区居民议事厅", partner_ids=[*five, unit_partner.id, city.id],
        agenda=[{"title": "加装电梯方案表决", "need_id": need_id, "project_id": project.id if project else None},
                {"title": "施工期间出行安排"}])
    meetings.record_minutes(
        actor, consultation.id,
        summary="第 18 次议事协商会：业主代表、物业、业委会与街道城管办共同审议加装电梯方案，全体业主代表一致同意。",
        attendance=[{"partner_id": i} for i in (*five, unit_partner.id, city.id)]
        + [{"member_id": m.id} for m in members[:6]] + [{"name": "3号楼业主代表"}],
        decisions=[{"agenda_index": 0, "text": "加装电梯方案获全票通过，报街道备案后启动施工。",
                    "votes": {"for": 45, "against": 0, "abstain": 0},
                    "tasks": [{"title": "出具施工方案并公示", "owner_partner_id": property_company.id,
                               "due_date": day + timedelta(days=20)},
                              {"title": "组织志愿者入户讲解方案", "owner_partner_id": unit_partner.id,
                               "due_date": day + timedelta(days=14)},
                              {"title": "协调施工期间临时停车", "owner_partner_id": city.id,
                               "due_date": today + timedelta(days=20)}]},
                   {"agenda_index": 1, "text": "施工期间由业委会和社工组织老人出行帮扶。",
                    "tasks": [{"title": "建立出行帮扶志愿者名单", "owner_partner_id": social.id,
                               "due_date": today + timedelta(days=10)}]}])
    _dated(consultation, _at(day, 21))
    decision_id = db.session.scalar(select(MeetingTask.decision_id).where(
        MeetingTask.meeting_id == consultation.id, MeetingTask.decision_index == 0).limit(1))
    if project is not None:
        # The project was approved on this decision (确定项目 after 讨论协商).
        project.decision_id = decision_id
    # Tasks: the volunteers' visits done; the construction plan overdue; the rest open.
    for task in db.session.scalars(select(MeetingTask).where(MeetingTask.meeting_id == consultation.id,
                                                             MeetingTask.title == "组织志愿者入户讲解方案")):
        tasks.complete_task(actor, task.id, note="医院党员志愿者分 6 组入户讲解，覆盖 3 号楼全部 48 户")
    for meeting in held[:-2]:
        for task in db.session.scalars(select(MeetingTask).where(MeetingTask.meeting_id == meeting.id)):
            tasks.complete_task(actor, task.id, note="已按期完成，结果在楼门公示栏公示")

    # A reception day still to come.
    meetings.schedule_meeting(actor, community_id=community.id, kind="reception", title="居民接待日",
                              starts_at=_at(today + timedelta(days=5), 9), place="和平里社区服务站",
                              partner_ids=[party.id, committee.id, owners.id], agenda=[{"title": "听取居民意见"}])

    # The convention, in two versions.
    convention = conventions.create_convention(actor, community_id=community.id, title="和平里社区治理合伙人公约",
                                               text=CONVENTION_V1, partner_ids=five)
    conventions.revise_convention(actor, convention.id, title="和平里社区治理合伙人公约（修订）", text=CONVENTION_V2,
                                  partner_ids=[*five, unit_partner.id, city.id],
                                  reason="加装电梯协商后增加电动车和议事公开条款，驻区医院和街道城管办加入")
    db.session.flush()
    count = db.session.scalar(select(func.count()).select_from(Meeting).where(Meeting.community_id == community.id))
    return {"partners": len(made), "meetings": count, "conventions": 1}
