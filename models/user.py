from dataclasses import dataclass

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, LargeBinary, String, UniqueConstraint, false, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from clock import utcnow
from extensions import db
from models.types import UTCDateTime

POLITICAL_STATUSES = ("party_member", "probationary_member", "league_member", "masses")


@dataclass(frozen=True)
class Role:
    """A staff role and the kind of scope it takes: ``scope_type`` is what ``scope_id`` names (none for sysadmin),
    ``region_kind`` the kind of region a region role's scope must be."""

    name: str
    label: str
    scope_type: str | None = None
    region_kind: str | None = None

    @property
    def creatable(self):
        """Made with ``POST /staff``; a sysadmin only with ``flask create-admin``."""
        return self.scope_type is not None


# Every staff role, in the order of their reach. The actor, staff creation and the schemas read this table.
ROLES = {role.name: role for role in (
    Role("sysadmin", "系统管理员"),
    Role("district_admin", "区级管理员", "region", "district"),
    Role("street_admin", "街道管理员", "region", "street"),
    Role("community_admin", "社区管理员", "region", "community"),
    Role("unit_admin", "单位管理员", "unit"),
    Role("department_admin", "部门管理员", "department"),
)}
CREATABLE_ROLES = tuple(name for name, role in ROLES.items() if role.creatable)


class User(db.Model):
    """Anyone who signs in: a member through WeChat, staff with a username and password (or both)."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    openid: Mapped[str | None] = mapped_column(String(64), unique=True)
    username: Mapped[str | None] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    volunteer_number: Mapped[str | None] = mapped_column(String(20), unique=True)
    name: Mapped[str | None] = mapped_column(String(50))
    phone: Mapped[str | None] = mapped_column(String(11))
    # True while ``phone`` is the one WeChat verified (POST /me/phone); typing another one clears it.
    phone_verified: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false(), nullable=False)
    id_number_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    id_number_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    id_number_masked: Mapped[str | None] = mapped_column(String(18))
    political_status: Mapped[str] = mapped_column(String(24), default="masses")
    in_service: Mapped[bool] = mapped_column(Boolean, default=False)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    unavailable_weekdays: Mapped[list] = mapped_column(JSON, default=list)
    unavailable_dates: Mapped[list] = mapped_column(JSON, default=list)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    # When the member closed the account (DELETE /me): personal data erased, shown by its volunteer number.
    closed_at = mapped_column(UTCDateTime)
    # Who made this staff account (None for a member, and for a sysadmin made at the command line).
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    roles = relationship("RoleAssignment", back_populates="user", cascade="all, delete-orphan",
                         foreign_keys="RoleAssignment.user_id")

    # A unit's members by id: a page of them is read in index order, with no sort of the whole unit.
    __table_args__ = (Index("ix_users_unit_id_id", "unit_id", "id"),)


# "Wang" and "wang" are one username: staff sign in as they remember it, and no second account can look the same.
Index("uq_users_username_lower", func.lower(User.username), unique=True)


class RoleAssignment(db.Model):
    """A staff role; ``scope_type`` is ``region``, ``unit`` or ``department`` (none for sysadmin)."""

    __tablename__ = "role_assignments"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    role: Mapped[str] = mapped_column(String(24))
    scope_type: Mapped[str | None] = mapped_column(String(16))
    scope_id: Mapped[int | None] = mapped_column(Integer)
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    user = relationship("User", back_populates="roles")

    __table_args__ = (UniqueConstraint("user_id", "role", "scope_type", "scope_id"),)


class LoginAttempt(db.Model):
    """A password sign-in attempt not known to have succeeded, kept where every process and machine sees it: the
    failure limit holds across gunicorn workers and web machines without Redis (services/auth.py)."""

    __tablename__ = "login_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    username_key: Mapped[str] = mapped_column(String(64))
    at = mapped_column(UTCDateTime, nullable=False)

    __table_args__ = (Index("ix_login_attempts_username_key_at", "username_key", "at"),)


class AuthSession(db.Model):
    """One sign-in: its access and refresh tokens carry this id; logout revokes both at once."""

    __tablename__ = "auth_sessions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    revoked_at = mapped_column(UTCDateTime)
