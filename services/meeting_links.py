"""What links a meeting to the appeals, needs and projects on its agenda: the meetings about each (``"meetings"`` on
``GET /appeals/{id}``, ``/needs/{id}`` and ``/projects/{id}``), and the decision a project's approval cites.

Models only (no other service): appeals, needs and projects read it, and the meetings' own service builds on it.

- The meetings about an object are those not cancelled with the object on their agenda, by start; their decisions
  are the ones taken on those agenda items (``agenda_index`` pointing at an item about the object). Anyone who may
  see the object sees them: titles, times and what was decided are public (议事结果公开).
- A project's approval may cite a decision: of a held meeting of the project's community that had the project or
  one of its needs on its agenda (422 naming ``decision_id`` otherwise).
"""

from sqlalchemy import or_, select

from errors import ValidationFailed
from extensions import db
from models import AgendaItem, Meeting, MeetingDecision
from models.governance import MeetingStatus
from services.database import find

AGENDA_COLUMNS = {"appeal": AgendaItem.appeal_id, "need": AgendaItem.need_id, "project": AgendaItem.project_id}


def meetings_about(kind, object_ids):
    """``{object id: [{"id", "title", "starts_at", "decisions": [{"id", "text"}]}]}`` in three queries, whatever
    the number of objects."""
    about = {i: [] for i in object_ids}
    if not object_ids:
        return about
    column = AGENDA_COLUMNS[kind]
    rows = db.session.execute(
        select(column, AgendaItem.position, Meeting.id, Meeting.title, Meeting.starts_at)
        .join(Meeting, Meeting.id == AgendaItem.meeting_id)
        .where(column.in_(list(object_ids)), Meeting.status != MeetingStatus.CANCELLED)
        .order_by(Meeting.starts_at, Meeting.id, AgendaItem.position)).all()
    positions = {}
    for object_id, position, meeting_id, title, starts_at in rows:
        positions.setdefault((object_id, meeting_id), (title, starts_at, set()))[2].add(position)
    decisions = {}
    meeting_ids = {meeting_id for _object_id, meeting_id in positions}
    if meeting_ids:
        for decision in db.session.scalars(select(MeetingDecision).where(
                MeetingDecision.meeting_id.in_(meeting_ids), MeetingDecision.agenda_index.is_not(None))
                .order_by(MeetingDecision.meeting_id, MeetingDecision.position)):
            decisions.setdefault(decision.meeting_id, []).append(decision)
    for (object_id, meeting_id), (title, starts_at, items) in positions.items():
        about[object_id].append({
            "id": meeting_id, "title": title, "starts_at": starts_at,
            "decisions": [{"id": d.id, "text": d.text} for d in decisions.get(meeting_id, ())
                          if d.agenda_index in items]})
    return about


def decision_field(decision_id):
    """The decision a body's ``decision_id`` names, or 422."""
    decision = find(MeetingDecision, decision_id)
    if decision is None:
        raise ValidationFailed({"decision_id": ["决定不存在"]})
    return decision


def check_decision_chose(decision, project):
    """422 naming ``decision_id`` unless the decision is of a held meeting of the project's community that had the
    project or one of its needs on its agenda."""
    meeting = db.session.get(Meeting, decision.meeting_id)
    about_it = [AgendaItem.project_id == project.id]
    if project.need_ids:
        about_it.append(AgendaItem.need_id.in_(project.need_ids))
    on_agenda = db.session.scalar(select(AgendaItem.id).where(
        AgendaItem.meeting_id == meeting.id, or_(*about_it)).limit(1)) is not None
    if meeting.status != MeetingStatus.HELD or meeting.community_id != project.community_id or not on_agenda:
        raise ValidationFailed({"decision_id": ["须为本社区已召开、议程中有该项目或其需求的会议所作的决定"]})
