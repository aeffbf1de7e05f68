"""The organiser's check-in screen: the staff endpoint that makes a link, and the login-free page it opens
(``/screen/...``, outside ``/api/v1`` because a browser on a projector opens it directly)."""

from flask import make_response, render_template, url_for
from flask_jwt_extended import jwt_required
from marshmallow import Schema, fields

from api.blueprint import Blueprint
from api.downloads import BINARY, HTML, send_download
from api.fields import Integer, LocalDateTime
from api.security import PUBLIC, allowed, current_actor
from errors import NotFound
from extensions import limiter
from services import screen
from services.authz import require_staff

blp = Blueprint("screen", __name__, description="The organiser's check-in screen (签到大屏)")

PAGE_HEADERS = {
    "Cache-Control": "no-store",
    # The link is the only key to the page: never leak it to another site.
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex",
    "Content-Security-Policy": "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
                               "img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'",
}

CLOSED_MESSAGES = {"ended": "活动已结束，签到已关闭", "cancelled": "活动已取消"}


class ScreenLinkSchema(Schema):
    id = Integer(dump_only=True, metadata={"description": "Revoke it with DELETE /screen-links/{id}"})
    url = fields.String(dump_only=True, metadata={"description": "The screen page; open it with no login"})
    expires_at = LocalDateTime(dump_only=True, metadata={"description": "The activity's end"})


class ScreenStateSchema(Schema):
    title = fields.String(dump_only=True)
    status = fields.String(dump_only=True, metadata={"description": "upcoming, open, ended or cancelled"})
    token = fields.String(dump_only=True, allow_none=True, metadata={"description": "Only while open"})
    expires_at = LocalDateTime(dump_only=True, allow_none=True, metadata={"description": "When the token is refused"})
    rotates_at = LocalDateTime(dump_only=True, allow_none=True, metadata={"description": "When a new token appears"})
    rotate_seconds = Integer(dump_only=True)
    now = LocalDateTime(dump_only=True)
    opens_at = LocalDateTime(dump_only=True)
    opens_text = fields.String(dump_only=True, metadata={"description": "When check-in opens, written out in "
                                                                        "TIMEZONE: 2026年6月1日 08:30"})
    starts_at = LocalDateTime(dump_only=True)
    ends_at = LocalDateTime(dump_only=True)
    schedule_text = fields.String(dump_only=True, metadata={"description": "Date and time in TIMEZONE: "
                                                                            "2026年6月1日（星期一）09:00–11:00"})
    place = fields.String(dump_only=True, allow_none=True, metadata={"description": "The activity's address"})
    checked_in = Integer(dump_only=True, metadata={"description": "People checked in so far"})
    poll_seconds = Integer(dump_only=True)


@blp.route("/api/v1/activities/<int:activity_id>/screen", methods=["POST"])
@jwt_required()
@allowed(require_staff)
@blp.response(200, ScreenLinkSchema)
@blp.alt_response(404, description="Unknown activity, or outside the caller's scope (activity_not_found)")
@blp.alt_response(409, description="The activity has ended or was cancelled (activity_ended, activity_cancelled)")
def open_screen(activity_id):
    """A signed link to the check-in screen, valid until the activity ends (staff of its community or above)."""
    return screen.open_screen(current_actor(), activity_id)


@blp.route("/api/v1/screen-links/<int:link_id>", methods=["DELETE"])
@jwt_required()
@allowed(require_staff)
@blp.response(204)
@blp.alt_response(404, description="Unknown link, or outside the caller's scope (screen_link_not_found)")
def revoke_screen(link_id):
    """End a screen link at once (staff of the activity's community or above); the screen shows it is invalid."""
    screen.revoke_screen(current_actor(), link_id)


def _page(template, http_status, **context):
    response = make_response(render_template(template, **context), http_status)
    response.headers.update(PAGE_HEADERS)
    return response


@blp.route("/screen/<string:signed>")
@blp.doc(**PUBLIC)
@blp.response(200, HTML, content_type="text/html")
@blp.alt_response(404, schema=HTML, content_type="text/html", description="Invalid link: a message, no QR code")
@blp.alt_response(410, schema=HTML, content_type="text/html", description="Activity over: a message, no QR code")
def screen_page(signed):
    """The screen: the title, the rotating QR code and the live count, large enough to scan from two metres.
    An invalid link (404) or a finished activity (410) shows a readable message and no QR code."""
    try:
        state = screen.screen_state(signed)
    except NotFound as exc:
        return _page("screen_closed.html", 404, title=None, message=exc.message, checked_in=None)
    if state["status"] in CLOSED_MESSAGES:
        return _page("screen_closed.html", 410, title=state["title"], message=CLOSED_MESSAGES[state["status"]],
                     checked_in=state["checked_in"])
    message = f"签到将于 {state['opens_text']} 开始" if state["status"] == "upcoming" else ""
    return _page("screen.html", 200, message=message, state_url=url_for("screen.screen_state", signed=signed),
                 qrcode_url=url_for("screen.screen_qrcode", signed=signed), **state)


@blp.route("/screen/<string:signed>/state")
@blp.doc(**PUBLIC)
@limiter.limit("240 per minute")
@blp.response(200, ScreenStateSchema)
@blp.alt_response(404, description="Forged, altered or unknown link (screen_link_invalid)")
def screen_state(signed):
    """What the screen shows now; it asks again just after each rotation and every few seconds for the count."""
    return screen.screen_state(signed)


@blp.route("/screen/<string:signed>/qrcode.png")
@blp.doc(**PUBLIC)
@limiter.limit("240 per minute")
@blp.response(200, BINARY, content_type="image/png")
@blp.alt_response(404, description="Forged, altered or unknown link (screen_link_invalid)")
@blp.alt_response(409, description="Check-in is not open (activity_upcoming, activity_ended, activity_cancelled)")
def screen_qrcode(signed):
    """The current check-in token as a QR code whose text is exactly the token."""
    return send_download(screen.screen_qr_png(signed), "image/png", headers={"Cache-Control": "no-store"})
