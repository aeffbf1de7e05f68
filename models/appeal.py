from enum import StrEnum, nonmember

from sqlalchemy import Boolean, Date, Float, ForeignKey, Index, Integer, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from clock import utcnow
from extensions import db
from models.types import UTCDateTime, one_of_check, partial_index, sql_in

APPEAL_KINDS = ("problem", "suggestion", "request", "complaint")
# ``app``: raised by a member in the mini-program; the others are filed by community staff for a resident.
APPEAL_SOURCES = ("app", "hotline", "reception", "visit", "meeting")
STAFF_SOURCES = APPEAL_SOURCES[1:]
RATING_VIAS = ("app", "phone", "visit")


class AppealStatus(StrEnum):
    """submitted → accepted | rejected | withdrawn (the resident); accepted → escalated | resolved | rejected;
    escalated → accepted (the department answers, or the community recalls it); resolved → closed (rated, or
    7×24 h later)."""

    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    ESCALATED = "escalated"
    RESOLVED = "resolved"
    CLOSED = "closed"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    # In the community's hands with a due date: the overdue reminder looks among these.
    IN_WORK = nonmember((ACCEPTED, ESCALATED))
    REJECTABLE = nonmember((SUBMITTED, ACCEPTED))


class AppealAction(StrEnum):
    """The steps of an appeal's timeline."""

    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    CONVERTED = "converted"
    ESCALATED = "escalated"
    ANSWERED = "answered"
    RECALLED = "recalled"
    RESOLVED = "resolved"
    RATED = "rated"
    CLOSED = "closed"
    # What the resident sees of the timeline (escalation notes and answers are for staff and the department).
    SHOWN_TO_RESIDENT = nonmember((SUBMITTED, ACCEPTED, REJECTED, RESOLVED, RATED, CLOSED))


class EscalationStatus(StrEnum):
    """open → answered (the department) | recalled (the community)."""

    OPEN = "open"
    ANSWERED = "answered"
    RECALLED = "recalled"


ANSWER_OUTCOMES = ("handled", "not_ours")


class Appeal(db.Model):
    """A resident's appeal (居民诉求): a problem seen (随手拍), a suggestion (求计问策), a request or a complaint,
    raised in the mini-program or filed by staff from the 12345 hotline, a reception day, a visit or a meeting.

    ``response_due_at`` is the response deadline; ``due_at`` the instant the local ``due_date`` ends. ``responded_at``
    is the first acceptance or rejection, ``ended_at`` when it left the community's work (resolved, rejected,
    withdrawn): "late" and "overdue" compare those with the deadlines, so both stay true once earned."""

    __tablename__ = "appeals"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(16), unique=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("regions.id"))
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(100))
    content: Mapped[str] = mapped_column(Text)
    address: Mapped[str | None] = mapped_column(String(200))
    lat: Mapped[float | None] = mapped_column(Float)
    lng: Mapped[float | None] = mapped_column(Float)
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    source: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default=AppealStatus.SUBMITTED)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    resident_name: Mapped[str | None] = mapped_column(String(50))
    # Kept for the community's call-backs; never returned whole by any endpoint.
    resident_phone: Mapped[str | None] = mapped_column(String(20))
    work_order_no: Mapped[str | None] = mapped_column(String(40))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    response_due_at = mapped_column(UTCDateTime, nullable=False)
    responded_at = mapped_column(UTCDateTime)
    accepted_at = mapped_column(UTCDateTime)
    due_date = mapped_column(Date)
    due_at = mapped_column(UTCDateTime)
    # The latest escalation's department, and when the first one was made ("escalated" in the statistics: ever).
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    escalated_at = mapped_column(UTCDateTime)
    reply: Mapped[str | None] = mapped_column(Text)
    reject_reason: Mapped[str | None] = mapped_column(Text)
    duplicate_of: Mapped[str | None] = mapped_column(String(16))
    resolved_at = mapped_column(UTCDateTime)
    ended_at = mapped_column(UTCDateTime)
    closed_at = mapped_column(UTCDateTime)
    rating_score: Mapped[int | None] = mapped_column(SmallInteger)
    rating_comment: Mapped[str | None] = mapped_column(Text)
    rating_via: Mapped[str | None] = mapped_column(String(8))
    rated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    rated_at = mapped_column(UTCDateTime)
    late_notified_at = mapped_column(UTCDateTime)
    overdue_notified_at = mapped_column(UTCDateTime)

    __table_args__ = (
        one_of_check("status", AppealStatus),
        one_of_check("kind", APPEAL_KINDS),
        one_of_check("source", APPEAL_SOURCES),
        # A community's list newest first, and the statistics' submissions of a community by date.
        Index("ix_appeals_community_created", "community_id", "created_at", "id"),
        Index("ix_appeals_member_created", "member_id", "created_at", "id"),
        # A 12345 work order is filed once per community; the index decides between simultaneous filings.
        Index("uq_appeals_community_work_order", "community_id", "work_order_no", unique=True,
              **partial_index("work_order_no IS NOT NULL")),
        # The reminder job's two deadlines and the closing job, each over the few appeals still concerned.
        Index("ix_appeals_unanswered_due", "response_due_at",
              **partial_index(sql_in("status", (AppealStatus.SUBMITTED,)))),
        Index("ix_appeals_in_work_due", "due_at", **partial_index(sql_in("status", AppealStatus.IN_WORK))),
        Index("ix_appeals_resolved_at", "resolved_at",
              **partial_index(sql_in("status", (AppealStatus.RESOLVED,)))),
    )

    @property
    def location(self):
        if self.lat is None and self.address is None:
            return None
        return {"address": self.address, "lat": self.lat, "lng": self.lng}


