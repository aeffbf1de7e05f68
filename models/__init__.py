"""All models, imported so that metadata and Alembic see every table."""

from models.activity import Activity, ScreenLink, Signup
from models.appeal import Appeal, AppealDepartment, AppealEscalation, AppealEvent, AppealNumberCounter
from models.attendance import Attendance
from models.certificate import Certificate
from models.department import Department
from models.governance import (
    AgendaItem,
    Convention,
    ConventionVersion,
    Meeting,
    MeetingDecision,
    MeetingMinutes,
    MeetingTask,
    Partner,
)
from models.holiday import OfficialCalendar
from models.moderation import ModerationItem
from models.need import Need
from models.notification import Notification, OutboundMessage
from models.points import PointsEntry
from models.post import PoolMembership, Post, Shift, ShiftAssignment, ShiftTemplate
from models.project import Project
from models.record import CorrectionRequest, RecordChange, ServiceRecord
from models.region import Region, Unit
from models.report import Feedback, Report
from models.resource import Resource
from models.shared_value import SharedValue
from models.stats import StatsSnapshot
from models.upload import Upload
from models.user import AuthSession, LoginAttempt, RoleAssignment, User
from models.wish import Wish

__all__ = [
    "Activity", "Appeal", "AppealDepartment", "AppealEscalation", "AppealEvent", "AppealNumberCounter", "Attendance",
    "AuthSession", "Certificate", "CorrectionRequest", "Department", "Feedback", "LoginAttempt", "ModerationItem",
    "Need", "Notification", "OfficialCalendar", "OutboundMessage", "PointsEntry", "PoolMembership", "Post", "Project",
    "RecordChange", "Region", "Report", "Resource", "RoleAssignment", "ScreenLink", "ServiceRecord", "SharedValue",
    "Shift", "ShiftAssignment", "ShiftTemplate", "Signup", "StatsSnapshot", "Unit", "Upload", "User", "Wish",
    # Co-governance
    "AgendaItem", "Convention", "ConventionVersion", "Meeting", "MeetingDecision", "MeetingMinutes", "MeetingTask",
    "Partner",
]
