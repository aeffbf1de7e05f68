"""deploy/BACKUP.md, tried: a member's ID number is written through the app, the database is dumped with pg_dump
and restored with pg_restore into a new database, and the app on the restored database reads the ID number back
and finds it unique, with the same PII_ENCRYPTION_KEY; with another key it cannot."""

import base64
import os
import shutil
import subprocess

import pytest
from cryptography.exceptions import InvalidTag

from app import create_app
from config import normalise_database_url
from extensions import db
from models import User
from services import pii
from services.members import register_member, update_profile
from tests.conftest import DATABASE_URL, ON_POSTGRES
from tests.servers import ROOT, flask_command, production_env, scratch_postgres_database

if not ON_POSTGRES:
    pytest.skip("needs PostgreSQL: set TEST_DATABASE_URL (the restore is tried on a scratch database)",
                allow_module_level=True)
if not (shutil.which("pg_dump") and shutil.which("pg_restore")):
    pytest.skip("needs PostgreSQL's client tools: `apt-get install -y postgresql-client`", allow_module_level=True)

ID_NUMBER = "110105199003071239"


def app_on(database_url, **config):
    return create_app({"TESTING": True, "SCHEDULER_ENABLED": False,
                       "SQLALCHEMY_DATABASE_URI": normalise_database_url(database_url), **config})


def test_a_dump_restored_with_its_key_gives_the_id_numbers_back(tmp_path):
    dump = tmp_path / "baodao.dump"
    with scratch_postgres_database(DATABASE_URL, "backup") as source, \
            scratch_postgres_database(DATABASE_URL, "restored") as restored:
        migrated = flask_command(production_env(source, tmp_path), "db", "upgrade")
        assert migrated.returncode == 0, migrated.stderr
        live = app_on(source)
        with live.app_context():
            member = register_member(openid="backup-member", name="王芳")
            db.session.flush()
            update_profile(member, id_number=ID_NUMBER)
            db.session.commit()
            stored = db.session.get(User, member.id).id_number_encrypted
            db.session.remove()
            db.engine.dispose()
        assert ID_NUMBER.encode() not in stored

        # The commands of deploy/BACKUP.md.
        subprocess.run(["pg_dump", "--format=custom", "--no-owner", f"--file={dump}", source], check=True,
                       cwd=ROOT, timeout=120)
        subprocess.run(["pg_restore", "--no-owner", f"--dbname={restored}", str(dump)], check=True, timeout=120)

        back = app_on(restored)
        with back.app_context():
            user = db.session.scalar(db.select(User).where(User.openid == "backup-member"))
            assert pii.decrypt(user.id_number_encrypted) == ID_NUMBER
            assert user.id_number_hash == pii.lookup_hash(ID_NUMBER) and user.id_number_masked == "110105********1239"
            with back.test_client() as client:
                ready = client.get("/readyz")
                assert ready.status_code == 200 and ready.get_json()["migrations"] == "ok"
            db.session.remove()
            db.engine.dispose()

        other_key = base64.b64encode(os.urandom(32)).decode()
        lost = app_on(restored, PII_ENCRYPTION_KEY=other_key)
        with lost.app_context():
            user = db.session.scalar(db.select(User).where(User.openid == "backup-member"))
            with pytest.raises(InvalidTag):
                pii.decrypt(user.id_number_encrypted)
            assert user.id_number_hash != pii.lookup_hash(ID_NUMBER)
            db.session.remove()
            db.engine.dispose()
