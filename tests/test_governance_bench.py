"""The benchmark's year of co-governance (bench/governance_seed.py) at the tiny preset, on the test database: the rows
hang together, the API reads them, and the benchmark's paths answer."""

from sqlalchemy import func, select

from bench import governance
from bench.seed import PRESETS, seed
from extensions import db
from models import Meeting, MeetingDecision, MeetingMinutes, MeetingTask, Partner
from services.authz import Actor
from services.meetings import present

TINY = PRESETS["tiny"]


def count(model, *where):
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def test_a_year_of_meetings_in_every_community(client):
    seeded = seed(TINY)
    db.session.commit()
    communities = len(seeded.community_ids)
    assert count(Partner) == communities * 6
    joint = count(Meeting, Meeting.kind == "joint")
    assert communities * 11 <= joint <= communities * 12
    assert count(Meeting, Meeting.kind == "consultation") == communities * 12
    held = count(Meeting, Meeting.status == "held")
    assert count(MeetingDecision) == 2 * held == count(MeetingTask) and count(MeetingMinutes) == held
    # Every task's owner is a partner of its meeting's community; a task's community and start are its meeting's.
    assert count(MeetingTask, ~MeetingTask.owner_partner_id.in_(select(Partner.id).where(
        Partner.community_id == MeetingTask.community_id))) == 0
    assert count(MeetingTask, ~select(Meeting.id).where(
        Meeting.id == MeetingTask.meeting_id, Meeting.community_id == MeetingTask.community_id,
        Meeting.starts_at == MeetingTask.meeting_starts_at).exists()) == 0
    assert count(MeetingTask, MeetingTask.status == "open") > 0
    staff = Actor(seeded.staff["community_admin"])
    page = db.session.scalars(select(Meeting).where(Meeting.status == "held").limit(3)).all()
    assert all(item["decisions"] and item["attendance"] for item in present(staff, page))

    paths = governance._paths(*governance._actors())
    db.session.commit()
    for name, (url, headers) in paths.items():
        response = client.get(url, headers=headers)
        assert response.status_code == 200, (name, response.get_json())
        assert response.get_json()["items"], name
