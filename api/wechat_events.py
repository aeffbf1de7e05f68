"""WeChat's message push (消息推送) in plaintext mode: the URL check and the events, signed with
``WECHAT_PUSH_TOKEN``. Only ``wxa_media_check`` (the verdict on a photo) is acted on; other events are ignored."""

from flask import current_app, make_response, request
from marshmallow import Schema, fields

from api.blueprint import Blueprint
from api.security import PUBLIC
from errors import Forbidden, ServiceUnavailable
from integrations.wechat import push_signature_valid
from services import uploads

blp = Blueprint("wechat_events", __name__, url_prefix="/api/v1", description="WeChat message push")

EVENTS_PATH = "/api/v1/wechat/events"


class SignatureArgs(Schema):
    signature = fields.String(load_default=None)
    timestamp = fields.String(load_default=None)
    nonce = fields.String(load_default=None)
    echostr = fields.String(load_default=None, metadata={"description": "GET only: echoed back"})


def _check(args):
    token = current_app.config.get("WECHAT_PUSH_TOKEN")
    if not token:
        raise ServiceUnavailable("wechat_not_configured", "未配置微信消息推送（WECHAT_PUSH_TOKEN）")
    if not push_signature_valid(token, args["timestamp"], args["nonce"], args["signature"]):
        raise Forbidden("invalid_signature", "签名无效")


def _text(body):
    response = make_response(body)
    response.headers["Content-Type"] = "text/plain; charset=utf-8"
    return response


TEXT = {"200": {"description": "Plain text", "content": {"text/plain": {"schema": {"type": "string"}}}}}


@blp.route("/wechat/events")
@blp.doc(**PUBLIC, responses=TEXT)
@blp.arguments(SignatureArgs, location="query")
@blp.alt_response(403, description="Bad signature (invalid_signature)")
@blp.alt_response(503, description="WECHAT_PUSH_TOKEN unset (wechat_not_configured)")
def verify_wechat_push_url(args):
    """WeChat's check of the push URL: the echostr, in plain text."""
    _check(args)
    return _text(args["echostr"] or "")


@blp.route("/wechat/events", methods=["POST"])
@blp.doc(**PUBLIC, responses=TEXT)
@blp.arguments(SignatureArgs, location="query")
@blp.alt_response(403, description="Bad signature (invalid_signature)")
@blp.alt_response(503, description="WECHAT_PUSH_TOKEN unset (wechat_not_configured)")
def receive_wechat_event(args):
    """An event (JSON, plaintext mode): `wxa_media_check` verdicts are matched by `trace_id`; `success` always."""
    _check(args)
    event = request.get_json(force=True, silent=True)
    if isinstance(event, dict) and event.get("Event") == "wxa_media_check" and isinstance(event.get("trace_id"), str):
        result = event.get("result") if isinstance(event.get("result"), dict) else {}
        suggest = result.get("suggest")
        if suggest in ("pass", "risky", "review"):
            uploads.apply_verdict(event["trace_id"], suggest)
    return _text("success")
