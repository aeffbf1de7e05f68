"""Background jobs (contract v1.1, "Background jobs"): a certificate batch or an export queued with `async=true`,
run by a worker with its progress, downloaded by a signed link when done; never lost when a worker dies."""

import csv
import io
import zipfile
from datetime import timedelta
from types import SimpleNamespace
from urllib.parse import urlparse

import openpyxl
import pytest
import time_machine
from sqlalchemy import func, select, update

from clock import utcnow
from extensions import db
from models import BackgroundJob, Certificate, Notification
from schedulers.jobs import JOBS, run
from services import background, certificates, exports
from services.authz import Actor
from tests.activity_factories import make_record
from tests.conftest import fire_at_once, postgres_only
from tests.factories import auth, error_code, make_member, make_staff, region_tree

PERIOD = {"from": "2026-01-01", "to": "2026-12-31"}


def _world(members=3):
    tree = region_tree()
    admin = make_staff("community_admin", tree["a1"])
    people = [make_member(f"成员{n}") for n in range(members)]
    for member in people:
        make_record(member, tree["a1"], status="approved", started_at=utcnow() - timedelta(days=2))
    return tree, admin, people


def _submit_batch(client, admin, tree):
    response = client.post("/api/v1/certificates/batch?async=true", headers=auth(admin),
                           json={"issuer_id": tree["a1"].id, **PERIOD})
    assert response.status_code == 202, response.get_json()
    return response.get_json()["job_id"]


def _job(client, user, job_id):
    return client.get(f"/api/v1/jobs/{job_id}", headers=auth(user))


def _download(client, job):
    link = urlparse(job["download_url"])
    return client.get(f"{link.path}?{link.query}")


def _certificates():
    return db.session.scalar(select(func.count()).select_from(Certificate))


def test_a_certificate_batch_runs_in_the_background_and_is_downloaded_when_done(client):
    tree, admin, people = _world(3)
    job_id = _submit_batch(client, admin, tree)
    queued = _job(client, admin, job_id).get_json()
    assert (queued["status"], queued["progress"], queued["total"], queued["download_url"]) == ("queued", 0, 3, None)
    assert _certificates() == 0

    assert run(JOBS["run_background_jobs"]) == 1
    done = _job(client, admin, job_id).get_json()
    assert (done["status"], done["progress"], done["done_count"], done["error"]) == ("done", 1.0, 3, None)
    archive = zipfile.ZipFile(io.BytesIO(_download(client, done).data))
    assert len(archive.namelist()) == 3 and all(name.endswith(".pdf") for name in archive.namelist())
    assert _certificates() == 3
    assert db.session.scalar(select(Notification.ref).where(Notification.kind == "job_done")) == f"job:{job_id}"
    assert run(JOBS["run_background_jobs"]) == 0


def test_a_jobs_arguments_are_checked_before_it_is_queued(client):
    tree, admin, _people = _world(1)
    empty = client.post("/api/v1/certificates/batch?async=true", headers=auth(admin),
                        json={"issuer_id": tree["a2"].id, **PERIOD})
    assert empty.status_code == 404  # a2 is not admin's community
    a2_admin = make_staff("community_admin", tree["a2"])
    nobody = client.post("/api/v1/certificates/batch?async=true", headers=auth(a2_admin),
                         json={"issuer_id": tree["a2"].id, **PERIOD})
    assert nobody.status_code == 422 and error_code(nobody) == "no_approved_hours"
    member = client.post("/api/v1/certificates/batch?async=true", headers=auth(make_member()),
                         json={"issuer_id": tree["a1"].id, **PERIOD})
    assert member.status_code == 403
    assert db.session.scalar(select(func.count()).select_from(BackgroundJob)) == 0


def test_an_export_runs_in_the_background_as_csv_or_xlsx(client):
    tree, admin, people = _world(2)
    jobs = {}
    for method, file_format in (("GET", "csv"), ("POST", "xlsx")):
        response = client.open(f"/api/v1/service-records/export?async=true&format={file_format}", method=method,
                                headers=auth(admin))
        assert response.status_code == 202, response.get_json()
        jobs[file_format] = response.get_json()["job_id"]
    assert run(JOBS["run_background_jobs"]) == 2
    csv_job = _job(client, admin, jobs["csv"]).get_json()
    rows = list(csv.reader(io.StringIO(_download(client, csv_job).data.decode("utf-8-sig"))))
    assert len(rows) == 3 and {row[2] for row in rows[1:]} == {"成员0", "成员1"}
    xlsx = _download(client, _job(client, admin, jobs["xlsx"]).get_json())
    assert xlsx.headers["Content-Type"].startswith("application/vnd.openxmlformats")
    assert openpyxl.load_workbook(io.BytesIO(xlsx.data)).active.max_row == 3


def test_an_export_of_many_batches_reports_progress_as_it_streams(client, monkeypatch):
    # Progress is written every BATCH rows while the rows still stream from the database (on PostgreSQL a server-side
    # cursor, which a commit of the reading transaction would close).
    monkeypatch.setattr(exports, "BATCH", 2)
    tree, admin, people = _world(7)
    files = {}
    for file_format in ("csv", "xlsx"):
        response = client.get(f"/api/v1/service-records/export?async=true&format={file_format}", headers=auth(admin))
        assert response.status_code == 202, response.get_json()
        assert run(JOBS["run_background_jobs"]) == 1
        job = _job(client, admin, response.get_json()["job_id"]).get_json()
        assert job["status"] == "done" and job["done_count"] == job["total"] == 7, job
        files[file_format] = _download(client, job).data
    assert len(list(csv.reader(io.StringIO(files["csv"].decode("utf-8-sig"))))) == 8
    assert openpyxl.load_workbook(io.BytesIO(files["xlsx"])).active.max_row == 8


