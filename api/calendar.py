from flask_jwt_extended import jwt_required
from marshmallow import Schema, fields, validate

from api.blueprint import Blueprint
from api.fields import Integer, LocalDate
from api.security import allowed, current_actor
from services import holidays
from services.authz import require_sysadmin

blp = Blueprint("calendar", __name__, url_prefix="/api/v1/calendar",
                description="China's official holiday calendar (法定节假日, 调休上班) that rosters follow")

# A year has at most 366 days; more is no arrangement.
DAYS = validate.Length(max=366)


class CalendarSchema(Schema):
    """A year's official calendar. ``holidays`` are the statutory days off (weekdays and weekends alike),
    ``workdays`` the make-up workdays (调休上班); both ISO dates of that year, sorted. ``source``: ``official`` (entered
    here, or from HOLIDAY_CALENDAR_FILE), ``package`` (the chinese_calendar package), ``none`` (no source knows the
    year: templates that skip holidays run Monday to Friday)."""

    year = Integer(dump_only=True)
    source = fields.String(dump_only=True, validate=validate.OneOf(["official", "package", "none"]))
    holidays = fields.List(LocalDate(), required=True, validate=DAYS, metadata={"example": ["2027-01-01"]})
    workdays = fields.List(LocalDate(), required=True, validate=DAYS, metadata={"example": ["2027-02-20"]})


@blp.route("/<int:year>")
@jwt_required()
@blp.response(200, CalendarSchema)
@blp.alt_response(404, description="A year outside 2000–2100 (year_out_of_range)")
def get_calendar(year):
    """The official calendar that decides the year's rosters, and where it comes from (any signed-in user)."""
    return holidays.get_calendar(year)


@blp.route("/<int:year>", methods=["PUT"])
@jwt_required()
@allowed(require_sysadmin)
@blp.arguments(CalendarSchema)
@blp.response(200, CalendarSchema)
@blp.alt_response(403, description="Not a sysadmin (sysadmin_only)")
@blp.alt_response(404, description="A year outside 2000–2100 (year_out_of_range)")
def put_calendar(body, year):
    """Enter the State Council's arrangement of a year (sysadmin), replacing any entered before.

    It wins over HOLIDAY_CALENDAR_FILE and the package, and the next roster generation follows it: coming shifts on a
    new day off go unless someone holds a seat (then they stay and the holders are told), a new make-up workday gets
    shifts. A date of another year, or one in both lists → 422 naming the field."""
    return holidays.set_calendar(current_actor(), year, **body)


@blp.route("/<int:year>", methods=["DELETE"])
@jwt_required()
@allowed(require_sysadmin)
@blp.response(204)
@blp.alt_response(403, description="Not a sysadmin (sysadmin_only)")
@blp.alt_response(404, description="Nothing entered for the year (calendar_not_found), or outside 2000–2100")
def delete_calendar(year):
    """Withdraw the entered arrangement (sysadmin): the year returns to HOLIDAY_CALENDAR_FILE or the package."""
    holidays.delete_calendar(current_actor(), year)