class AppealEscalation(db.Model):
    """One whistle blown (吹哨) to a department; the department's answer (报到) or the community's recall ends it.
    ``due_date`` is the department's deadline to answer (``due_at`` the instant it ends)."""

    __tablename__ = "appeal_escalations"

    id: Mapped[int] = mapped_column(primary_key=True)
    appeal_id: Mapped[int] = mapped_column(ForeignKey("appeals.id"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    status: Mapped[str] = mapped_column(String(16), default=EscalationStatus.OPEN)
    note: Mapped[str] = mapped_column(Text)
    due_date = mapped_column(Date, nullable=False)
    due_at = mapped_column(UTCDateTime, nullable=False)
    escalated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    escalated_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    answer: Mapped[str | None] = mapped_column(Text)
    outcome: Mapped[str | None] = mapped_column(String(16))
    answered_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    answered_at = mapped_column(UTCDateTime)
    recall_reason: Mapped[str | None] = mapped_column(Text)
    recalled_at = mapped_column(UTCDateTime)
    overdue_notified_at = mapped_column(UTCDateTime)

    __table_args__ = (
        one_of_check("status", EscalationStatus),
        Index("ix_appeal_escalations_open_due", "due_at", **partial_index(sql_in("status", (EscalationStatus.OPEN,)))),
    )


class AppealDepartment(db.Model):
    """Each department an appeal was ever escalated to, once, with the appeal's submission time: what a department
    sees, and its list newest first read from one index (a join from the escalations would read them all, and then
    the appeals, to sort a page)."""

    __tablename__ = "appeal_departments"

    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), primary_key=True)
    appeal_id: Mapped[int] = mapped_column(ForeignKey("appeals.id"), primary_key=True)
    appeal_created_at = mapped_column(UTCDateTime, nullable=False)

    __table_args__ = (Index("ix_appeal_departments_department_created", "department_id", "appeal_created_at",
                            "appeal_id"),)


class AppealEvent(db.Model):
    """One step of an appeal's timeline; steps are only ever added. ``actor_role`` says whose step it is
    (``resident``, ``staff``, ``department``, ``system``), which decides the name each viewer is shown."""

    __tablename__ = "appeal_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    appeal_id: Mapped[int] = mapped_column(ForeignKey("appeals.id"))
    action: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_role: Mapped[str] = mapped_column(String(16))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    note: Mapped[str | None] = mapped_column(Text)
    at = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    __table_args__ = (one_of_check("action", AppealAction), Index("ix_appeal_events_appeal_id", "appeal_id", "id"))


class AppealNumberCounter(db.Model):
    """The last appeal number given on a local date: numbers are ``YYYYMMDD-NNNN``, one upsert each, so
    simultaneous filings get distinct numbers and none is ever given twice."""

    __tablename__ = "appeal_number_counters"

    day = mapped_column(Date, primary_key=True)
    last: Mapped[int] = mapped_column(Integer)