def test_jobs_are_their_makers_and_a_sysadmins(client):
    tree, admin, _people = _world(1)
    job_id = _submit_batch(client, admin, tree)
    other = make_staff("community_admin", tree["a1"])
    refused = _job(client, other, job_id)
    assert refused.status_code == 404 and error_code(refused) == "job_not_found"
    assert _job(client, make_staff("sysadmin"), job_id).status_code == 200
    assert client.get("/api/v1/jobs", headers=auth(other)).get_json()["total"] == 0
    second = _submit_batch(client, admin, tree)
    assert [j["id"] for j in client.get("/api/v1/jobs", headers=auth(admin)).get_json()["items"]] == [second, job_id]


def test_a_download_answers_for_the_jobs_state_and_its_link(client):
    tree, admin, _people = _world(1)
    job_id = _submit_batch(client, admin, tree)
    run(JOBS["run_background_jobs"])
    job = _job(client, admin, job_id).get_json()
    link = urlparse(job["download_url"])
    assert client.get(f"{link.path}?{link.query}").data.startswith(b"PK")
    assert error_code(client.get(f"{link.path}?{link.query.replace('sig=', 'sig=0')}")) == "link_expired"
    with time_machine.travel(utcnow() + timedelta(hours=2), tick=False):
        assert error_code(client.get(f"{link.path}?{link.query}")) == "link_expired"

    for status, code in (("queued", "job_not_done"), ("running", "job_not_done"), ("failed", "job_failed")):
        db.session.execute(update(BackgroundJob).values(status=status))
        db.session.commit()
        answer = client.get(f"{link.path}?{link.query}")
        assert answer.status_code == 409 and error_code(answer) == code
    db.session.execute(update(BackgroundJob).values(status="done"))
    db.session.commit()
    with time_machine.travel(utcnow() + timedelta(days=8), tick=False):
        assert run(JOBS["delete_expired_job_files"]) == 1
        fresh = _job(client, admin, job_id).get_json()
        assert fresh["download_url"] is None
    expired = client.get(f"{link.path}?{link.query}")
    assert expired.status_code == 409 and error_code(expired) == "job_expired"


def test_a_job_whose_worker_died_is_resumed_and_reuses_the_certificates_it_issued(client):
    tree, admin, people = _world(3)
    job_id = _submit_batch(client, admin, tree)
    # The first worker took it, issued one member's certificate and died without a word for ten minutes.
    certificates.issue_certificate(Actor(admin.id), issuer_id=tree["a1"].id, member_id=people[0].id,
                                   period_from=utcnow().date().replace(month=1, day=1),
                                   period_to=utcnow().date().replace(month=12, day=31))
    db.session.execute(update(BackgroundJob).values(status="running", attempts=1, done_count=1,
                                                    heartbeat_at=utcnow() - timedelta(minutes=4)))
    db.session.commit()
    assert run(JOBS["run_background_jobs"]) == 0  # heard from four minutes ago: still its worker's
    db.session.execute(update(BackgroundJob).values(heartbeat_at=utcnow() - timedelta(minutes=6)))
    db.session.commit()
    assert run(JOBS["run_background_jobs"]) == 1
    job = _job(client, admin, job_id).get_json()
    assert (job["status"], job["done_count"]) == ("done", 3)
    assert _certificates() == 3


def test_a_job_whose_workers_keep_dying_fails_visibly(client):
    tree, admin, _people = _world(1)
    job_id = _submit_batch(client, admin, tree)
    db.session.execute(update(BackgroundJob).values(status="running", attempts=3,
                                                    heartbeat_at=utcnow() - timedelta(minutes=6)))
    db.session.commit()
    run(JOBS["run_background_jobs"])
    job = _job(client, admin, job_id).get_json()
    assert job["status"] == "failed" and job["error"]["code"] == "worker_lost" and job["download_url"] is None


def test_a_worker_taken_for_dead_stops_and_leaves_the_job_to_its_successor(client):
    tree, admin, _people = _world(2)
    job_id = _submit_batch(client, admin, tree)
    assert background._claim(utcnow()).take == 1  # worker A takes it, then stalls past STALE
    db.session.execute(update(BackgroundJob).values(heartbeat_at=utcnow() - timedelta(minutes=6)))
    db.session.commit()
    assert background._claim(utcnow()).take == 2  # worker B takes it over
    with pytest.raises(background.Superseded):
        background._heartbeat(SimpleNamespace(id=job_id, take=1), 1)  # A wakes: the job is no longer its own
    background._heartbeat(SimpleNamespace(id=job_id, take=2), 1)  # B's progress is written
    assert _job(client, admin, job_id).get_json()["done_count"] == 1


@postgres_only
def test_two_workers_at_once_run_each_job_once(app, client):
    tree, admin, _people = _world(4)
    for _ in range(3):
        _submit_batch(client, admin, tree)
    db.session.commit()

    def work(_):
        with app.app_context():
            try:
                return run(JOBS["run_background_jobs"])
            finally:
                db.session.remove()

    assert sum(fire_at_once(2, work)) == 3
    assert db.session.scalar(select(func.count()).select_from(BackgroundJob).where(BackgroundJob.status == "done")) == 3
    # The batches are of one issuer and period: the first issued four certificates, the others reused them.
    assert _certificates() == 4
