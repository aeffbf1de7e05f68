"""Photos: decoded and re-encoded (EXIF and GPS gone, orientation applied), size and kind limits, signed links,
who sees a photo on an appeal, the clean-up of unattached ones, and S3-compatible storage against a real local S3
server (moto's, started as a subprocess)."""

import io
import os
import shutil
import socket
import subprocess
import sys
import time
from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import pytest
import requests
import time_machine
from PIL import Image
from sqlalchemy import func, select

from clock import utcnow
from extensions import db
from models import Appeal, Upload
from schedulers.jobs import JOBS, run
from services import uploads
from services.storage import storage
from tests.appeal_factories import act, appeal_world, get, submit
from tests.factories import auth, error_code, make_member, make_staff

GPS_TAG = 0x8825


def photo(kind="JPEG", size=(40, 20), orientation=6, color=(200, 30, 30)):
    """An image of ``kind`` whose EXIF says where it was taken (Beijing) and that it is rotated."""
    image = Image.new("RGB", size, color)
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "FakeCam"
    gps = exif.get_ifd(GPS_TAG)
    gps.update({1: "N", 2: (39.0, 54.0, 27.0), 3: "E", 4: (116.0, 23.0, 17.0)})
    out = io.BytesIO()
    extra = {"xmp": b"<x:xmpmeta>GPS 39.9075,116.3972</x:xmpmeta>", "comment": b"home"} if kind == "JPEG" else {}
    image.save(out, kind, exif=exif, **extra)
    return out.getvalue()


def upload(client, user, data, name="photo.jpg"):
    return client.post("/api/v1/uploads", data={"file": (io.BytesIO(data), name)}, headers=auth(user),
                       content_type="multipart/form-data")


def fetch(client, url):
    parsed = urlparse(url)
    return client.get(parsed.path, query_string={k: v[0] for k, v in parse_qs(parsed.query).items()})


@pytest.fixture
def member():
    return make_member()


def stored_image(upload_id):
    row = db.session.get(Upload, upload_id)
    return Image.open(io.BytesIO(storage().get(row.storage_key)))


def test_a_jpeg_loses_its_exif_and_gps_and_is_turned_upright(client, member):
    response = upload(client, member, photo())
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    # Orientation 6 (rotate 90° clockwise) is applied before EXIF is dropped: 40×20 becomes 20×40.
    assert (body["width"], body["height"]) == (20, 40)
    image = stored_image(body["id"])
    assert image.format == "JPEG" and image.size == (20, 40)
    assert dict(image.getexif()) == {} and image.getexif().get_ifd(GPS_TAG) == {}
    assert not {"exif", "xmp", "comment", "icc_profile"} & set(image.info)
    data = storage().get(db.session.get(Upload, body["id"]).storage_key)
    assert b"Exif" not in data and b"FakeCam" not in data and b"39.9075" not in data
    # The pixels survived: the red of the original.
    red, green, blue = image.convert("RGB").getpixel((10, 20))
    assert red > 150 and green < 80 and blue < 80


@pytest.mark.parametrize(("kind", "content_type"), [("PNG", "image/png"), ("WEBP", "image/webp")])
def test_png_and_webp_are_re_encoded_in_their_own_kind_without_exif(client, member, kind, content_type):
    response = upload(client, member, photo(kind), name=f"x.{kind.lower()}")
    assert response.status_code == 201, response.get_json()
    image = stored_image(response.get_json()["id"])
    assert image.format == kind and dict(image.getexif()) == {}
    assert fetch(client, response.get_json()["url"]).headers["Content-Type"] == content_type


@pytest.mark.parametrize("data", [
    b"not an image at all",
    photo()[:200],
    b"GIF89a" + b"\x00" * 50,
])
def test_anything_but_a_decodable_jpeg_png_or_webp_is_invalid_image(client, member, data):
    response = upload(client, member, data)
    assert response.status_code == 422 and error_code(response) == "invalid_image"
    assert list(response.get_json()["error"]["details"]) == ["file"]
    assert db.session.scalar(select(func.count()).select_from(Upload)) == 0


def test_a_gif_is_refused(client, member):
    out = io.BytesIO()
    Image.new("P", (4, 4)).save(out, "GIF")
    response = upload(client, member, out.getvalue(), name="x.gif")
    assert response.status_code == 422 and error_code(response) == "invalid_image"


