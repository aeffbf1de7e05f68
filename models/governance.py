"""Co-governance (五方共建, 社会治理合伙人, 议事协商): a community's partners, its meetings with their agendas, minutes
(versioned), decisions and tasks, and its conventions (社区公约), versioned too.

A meeting's minutes are recorded once (version 1) and then corrected, each correction a new version with its reason;
``meeting_minutes`` keeps every version, the meeting row the current one. Decisions and tasks are rows of their own,
kept by their position in the minutes: a correction rewords them in place, so an id cited elsewhere (a project
approved on a decision) and a task's status survive it.
"""

from enum import StrEnum, nonmember

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from clock import utcnow
from extensions import db
from models.types import UTCDateTime, one_of_check, partial_index, sql_in

# The five of 五方共建 first (party branch, residents' committee, property company, owners' committee, social
# organisations), then the other parties a 社区公约 may name: a street's or district's department (上级职能部门),
# a work unit (共建单位), anyone else.
PARTNER_ROLES = ("party_branch", "residents_committee", "property_company", "owners_committee", "social_org",
                 "department", "unit", "other")
FIVE_PARTIES = PARTNER_ROLES[:5]
# joint: 五方联席会; consultation: 议事协商会; reception: 居民接待日; hearing: 听证会.
MEETING_KINDS = ("joint", "consultation", "reception", "hearing")


class MeetingStatus(StrEnum):
    """scheduled → held (its minutes are recorded) | cancelled (with a reason). A scheduled meeting may be
    rescheduled; a held one's minutes corrected."""

    SCHEDULED = "scheduled"
    HELD = "held"
    CANCELLED = "cancelled"
    # On the community's calendar: what the monthly joint-meeting reminder looks for.
    ON_CALENDAR = nonmember((SCHEDULED, HELD))


class TaskStatus(StrEnum):
    """open → done (with a note), once."""

    OPEN = "open"
    DONE = "done"


class Partner(db.Model):
    """A party to the community's co-governance, with its role; a unit partner links to its unit, a department
    partner to its department. Its contact is an organisation's public line. Removing one keeps the row (meetings,
    tasks and conventions name it) and takes it off the community's list."""

    __tablename__ = "partners"

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("regions.id"))
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(24))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    contact_name: Mapped[str | None] = mapped_column(String(50))
    contact_phone: Mapped[str | None] = mapped_column(String(20))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    updated_at = mapped_column(UTCDateTime)
    removed_at = mapped_column(UTCDateTime)

    __table_args__ = (one_of_check("role", PARTNER_ROLES), Index("ix_partners_community_id", "community_id", "id"))


class Meeting(db.Model):
    """A joint meeting, consultation, reception day or hearing of one community. ``summary`` and ``attendance`` are
    the current minutes (``minutes_version`` of them; 0 before any); ``partner_ids`` the partners invited."""

    __tablename__ = "meetings"

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("regions.id"))
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(200))
    starts_at = mapped_column(UTCDateTime, nullable=False)
    place: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default=MeetingStatus.SCHEDULED)
    partner_ids: Mapped[list] = mapped_column(JSON, default=list)
    summary: Mapped[str | None] = mapped_column(Text)
    attendance: Mapped[list] = mapped_column(JSON, default=list)
    minutes_version: Mapped[int] = mapped_column(Integer, default=0)
    # How many decisions the current minutes hold: the figures count them without reading the decisions.
    decision_count: Mapped[int] = mapped_column(Integer, default=0)
    held_at = mapped_column(UTCDateTime)
    minutes_updated_at = mapped_column(UTCDateTime)
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    cancelled_at = mapped_column(UTCDateTime)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    __table_args__ = (
        one_of_check("status", MeetingStatus),
        one_of_check("kind", MEETING_KINDS),
        # A community's meetings newest first, a page read from the index.
        Index("ix_meetings_community_starts", "community_id", "starts_at", "id"),
        # A community's joint meetings of a month or a year: the figures and the monthly reminder.
        Index("ix_meetings_community_kind_starts", "community_id", "kind", "starts_at"),
    )


