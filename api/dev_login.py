"""Development only: sign in as a demo member without WeChat, to try the member flows (registered outside
production alone, api/__init__.py: in production the route does not exist and the document does not name it)."""

from marshmallow import Schema, fields, validate

from api.auth import WeChatTokensSchema
from api.blueprint import Blueprint
from api.security import PUBLIC
from services import auth

blp = Blueprint("dev_login", __name__, url_prefix="/api/v1/auth",
                description="Development only: demo members without WeChat")


class DevLoginSchema(Schema):
    member = fields.String(required=True, validate=validate.Length(min=1, max=64),
                           metadata={"description": "A demo member, demo-member-1 … demo-member-30",
                                     "example": "demo-member-3"})


@blp.route("/dev-login", methods=["POST"])
@blp.doc(**PUBLIC)
@blp.arguments(DevLoginSchema)
@blp.response(200, WeChatTokensSchema)
@blp.alt_response(404, description="No such demo member (demo_member_not_found)")
def dev_login(body):
    """Sign in as a demo member, answering as ``POST /auth/wechat`` does. Development only: absent in production."""
    return auth.demo_member_login(body["member"])
