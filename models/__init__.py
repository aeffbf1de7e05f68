"""All models, imported so that metadata and Alembic see every table."""

from models.activity import Activity, ScreenLink, Signup
from models.appeal import Appeal, AppealDepartment, AppealEscalation, AppealEvent, AppealNumberCounter
from models.attendance import Attendance
from models.background_job import BackgroundJob
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
from models.notification import Notification, OutboundMessage, SubscriptionGrant, WxaCode
from models.points import PointsEntry
from models.post import PoolMembership, Post, Shift, ShiftAssignment, ShiftSwap, ShiftTemplate
from models.project import Project
from models.record import CorrectionRequest, RecordChange, ServiceRecord
from models.region import Region, Unit
from models.report import Feedback, Report
from models.resource import Resource
from models.shared_value import SharedValue
from models.stats import (
    CommunityReportCounts,
    CommunityYearDetails,
    CommunityYearFigures,
    RegionYearUnits,
    RegionYearVolunteers,
    UnitYear,
    VolunteerYear,
)
from models.team import Team, TeamEvent, TeamMember
from models.upload import Upload
from models.user import AuthSession, LoginAttempt, RoleAssignment, User
from models.wish import Wish

__all__ = [
    "Activity", "Appeal", "AppealDepartment", "AppealEscalation", "AppealEvent", "AppealNumberCounter", "Attendance",
    "AgendaItem", "AuthSession", "BackgroundJob", "Certificate", "CommunityReportCounts", "CommunityYearDetails",
    "CommunityYearFigures",
    "Convention", "ConventionVersion", "CorrectionRequest", "Department", "Feedback", "LoginAttempt", "Meeting",
    "MeetingDecision", "MeetingMinutes", "MeetingTask", "ModerationItem", "Need", "Notification", "OfficialCalendar",
    "OutboundMessage", "Partner", "PointsEntry", "PoolMembership", "Post", "Project", "RecordChange", "Region",
    "RegionYearUnits", "RegionYearVolunteers", "Report", "Resource", "RoleAssignment", "ScreenLink", "ServiceRecord",
    "SharedValue", "Shift", "ShiftAssignment", "ShiftSwap", "ShiftTemplate", "Signup", "SubscriptionGrant", "Team",
    "TeamEvent", "TeamMember", "Unit", "UnitYear", "Upload", "User", "VolunteerYear", "Wish", "WxaCode",
]