def test_over_40_megapixels_is_invalid_image(client, member):
    out = io.BytesIO()
    Image.new("L", (8000, 5001)).save(out, "PNG", optimize=True)
    assert len(out.getvalue()) < uploads.MAX_BYTES
    response = upload(client, member, out.getvalue(), name="huge.png")
    assert response.status_code == 422 and error_code(response) == "invalid_image"


def test_a_missing_file_part_is_422_naming_file(client, member):
    response = client.post("/api/v1/uploads", data={"other": "x"}, headers=auth(member),
                           content_type="multipart/form-data")
    assert response.status_code == 422 and list(response.get_json()["error"]["details"]) == ["file"]


def test_more_than_5_mib_is_413_too_large_whichever_layer_refuses(client, member):
    just_over = b"\xff\xd8" + b"\x00" * (uploads.MAX_BYTES - 1)
    response = upload(client, member, just_over)
    assert response.status_code == 413 and error_code(response) == "too_large"
    huge = b"\x00" * (uploads.MAX_BYTES + 200_000)
    response = upload(client, member, huge)
    assert response.status_code == 413 and error_code(response) == "too_large"
    # Refused before anything else, sign-in included.
    unsigned = client.post("/api/v1/uploads", data={"file": (io.BytesIO(huge), "x.jpg")},
                           content_type="multipart/form-data")
    assert unsigned.status_code == 413
    assert db.session.scalar(select(func.count()).select_from(Upload)) == 0


def test_json_bodies_stay_bounded(client):
    body = '{"name": "' + "x" * (3 * 1024 * 1024) + '", "kind": "district"}'
    response = client.post("/api/v1/regions", data=body, content_type="application/json",
                           headers=auth(make_staff("sysadmin")))
    assert response.status_code == 413


def test_uploads_need_a_sign_in(client):
    assert upload_unsigned(client).status_code == 401


def upload_unsigned(client):
    return client.post("/api/v1/uploads", data={"file": (io.BytesIO(photo()), "x.jpg")},
                       content_type="multipart/form-data")


def test_a_signed_link_serves_the_photo_until_it_expires(app, client, member):
    body = upload(client, member, photo()).get_json()
    served = fetch(client, body["url"])
    assert served.status_code == 200 and served.headers["Content-Type"] == "image/jpeg"
    assert Image.open(io.BytesIO(served.data)).size == (20, 40)
    parsed = urlparse(body["url"])
    query = {k: v[0] for k, v in parse_qs(parsed.query).items()}
    for altered in ({**query, "sig": "0" * 32}, {**query, "exp": str(int(query["exp"]) + 10)}, {"exp": query["exp"]},
                    {**query, "sig": "短"}):
        response = client.get(parsed.path, query_string=altered)
        assert response.status_code in (403, 422), altered
        if response.status_code == 403:
            assert error_code(response) == "link_expired"
    other = client.get(f"/api/v1/uploads/{body['id'] + 1}", query_string=query)
    assert other.status_code == 403
    with time_machine.travel(utcnow() + timedelta(seconds=app.config["UPLOAD_URL_SECONDS"] + 1)):
        expired = fetch(client, body["url"])
    assert expired.status_code == 403 and error_code(expired) == "link_expired"


def test_a_removed_photo_is_404(client, member):
    body = upload(client, member, photo()).get_json()
    row = db.session.get(Upload, body["id"])
    uploads.remove(row)
    db.session.commit()
    response = fetch(client, body["url"])
    assert response.status_code == 404 and error_code(response) == "upload_not_found"


def test_unattached_photos_are_deleted_after_a_day(client, member):
    kept = upload(client, member, photo()).get_json()
    old = upload(client, member, photo()).get_json()
    row = db.session.get(Upload, old["id"])
    key = row.storage_key
    row.created_at = utcnow() - timedelta(days=1, minutes=1)
    db.session.commit()

    assert run(JOBS["delete_unattached_uploads"]) == 1
    assert db.session.get(Upload, old["id"]) is None and storage().get(key) is None
    assert db.session.get(Upload, kept["id"]) is not None
    assert fetch(client, old["url"]).status_code == 404


@pytest.fixture
def world():
    return appeal_world()


