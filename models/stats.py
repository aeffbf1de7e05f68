"""Rollups: the figures of /stats/overview, kept up to date by the services that change them
(services/rollups.py), in the same transaction, so the overview reads a few hundred small rows instead of millions
of records. ``flask --app wsgi stats rebuild`` recomputes them from the records."""

from decimal import Decimal

from sqlalchemy import ForeignKey, Index, Integer, Numeric
from sqlalchemy.orm import Mapped, mapped_column

from extensions import db


class CommunityYearFigures(db.Model):
    """Additive figures of one community in one local calendar year; a street or district adds up its
    communities' rows (a few hundred at most)."""

    __tablename__ = "stats_community_years"

    community_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Of approved records started in the year.
    approved_hours: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=0)
    # Shift assignments settled as attended or no_show, of shifts ending in the year.
    settled_assignments: Mapped[int] = mapped_column(Integer, default=0)
    no_shows: Mapped[int] = mapped_column(Integer, default=0)


class CommunityReportCounts(db.Model):
    """Approved member and unit reports of one community, and its active teams (its own and its units'), now."""

    __tablename__ = "stats_community_reports"

    community_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), primary_key=True)
    members_reported: Mapped[int] = mapped_column(Integer, default=0)
    units_reported: Mapped[int] = mapped_column(Integer, default=0)
    # Active teams the community owns or its units own (a unit counts where its approved unit report is, else where
    # it sits: models/report.py, approved_unit_report).
    active_teams: Mapped[int] = mapped_column(Integer, default=0)


class VolunteerYear(db.Model):
    """How many approved records a member has in a region (community, street or district) in a local year: the
    member is one of the region's active volunteers while it is above zero. Distinct members do not add up across
    communities, so every level has its own rows."""

    __tablename__ = "stats_volunteers"

    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    records: Mapped[int] = mapped_column(Integer, default=0)
    # The approved hours of those records: the per-member hours list reads a page of a region's year from the index.
    hours: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=0)

    __table_args__ = (Index("ix_stats_volunteers_region_year_hours", "region_id", "year", "hours", "member_id"),)


class RegionYearVolunteers(db.Model):
    """The count of ``stats_volunteers`` rows above zero of a region and year, changed only when a member's count
    leaves or reaches zero."""

    __tablename__ = "stats_region_volunteers"

    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    active_volunteers: Mapped[int] = mapped_column(Integer, default=0)


class CommunityYearDetails(db.Model):
    """More additive figures of one community in one local year (v1.1), one row per community so a district's
    overview reads a few hundred of them."""

    __tablename__ = "stats_community_details"

    community_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Checked-out attendances at activities and shifts, of check-ins in the year (人次).
    attendances: Mapped[int] = mapped_column(Integer, default=0)
    # Appeals submitted in the year.
    appeals_received: Mapped[int] = mapped_column(Integer, default=0)
    # Approved hours of records started in the year, by the record's category (six themes and other).
    hours_civility: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=0)
    hours_order: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=0)
    hours_culture: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=0)
    hours_health: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=0)
    hours_environment: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=0)
    hours_safety: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=0)
    hours_other: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=0)


class UnitYear(db.Model):
    """How many approved records members of a unit (their unit now) have in a region in a local year: the unit is
    active there while it is above zero. Like ``stats_volunteers``, a row per level."""

    __tablename__ = "stats_units"

    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), primary_key=True)
    records: Mapped[int] = mapped_column(Integer, default=0)


class RegionYearUnits(db.Model):
    """The count of ``stats_units`` rows above zero of a region and year."""

    __tablename__ = "stats_region_units"

    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    units_active: Mapped[int] = mapped_column(Integer, default=0)