class AgendaItem(db.Model):
    """One item of a meeting's agenda, at ``position`` (0-based: a decision's ``agenda_index``), perhaps about an
    appeal, a need or a project of the community (what those show as the meetings about them)."""

    __tablename__ = "meeting_agenda_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"))
    position: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    appeal_id: Mapped[int | None] = mapped_column(ForeignKey("appeals.id"))
    need_id: Mapped[int | None] = mapped_column(ForeignKey("needs.id"))
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id"))

    __table_args__ = (
        UniqueConstraint("meeting_id", "position"),
        Index("ix_meeting_agenda_items_appeal_id", "appeal_id", **partial_index("appeal_id IS NOT NULL")),
        Index("ix_meeting_agenda_items_need_id", "need_id", **partial_index("need_id IS NOT NULL")),
        Index("ix_meeting_agenda_items_project_id", "project_id", **partial_index("project_id IS NOT NULL")),
    )


class MeetingMinutes(db.Model):
    """One version of a meeting's minutes, as recorded (version 1) or corrected (with its reason); only ever added.
    The unique version per meeting decides between simultaneous writers."""

    __tablename__ = "meeting_minutes"

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"))
    version: Mapped[int] = mapped_column(Integer)
    summary: Mapped[str] = mapped_column(Text)
    attendance: Mapped[list] = mapped_column(JSON, default=list)
    decisions: Mapped[list] = mapped_column(JSON, default=list)
    reason: Mapped[str | None] = mapped_column(Text)
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    recorded_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    __table_args__ = (UniqueConstraint("meeting_id", "version"),)


class MeetingDecision(db.Model):
    """A decision of a held meeting, at ``position`` in its minutes, with the vote if one was taken."""

    __tablename__ = "meeting_decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"))
    position: Mapped[int] = mapped_column(Integer)
    agenda_index: Mapped[int | None] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    votes_for: Mapped[int | None] = mapped_column(Integer)
    votes_against: Mapped[int | None] = mapped_column(Integer)
    votes_abstain: Mapped[int | None] = mapped_column(Integer)
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    __table_args__ = (UniqueConstraint("meeting_id", "position"),)

    @property
    def votes(self):
        if self.votes_for is None:
            return None
        return {"for": self.votes_for, "against": self.votes_against, "abstain": self.votes_abstain}


class MeetingTask(db.Model):
    """A task a decision gave a partner, due by a local date; done once, with a note (``事事有回应``).
    ``community_id`` and ``meeting_starts_at`` are the (held, so settled) meeting's: a community's tasks by status
    and due date are one index, and the figures count a year's open tasks without reading the meetings."""

    __tablename__ = "meeting_tasks"

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("regions.id"))
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"), index=True)
    meeting_starts_at = mapped_column(UTCDateTime, nullable=False)
    decision_id: Mapped[int] = mapped_column(ForeignKey("meeting_decisions.id"))
    decision_index: Mapped[int] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    owner_partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"), index=True)
    due_date = mapped_column(Date, nullable=False)
    status: Mapped[str] = mapped_column(String(8), default=TaskStatus.OPEN)
    note: Mapped[str | None] = mapped_column(Text)
    done_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    done_at = mapped_column(UTCDateTime)
    overdue_notified_at = mapped_column(UTCDateTime)
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    __table_args__ = (
        one_of_check("status", TaskStatus),
        UniqueConstraint("decision_id", "position"),
        # A community's open (or overdue) tasks by due date.
        Index("ix_meeting_tasks_community_status_due", "community_id", "status", "due_date", "id"),
        # The overdue reminder, over the open tasks it has not told of yet (a list of open tasks has no use for it).
        Index("ix_meeting_tasks_open_due", "due_date",
              **partial_index(sql_in("status", (TaskStatus.OPEN,)) + " AND overdue_notified_at IS NULL")),
    )


class Convention(db.Model):
    """A community convention (社区公约) in its latest version; ``partner_ids`` the partners who subscribe to it."""

    __tablename__ = "conventions"

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    partner_ids: Mapped[list] = mapped_column(JSON, default=list)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    updated_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)


class ConventionVersion(db.Model):
    """Every version of a convention, the first included; only ever added."""

    __tablename__ = "convention_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    convention_id: Mapped[int] = mapped_column(ForeignKey("conventions.id"))
    version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    partner_ids: Mapped[list] = mapped_column(JSON, default=list)
    reason: Mapped[str | None] = mapped_column(Text)
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    recorded_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    __table_args__ = (UniqueConstraint("convention_id", "version"),)