def test_an_appeal_takes_the_callers_own_unattached_unexpired_photos(client, world):
    resident, neighbour = world["resident"], world["neighbour"]
    mine = [upload(client, resident, photo()).get_json()["id"] for _ in range(2)]
    theirs = upload(client, neighbour, photo()).get_json()["id"]
    stale = upload(client, resident, photo()).get_json()["id"]
    db.session.get(Upload, stale).created_at = utcnow() - timedelta(days=2)
    db.session.commit()

    for photo_ids in ([theirs], [stale], [mine[0], mine[0]], [999_999]):
        response = submit(client, resident, world["a1"], photo_ids=photo_ids)
        assert response.status_code == 422 and "photo_ids" in response.get_json()["error"]["details"], photo_ids
    response = submit(client, resident, world["a1"], photo_ids=mine)
    assert response.status_code == 201
    assert [p["id"] for p in response.get_json()["photos"]] == mine
    again = submit(client, resident, world["a1"], photo_ids=[mine[0]])
    assert again.status_code == 422 and "photo_ids" in again.get_json()["error"]["details"]
    assert db.session.scalar(select(func.count()).select_from(Appeal)) == 1


def test_photos_are_shown_only_to_those_who_may_see_the_appeal(app, client, world, monkeypatch):
    # WeChat not configured: photos are shown at once to everyone who sees the appeal.
    monkeypatch.setitem(app.config, "WECHAT_APPID", None)
    photo_id = upload(client, world["resident"], photo()).get_json()["id"]
    appeal_id = submit(client, world["resident"], world["a1"], photo_ids=[photo_id]).get_json()["id"]
    act(client, world["admin_a1"], appeal_id, "accept")
    act(client, world["admin_a1"], appeal_id, "escalate", {"department_id": world["department"].id, "note": "请"})
    for user in ("resident", "admin_a1", "street_admin", "department_admin"):
        shown = get(client, world[user], appeal_id).get_json()
        assert [p["id"] for p in shown["photos"]] == [photo_id], user
        assert fetch(client, shown["photos"][0]["url"]).status_code == 200
    assert get(client, world["admin_b1"], appeal_id).status_code == 404
    # Each answer carries a fresh link.
    first = get(client, world["admin_a1"], appeal_id).get_json()["photos"][0]["url"]
    with time_machine.travel(utcnow() + timedelta(seconds=5)):
        assert get(client, world["admin_a1"], appeal_id).get_json()["photos"][0]["url"] != first


# S3-compatible storage against a real local server.

def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def s3_server():
    port = _free_port()
    command = shutil.which("moto_server", path=os.path.dirname(sys.executable)) or "moto_server"
    process = subprocess.Popen([command, "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                requests.get(url, timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture
def s3(app, monkeypatch, s3_server):
    import boto3

    settings = {"UPLOAD_S3_BUCKET": "baodao-photos", "UPLOAD_S3_ENDPOINT": s3_server, "UPLOAD_S3_REGION": "us-east-1",
                "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    for key, value in settings.items():
        monkeypatch.setitem(app.config, key, value)
    client = boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1", aws_access_key_id="testing",
                          aws_secret_access_key="testing")
    client.create_bucket(Bucket="baodao-photos")
    yield client
    for item in client.list_objects_v2(Bucket="baodao-photos").get("Contents", []):
        client.delete_object(Bucket="baodao-photos", Key=item["Key"])
    client.delete_bucket(Bucket="baodao-photos")


def test_photos_live_in_an_s3_bucket_when_one_is_configured(app, client, member, s3):
    body = upload(client, member, photo()).get_json()
    row = db.session.get(Upload, body["id"])
    stored = s3.get_object(Bucket="baodao-photos", Key=row.storage_key)
    assert stored["ContentType"] == "image/jpeg"
    image = Image.open(io.BytesIO(stored["Body"].read()))
    assert image.size == (20, 40) and image.getexif().get_ifd(GPS_TAG) == {}
    assert not os.path.exists(os.path.join(app.config["UPLOAD_FOLDER"], row.storage_key[:2], row.storage_key))
    served = fetch(client, body["url"])
    assert served.status_code == 200 and Image.open(io.BytesIO(served.data)).size == (20, 40)

    row.created_at = utcnow() - timedelta(days=2)
    db.session.commit()
    assert run(JOBS["delete_unattached_uploads"]) == 1
    assert s3.list_objects_v2(Bucket="baodao-photos").get("KeyCount") == 0


def test_a_photo_missing_from_the_bucket_is_404(client, member, s3):
    body = upload(client, member, photo()).get_json()
    s3.delete_object(Bucket="baodao-photos", Key=db.session.get(Upload, body["id"]).storage_key)
    response = fetch(client, body["url"])
    assert response.status_code == 404 and error_code(response) == "upload_not_found"
