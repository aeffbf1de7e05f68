"""A year of co-governance for every seeded community, bulk-written by the seeder's ``Writer``: six partners (the
five of 五方共建 and a unit), and for each of the last twelve local months a joint meeting (a tenth of the
communities skip one month), a consultation and a reception day. Meetings already past are held, with a two-item
agenda, the minutes (version 1), two decisions (the first with a vote) and two tasks; most tasks due before today
are done, the rest open, so ``status=overdue`` has rows to find. Meetings later this month are scheduled.

At the city preset (300 communities): 1,800 partners, about 10,800 meetings, 21,000 decisions and tasks.
"""

import random
from datetime import datetime, time, timedelta

from clock import as_utc, local_today
from models import AgendaItem, Meeting, MeetingDecision, MeetingMinutes, MeetingTask, Partner
from models.governance import FIVE_PARTIES

MONTHS = 12
# (kind, local day of the month, hour)
MONTHLY = (("joint", 10, 15), ("consultation", 18, 19), ("reception", 25, 9))


def _months_back(today, months):
    year, month = today.year, today.month - months
    while month < 1:
        year, month = year - 1, month + 12
    return year, month


def governance_rows(w, *, community_ids, units_of, first_member, members, now, seed):
    """Write the partners, meetings, agenda items, minutes, decisions and tasks of ``community_ids``."""
    rng = random.Random(seed + 20)
    today = local_today()
    first_partner = w.next_id(Partner)
    partners, owners = [], {}
    for community_id in community_ids:
        roles = [*FIVE_PARTIES, "unit"]
        for n, role in enumerate(roles):
            partner_id = first_partner + len(partners)
            partners.append(dict(id=partner_id, community_id=community_id, name=f"基准共建方{community_id}-{n}",
                                 role=role, unit_id=units_of[community_id][0] if role == "unit" else None,
                                 department_id=None, contact_name="联络人", contact_phone="010-64001234",
                                 created_by=None, created_at=now, updated_at=None, removed_at=None))
            owners.setdefault(community_id, []).append(partner_id)
    w.write(Partner, partners)

    ids = {model: w.next_id(model) for model in (Meeting, AgendaItem, MeetingMinutes, MeetingDecision, MeetingTask)}
    rows = {model: [] for model in ids}

    def add(model, **row):
        row["id"] = ids[model] + len(rows[model])
        rows[model].append(row)
        return row["id"]

    for community_id in community_ids:
        skipped = rng.randrange(MONTHS) if rng.random() < 0.1 else None
        five = owners[community_id][:5]
        for months in range(MONTHS - 1, -1, -1):
            year, month = _months_back(today, months)
            for kind, day, hour in MONTHLY:
                if kind == "joint" and months == skipped:
                    continue
                local_day = datetime(year, month, day).date()
                starts = as_utc(datetime.combine(local_day, time(hour)))
                held = local_day < today
                member = first_member + rng.randrange(members)
                attendance = [{"partner_id": p, "member_id": None, "name": None} for p in five] + [
                    {"partner_id": None, "member_id": member, "name": None},
                    {"partner_id": None, "member_id": None, "name": "楼门长"}] if held else []
                meeting_id = add(Meeting, community_id=community_id, kind=kind, title=f"基准{kind}会议{month}月",
                                 starts_at=starts, place="社区党群服务中心", status="held" if held else "scheduled",
                                 partner_ids=five, summary="基准会议纪要" if held else None, attendance=attendance,
                                 minutes_version=1 if held else 0, decision_count=2 if held else 0,
                                 held_at=starts + timedelta(hours=2) if held else None,
                                 minutes_updated_at=starts + timedelta(hours=2) if held else None,
                                 cancel_reason=None, cancelled_at=None, created_by=None, created_at=now)
                for position in (0, 1):
                    add(AgendaItem, meeting_id=meeting_id, position=position, title=f"议题{position + 1}",
                        appeal_id=None, need_id=None, project_id=None)
                if not held:
                    continue
                votes = (rng.randrange(10, 40), rng.randrange(3), rng.randrange(3))
                decisions = []
                for position in (0, 1):
                    decisions.append(add(MeetingDecision, meeting_id=meeting_id, position=position,
                                         agenda_index=position, text=f"基准决定{position + 1}",
                                         votes_for=votes[0] if position == 0 else None,
                                         votes_against=votes[1] if position == 0 else None,
                                         votes_abstain=votes[2] if position == 0 else None, created_at=now))
                specs = []
                for position in (0, 1):
                    due = local_day + timedelta(days=rng.randrange(14, 45))
                    done = due < today and rng.random() < 0.7
                    owner = rng.choice(owners[community_id])
                    add(MeetingTask, community_id=community_id, meeting_id=meeting_id, meeting_starts_at=starts,
                        decision_id=decisions[0], decision_index=0, position=position, title=f"基准任务{position + 1}",
                        owner_partner_id=owner, due_date=due, status="done" if done else "open",
                        note="已办结" if done else None, done_by=None, done_at=now if done else None,
                        overdue_notified_at=now if due < today else None, created_at=now)
                    specs.append({"title": f"基准任务{position + 1}", "owner_partner_id": owner,
                                  "due_date": due.isoformat()})
                add(MeetingMinutes, meeting_id=meeting_id, version=1, summary="基准会议纪要", attendance=attendance,
                    decisions=[{"agenda_index": 0, "text": "基准决定1", "tasks": specs,
                                "votes": {"for": votes[0], "against": votes[1], "abstain": votes[2]}},
                               {"agenda_index": 1, "text": "基准决定2", "votes": None, "tasks": []}],
                    reason=None, recorded_by=None, recorded_at=starts + timedelta(hours=2))
    for model in (Meeting, AgendaItem, MeetingMinutes, MeetingDecision, MeetingTask):
        w.write(model, rows[model])
    w.finish([Partner, Meeting, AgendaItem, MeetingMinutes, MeetingDecision, MeetingTask])
