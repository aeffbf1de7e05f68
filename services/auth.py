"""Sign-in: WeChat login for members, passwords for staff, tokens bound to a revocable session."""

import secrets
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from flask import current_app
from flask_jwt_extended import create_access_token, create_refresh_token
from limits import parse as parse_limit
from sqlalchemy import bindparam, delete, exists, func, select
from sqlalchemy.exc import IntegrityError

from clock import utcnow
from errors import NotFound, TooManyRequests, Unauthorized
from extensions import db
from models import AuthSession, LoginAttempt, RoleAssignment, User
from services import members, wechat

password_hasher = PasswordHasher()
# The openids the demo gives its members (demo/foundation.py); development's dev-login signs in only these.
DEMO_MEMBER_PREFIX = "demo-member-"


def hash_password(password):
    return password_hasher.hash(password)


def random_id():
    """16 characters of ``[0-9A-Za-z_-]`` (96 random bits): the id of a sign-in session (``sid``) or a token (``jti``).

    flask-jwt-extended's own ``jti`` is a 36-character UUID. A token is parsed four times per request, character by
    character (PyJWT's alphabet check), so every character saved is saved on every request."""
    return secrets.token_urlsafe(12)


def _claims(session_id):
    return {"sid": session_id, "jti": random_id()}


def access_token(user_id, session_id):
    return create_access_token(identity=str(user_id), additional_claims=_claims(session_id))


def issue_tokens(user):
    session = AuthSession(id=random_id(), user_id=user.id)
    db.session.add(session)
    db.session.flush()
    return {
        "access_token": access_token(user.id, session.id),
        "refresh_token": create_refresh_token(identity=str(user.id), additional_claims=_claims(session.id)),
    }


def wechat_login(code):
    """Sign in with a mini-program login code; the first login registers the member."""
    openid = wechat.code2session(code)
    user = db.session.scalar(select(User).where(User.openid == openid))
    is_new = user is None
    if is_new:
        try:
            with db.session.begin_nested():
                user = members.register_member(openid=openid)
        except IntegrityError:
            # The same code path raced with itself (double tap): the other request registered the member.
            user = db.session.scalar(select(User).where(User.openid == openid))
            is_new = False
    if not user.is_active:
        raise Unauthorized("account_disabled", "账号已停用")
    return {**issue_tokens(user), "user": user, "is_new": is_new}


def _attempt(username):
    """Record this sign-in attempt and decide whether it may be checked: the first ``LOGIN_FAILURE_LIMIT`` attempts
    of a username within the window are, later ones get 429 until the window passes.

    Attempts are rows, written and committed on a connection of their own before the password is checked, so every
    process and machine sees them at once and a failed sign-in's 401 (which rolls its unit of work back) keeps them.
    The attempts of one username take turns (a transaction lock on PostgreSQL, SQLite's one writer), and each counts
    those before it with its own: of simultaneous ones exactly the first ``limit`` go ahead. (Counting ids up to its
    own after the commit was not enough: a later id can commit before an earlier one.) Returns the attempt's id,
    removed again when the password was right."""
    limit = parse_limit(current_app.config["LOGIN_FAILURE_LIMIT"])
    key, now = f"login:{username.lower()}"[:64], utcnow()
    since = now - timedelta(seconds=limit.get_expiry())
    attempts = LoginAttempt.__table__
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(select(func.pg_advisory_xact_lock(func.hashtext(key))))
        conn.execute(attempts.delete().where(attempts.c.username_key == key, attempts.c.at < since))
        attempt_id = conn.execute(attempts.insert().values(username_key=key, at=now).returning(attempts.c.id)).scalar()
        earlier = conn.scalar(select(func.count()).select_from(attempts).where(
            attempts.c.username_key == key, attempts.c.at >= since))
    if earlier > limit.amount:
        raise TooManyRequests("rate_limited", "登录失败次数过多，请稍后再试", {"limit": str(limit)},
                              headers={"Retry-After": str(limit.get_expiry())})
    return attempt_id


def _forget(attempt_id):
    """A sign-in that succeeded is no failure: its attempt goes, with the request's unit of work."""
    db.session.execute(delete(LoginAttempt).where(LoginAttempt.id == attempt_id))


def demo_member_login(member):
    """Development only (api/dev_login.py is not registered in production): sign in a demo member by its demo
    openid, ``demo-member-3``, without WeChat, answering as a WeChat login does."""
    user = None
    if member.startswith(DEMO_MEMBER_PREFIX):
        user = db.session.scalar(select(User).where(User.openid == member))
    if user is None:
        raise NotFound("demo_member_not_found", "没有这个演示成员（先运行 seed-demo；例如 demo-member-3）")
    if not user.is_active:
        raise Unauthorized("account_disabled", "账号已停用")
    return {**issue_tokens(user), "user": user, "is_new": False}


def password_login(username, password):
    """Staff sign-in, by a username in any case. A wrong password (or an unknown or disabled account) is 401, and
    counts towards the limit (``_attempt``)."""
    attempt_id = _attempt(username)
    user = db.session.scalar(select(User).where(func.lower(User.username) == username.lower()))
    try:
        if user is None or not user.password_hash or not user.is_active:
            raise VerifyMismatchError
        password_hasher.verify(user.password_hash, password)
    except (VerifyMismatchError, InvalidHashError):
        raise Unauthorized("invalid_credentials", "用户名或密码错误") from None
    _forget(attempt_id)
    if password_hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return {**issue_tokens(user), "user": user}


def refresh(user_id, session_id):
    return {"access_token": access_token(user_id, session_id)}


def logout(session_id):
    """Revoke the session: its access and refresh tokens are refused from now on."""
    session = db.session.get(AuthSession, session_id)
    if session and session.revoked_at is None:
        session.revoked_at = utcnow()
        db.session.flush()


# Every authenticated request runs this, so it is a Core statement built once, run on the session's connection: no
# ORM object is made, its SQL and cache key are computed once, and the ORM's execution is skipped. The caller's user,
# when a view needs it, is read then (services.authz). Whether it holds any role (an index probe) and whether it is a
# member (it has an openid) come along, so that a member's Actor knows both without a query of its own.
_sessions, _users, _roles = AuthSession.__table__, User.__table__, RoleAssignment.__table__
LIVE_SIGN_IN = (select(_users.c.id.label("user_id"), _users.c.is_active,
                       exists().where(_roles.c.user_id == _users.c.id).label("has_roles"),
                       _users.c.openid.is_not(None).label("is_member"))
                .select_from(_sessions.join(_users, _users.c.id == _sessions.c.user_id))
                .where(_sessions.c.id == bindparam("session_id"), _sessions.c.revoked_at.is_(None)))


def live_sign_in(session_id):
    """``(user_id, is_active, has_roles, is_member)`` of a live sign-in, in one query; None when the session was
    revoked or never existed."""
    if not session_id:
        return None
    return db.session.connection().execute(LIVE_SIGN_IN, {"session_id": session_id}).first()
