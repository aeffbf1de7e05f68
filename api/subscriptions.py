from flask_jwt_extended import jwt_required
from marshmallow import INCLUDE, Schema, fields, post_dump, validate

from api.blueprint import Blueprint
from api.security import allowed, current_actor
from services import subscriptions
from services.authz import require_member

blp = Blueprint("subscriptions", __name__, url_prefix="/api/v1",
                description="WeChat subscribe messages (订阅消息) as one-time grants")


class GrantsInput(Schema):
    template_ids = fields.List(fields.String(validate=validate.Length(min=1, max=64)), required=True,
                               validate=validate.Length(min=1, max=20),
                               metadata={"description": "The templates the member just accepted in "
                                                        "wx.requestSubscribeMessage"})


class _Mapping(Schema):
    """An object whose keys are data, not names (documented as additionalProperties)."""

    # Dumped as it is: no field is declared, so no answer-schema variant is derived (api/schemas.py).
    is_answer = True

    class Meta:
        unknown = INCLUDE

    @post_dump(pass_original=True)
    def as_given(self, _data, original, **_kwargs):
        return dict(original)


class GrantsSchema(_Mapping):
    """template_id → grants left (messages the member may still be sent with it)."""


class TemplatesSchema(_Mapping):
    """event → template_id (shift_reminder, activity_reminder, report_decided, record_decided, wish_claimed,
    appeal_answered, standin_needed, appeal_decided, team_signup, team_join_decided), the configured ones only."""


@blp.route("/me/subscriptions")
@jwt_required()
@blp.response(200, GrantsSchema)
def my_subscriptions():
    """The caller's subscribe-message grants: `{template_id: grants_left}` for every configured template."""
    return subscriptions.grants_left(current_actor().id)


@blp.route("/me/subscriptions", methods=["POST"])
@jwt_required()
@allowed(require_member)
@blp.arguments(GrantsInput)
@blp.response(200, GrantsSchema)
def record_my_subscriptions(body):
    """Record the grants the member just accepted (one each); answers the `GET /me/subscriptions` object."""
    return subscriptions.record_grants(current_actor(), body["template_ids"])


@blp.route("/wechat/templates")
@jwt_required()
@blp.response(200, TemplatesSchema)
def wechat_templates():
    """`{event: template_id}` of the configured subscribe-message templates, for wx.requestSubscribeMessage."""
    return subscriptions.template_ids()
