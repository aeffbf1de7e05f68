"""seed-demo's appeals step: a street with two departments, appeals in every state and from every source, and the
three rates it shows through the API."""

from sqlalchemy import select

from demo import appeals, foundation, wishes
from extensions import db
from models import Appeal, Department, Need, Project, Wish
from models.appeal import APPEAL_KINDS, APPEAL_SOURCES, AppealStatus
from tests.factories import auth


def test_demo_appeals_cover_every_state_and_source_and_show_the_three_rates(client):
    ctx = {}
    foundation.seed(ctx)
    wishes.seed(ctx)
    summary = appeals.seed(ctx)
    db.session.commit()

    assert summary["appeals"] == len(appeals.APPEALS)
    assert set(db.session.scalars(select(Appeal.status).distinct())) == set(AppealStatus)
    assert set(db.session.scalars(select(Appeal.source).distinct())) == set(APPEAL_SOURCES)
    assert set(db.session.scalars(select(Appeal.kind).distinct())) == set(APPEAL_KINDS)
    street = ctx["streets"][0]
    assert len(db.session.scalars(select(Department).where(Department.region_id == street.id)).all()) == 2
    for model in (Wish, Need, Project):
        assert db.session.scalar(select(model.id).where(model.appeal_id.is_not(None))) is not None, model

    stats = client.get(f"/api/v1/stats/appeals?region_id={ctx['district'].id}", headers=auth(ctx["sysadmin"]))
    assert stats.status_code == 200, stats.get_json()
    figures = stats.get_json()
    for rate in ("response_rate", "resolution_rate", "satisfaction_rate"):
        assert 0 < figures[rate] < 1, (rate, figures)
    assert figures["escalated"] > 0 and figures["overdue"] > 0

    # Every appeal reads back through the API for its community's staff, with its timeline, and the department
    # admins see theirs.
    for appeal in db.session.scalars(select(Appeal)):
        admin = ctx["community_admins"][[c.id for c in ctx["communities"]].index(appeal.community_id)]
        response = client.get(f"/api/v1/appeals/{appeal.id}", headers=auth(admin))
        assert response.status_code == 200 and response.get_json()["timeline"][0]["action"] == "submitted"
    listed = client.get("/api/v1/appeals", headers=auth(ctx["department_admins"][0])).get_json()
    assert listed["total"] >= 2
