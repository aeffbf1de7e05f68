from flask_jwt_extended import jwt_required
from marshmallow import Schema, fields, validate

from api.blueprint import Blueprint
from api.downloads import BINARY, send_download
from api.fields import Hours, Integer, LocalDateTime, Number
from api.pagination import PageArgs, page_of, paginate
from api.security import allowed, current_actor
from services import checkins
from services.authz import require_region_staff, require_staff
from telemetry import metrics

blp = Blueprint("checkins", __name__, url_prefix="/api/v1", description="QR check-in (扫码签到)")


class QrArgs(Schema):
    format = fields.String(load_default="json", validate=validate.OneOf(("json", "png", "wxacode")),
                           metadata={"description": "json (the token), png (a QR code to print) or wxacode (the "
                                                    "mini-program code WeChat draws, opening WECHAT_CHECKIN_PAGE)"})


class QrCodeSchema(Schema):
    token = fields.String(metadata={"description": "At most 32 characters of [0-9A-Za-z_-] (fits a `scene`)"})
    expires_at = LocalDateTime(allow_none=True, metadata={"description": "When it stops being accepted; "
                                                                         "null for a post's static token"})
    url = fields.String(metadata={"description": "https link for WeChat's scan-an-ordinary-QR-code"})


class CheckinSchema(Schema):
    token = fields.String(required=True, load_only=True, validate=validate.Length(max=200))
    lat = Number(required=True, load_only=True, validate=validate.Range(-90, 90))
    lng = Number(required=True, load_only=True, validate=validate.Range(-180, 180))


class AttendanceSchema(Schema):
    id = Integer()
    member_id = Integer()
    activity_id = Integer(allow_none=True)
    shift_id = Integer(allow_none=True)
    checked_in_at = LocalDateTime()
    checked_out_at = LocalDateTime(allow_none=True)
    minutes = Integer(allow_none=True)
    needs_review = fields.Boolean()


class ActivityAttendanceSchema(AttendanceSchema):
    member_name = fields.String(allow_none=True)


class ScanRecordSchema(Schema):
    id = Integer()
    hours = Hours()
    status = fields.String()


class ScanResultSchema(Schema):
    action = fields.String(dump_only=True, metadata={"description": "check_in, check_out or duplicate"})
    attendance = fields.Nested(AttendanceSchema, dump_only=True, allow_none=True)
    service_record = fields.Nested(ScanRecordSchema, dump_only=True, allow_none=True)


def _png(data, expires_at=None):
    if expires_at is None:
        return send_download(data, "image/png", headers={"Cache-Control": "no-store"})
    response = send_download(data, "image/png", headers={"Cache-Control": "private"})
    response.expires = expires_at
    return response


WXACODE_ERRORS = (
    (502, "WeChat answered an errcode (wechat_error, details.errcode)"),
    (503, "WeChat unreachable (wechat_unavailable) or not configured (wechat_not_configured)"),
)


def _wechat_errors(view):
    for status, description in WXACODE_ERRORS:
        view = blp.alt_response(status, description=description)(view)
    return view


@blp.route("/activities/<int:activity_id>/qrcode")
@jwt_required()
@allowed(require_staff)
@blp.arguments(QrArgs, location="query")
@blp.response(200, QrCodeSchema)
@blp.alt_response(200, schema=BINARY, content_type="image/png", success=True,
                  description="With `?format=png`: the QR code of `token`; with `?format=wxacode`: the mini-program "
                              "code of `token` (getwxacodeunlimit), `Expires` when the token does")
@_wechat_errors
def activity_qrcode(args, activity_id):
    """The activity's current check-in token (rotates every QR_ROTATE_SECONDS), as JSON, a PNG QR code or the
    mini-program code WeChat's own scanner opens."""
    actor = current_actor()
    if args["format"] == "wxacode":
        return _png(*checkins.activity_wxacode(actor, activity_id))
    code = checkins.activity_qrcode(actor, activity_id)
    return _png(checkins.qr_png(code["token"])) if args["format"] == "png" else code


@blp.route("/activities/<int:activity_id>/attendances")
@jwt_required()
@allowed(require_staff)
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_of(ActivityAttendanceSchema))
@blp.alt_response(404, description="No such activity, or outside the caller's scope (activity_not_found)")
def list_activity_attendances(args, activity_id):
    """Who checked in and out at an activity, in order of check-in (staff of its community or above, or the
    organising unit's admins)."""
    return paginate(checkins.list_attendances(current_actor(), activity_id), args, checkins.present_attendances)


@blp.route("/posts/<int:post_id>/qrcode")
@jwt_required()
@allowed(require_region_staff)
@blp.arguments(QrArgs, location="query")
@blp.response(200, QrCodeSchema)
@blp.alt_response(200, schema=BINARY, content_type="image/png", success=True,
                  description="With `?format=wxacode`, and with `?format=png` when WeChat is configured: the "
                              "mini-program code of `token` (kept for good, `Expires` 30 days on); `png` without "
                              "WeChat: an ordinary QR code of `token`")
@_wechat_errors
def post_qrcode(args, post_id):
    """The post's static check-in token for printing; accepted only during a shift of the post. The printed code
    is the mini-program code when WeChat is configured, so WeChat's own scanner opens the check-in page."""
    actor = current_actor()
    if args["format"] == "wxacode":
        return _png(*checkins.post_wxacode(actor, post_id))
    if args["format"] == "png":
        return _png(*checkins.post_printed_png(actor, post_id))
    return checkins.post_qrcode(actor, post_id)


@blp.route("/checkins", methods=["POST"])
@jwt_required()
@blp.arguments(CheckinSchema)
@blp.response(200, ScanResultSchema)
@blp.alt_response(201, schema=ScanResultSchema, description="First scan: check_in", success=True)
@blp.alt_response(400, description="Forged or garbled token (invalid_token), expired (token_expired)")
@blp.alt_response(403, description="Too far (out_of_range), not signed up or not on the shift (not_signed_up)")
@blp.alt_response(409, description="Outside 30 minutes before the start to the end (outside_window)")
def scan_checkin_code(body):
    """Scan a check-in code: 201 check_in, then 200 check_out with the service record; 200 duplicate within the
    debounce."""
    result = checkins.scan(current_actor(), body["token"], body["lat"], body["lng"])
    metrics.count_scan(result.action)
    return result, result.status_code
