"""The sign-in failure limit holds across gunicorn's several workers (issue 16): 38 of 60 wrong passwords were
checked when each worker counted alone. And gunicorn refuses several workers whose other rate limits would each
count alone (no Redis)."""

import pytest
import redis
import requests

from bench.runtime import LOCAL_REDIS, Server
from extensions import db
from tests.conftest import DATABASE_URL, fire_at_once
from tests.factories import make_staff


def _redis_running():
    try:
        return redis.Redis.from_url(LOCAL_REDIS, socket_connect_timeout=0.5).ping()
    except redis.RedisError:
        return False


@pytest.mark.skipif(not _redis_running(), reason="needs Redis on 127.0.0.1:6379 for the other rate limits")
def test_sixty_wrong_passwords_at_four_workers_are_checked_ten_times(tmp_path):
    admin = make_staff("sysadmin")
    username = admin.username
    db.session.commit()
    with Server(DATABASE_URL, workers=4, threads=4, log_path=tmp_path / "gunicorn.log") as server:
        def attempt(_):
            return requests.post(f"{server.url}/api/v1/auth/login", timeout=60,
                                 json={"username": username, "password": "wrong"}).status_code

        answers = fire_at_once(60, attempt)
        right = requests.post(f"{server.url}/api/v1/auth/login", timeout=60,
                              json={"username": username, "password": "password123"})
    assert answers.count(401) == 10 and answers.count(429) == 50, answers
    assert right.status_code == 429


def test_several_workers_without_redis_refuse_to_start(tmp_path):
    log = tmp_path / "gunicorn.log"
    with pytest.raises(RuntimeError, match="gunicorn exited"):
        Server(DATABASE_URL, workers=2, env={"REDIS_URL": ""}, log_path=log).start(timeout=20)
    assert "2 workers need REDIS_URL" in log.read_text()
