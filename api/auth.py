from flask_jwt_extended import get_jwt, jwt_required
from marshmallow import Schema, fields, validate

from api.blueprint import Blueprint
from api.security import PUBLIC, current_actor
from api.users import UserSchema
from services import auth

blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth", description="Sign-in and tokens")


class WeChatLoginSchema(Schema):
    code = fields.String(required=True, validate=validate.Length(min=1, max=128))


class PasswordLoginSchema(Schema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=64))
    password = fields.String(required=True, validate=validate.Length(min=1, max=256), load_only=True)


class TokensSchema(Schema):
    access_token = fields.String(required=True)
    refresh_token = fields.String(required=True)
    user = fields.Nested(UserSchema, required=True)


class WeChatTokensSchema(TokensSchema):
    is_new = fields.Boolean(required=True)


class AccessTokenSchema(Schema):
    access_token = fields.String(required=True)


@blp.route("/wechat", methods=["POST"])
@blp.doc(**PUBLIC)
@blp.arguments(WeChatLoginSchema)
@blp.response(200, WeChatTokensSchema)
@blp.alt_response(401, description="WeChat rejected the code (wechat_login_failed)")
@blp.alt_response(503, description="WeChat not configured or unreachable")
def wechat_login(body):
    """Sign in with a mini-program login code; the first login creates the member."""
    return auth.wechat_login(body["code"])


@blp.route("/login", methods=["POST"])
@blp.doc(**PUBLIC)
@blp.arguments(PasswordLoginSchema)
@blp.response(200, TokensSchema)
@blp.alt_response(401, description="Wrong username or password")
@blp.alt_response(429, description="Too many failed attempts for this username")
def password_login(body):
    """Staff sign-in (the username in any case). After 10 failures for one username within 15 minutes
    (LOGIN_FAILURE_LIMIT): 429 until the window passes, on every worker and machine alike."""
    return auth.password_login(body["username"], body["password"])


@blp.route("/refresh", methods=["POST"])
@jwt_required(refresh=True)
@blp.response(200, AccessTokenSchema)
def refresh_access_token():
    """A new access token, with the refresh token as bearer."""
    return auth.refresh(current_actor().id, get_jwt().get("sid"))


@blp.route("/logout", methods=["POST"])
@jwt_required()
@blp.response(204)
def logout():
    """Revoke this sign-in: its access and refresh tokens are refused from now on."""
    auth.logout(get_jwt().get("sid"))
