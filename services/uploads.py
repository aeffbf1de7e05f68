"""Photos (uploads): decoded and re-encoded so nothing but pixels survives, stored by a random key, served by signed
links, checked by WeChat.

- A file of at most ``MAX_BYTES`` that Pillow decodes as JPEG, PNG or WebP, of at most ``MAX_PIXELS``; anything
  else is 422 ``invalid_image`` (413 ``too_large`` for the size). EXIF orientation is applied, then the image is
  written anew in its own format without EXIF, XMP, ICC or comments: a GPS position never survives.
- A link is ``/api/v1/uploads/{id}?exp=&sig=``, an HMAC (the app's SECRET_KEY) of the id and the expiry, valid
  ``UPLOAD_URL_SECONDS``; it needs no header, so a mini-program ``<image>`` and WeChat's media check can fetch it.
  Whoever may see a photo is given a fresh link with every answer that shows it; an altered or expired link is 403
  ``link_expired``, a removed photo 404 ``upload_not_found``.
- Until attached only its uploader sees it (only the uploader is given a link). An appeal takes the caller's own,
  unattached, unexpired photos, attached by one conditional UPDATE, so one photo never ends up on two appeals.
- A member's photo goes to WeChat's ``media_check_async`` and stays ``pending``, shown only to the uploader and the
  community's own staff, until the verdict arrives by message push (``apply_verdict``): ``pass`` shows it,
  ``risky`` removes it everywhere (its file is deleted), ``review`` sends it to moderation. No verdict within an
  hour: asked once more, then moderation (``recheck_photos``). Staff photos, and every photo when WeChat is not
  configured, are shown at once. Photos attached to nothing are deleted after a day (``delete_unattached``).
"""

import io
import logging
import secrets
from datetime import timedelta

from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy import select, update

from clock import utcnow
from errors import Forbidden, NotFound, TooLarge, ValidationFailed
from extensions import db
from models import Appeal, ModerationItem, Upload, User
from models.upload import UploadReview
from services import notifications, wechat
from services.database import valid_id
from services.signed_links import check, signed_link
from services.storage import storage

log = logging.getLogger("baodao.uploads")

MAX_BYTES = 5_242_880
MAX_PIXELS = 40_000_000
FORMATS = {"JPEG": ("image/jpeg", "jpg"), "PNG": ("image/png", "png"), "WEBP": ("image/webp", "webp")}
UNATTACHED_LIFETIME = timedelta(days=1)
VERDICT_WAIT = timedelta(hours=1)
MAX_PHOTOS = 9
# A submission and one more, then staff decide.
CHECK_ATTEMPTS = 2


class _InvalidImage(ValidationFailed):
    """422 ``invalid_image``, naming ``file``."""

    default_code = "invalid_image"
    default_message = "图片无法识别"

    def __init__(self, message):
        super().__init__({"file": [message]})


def reencode(data):
    """The image in ``data`` written anew: (bytes, content type, extension, width, height)."""
    if len(data) > MAX_BYTES:
        raise TooLarge("too_large", f"图片不能超过 {MAX_BYTES} 字节")
    try:
        image = Image.open(io.BytesIO(data))
        if image.format not in FORMATS:
            raise _InvalidImage("仅支持 JPEG、PNG 或 WebP 图片")
        width, height = image.size
        # Checked before the pixels are decoded: a small file may claim a huge canvas.
        if width * height > MAX_PIXELS:
            raise _InvalidImage(f"图片不能超过 {MAX_PIXELS // 1_000_000} 百万像素")
        image_format = image.format
        image.load()
        image = ImageOps.exif_transpose(image)
    except _InvalidImage:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise _InvalidImage("不是可识别的 JPEG、PNG 或 WebP 图片") from None
    has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    if image_format == "JPEG":
        image = image.convert("L" if image.mode in ("L", "1") else "RGB")
    else:
        image = image.convert("RGBA" if has_alpha else "RGB")
    # A new image carries no metadata at all: no EXIF, XMP, ICC profile or comment is written.
    clean = Image.new(image.mode, image.size)
    clean.paste(image)
    out = io.BytesIO()
    options = {"JPEG": {"quality": 88, "optimize": True}, "PNG": {"optimize": True}, "WEBP": {"quality": 88}}
    clean.save(out, format=image_format, **options[image_format])
    content_type, extension = FORMATS[image_format]
    return out.getvalue(), content_type, extension, clean.width, clean.height


def create_upload(actor, data):
    """Store a photo for the caller: shown at once (staff, or WeChat not configured) or after WeChat's check."""
    encoded, content_type, extension, width, height = reencode(data)
    key = f"{secrets.token_hex(16)}.{extension}"
    storage().put(key, encoded, content_type)
    openid = actor.user.openid if actor.user is not None else None
    checked = wechat.configured() and openid is not None
    upload = Upload(owner_id=actor.id, storage_key=key, content_type=content_type, width=width, height=height,
                    size=len(encoded), review=UploadReview.PENDING if checked else UploadReview.PASSED,
                    created_at=utcnow())
    db.session.add(upload)
    db.session.flush()
    if checked:
        _submit_check(upload, openid)
    return upload


def _submit_check(upload, openid):
    # WeChat fetches the photo itself, so its link must be reachable from outside: PUBLIC_BASE_URL.
    trace_id = wechat.submit_media_check(signed_url(upload, public=True), openid)
    upload.trace_id = trace_id
    upload.check_attempts = (upload.check_attempts or 0) + 1
    upload.check_sent_at = utcnow()
    db.session.flush()


# Signed links.

def signed_url(upload, public=False):
    return signed_link(f"/api/v1/uploads/{upload.id}", "upload", upload.id, public=public)


def present(upload):
    return {"id": upload.id, "url": signed_url(upload), "width": upload.width, "height": upload.height}


def _link_expired():
    return Forbidden("link_expired", "图片链接已过期，请刷新后重试")


def _not_found():
    return NotFound("upload_not_found", "图片不存在或已删除")


def open_link(upload_id, exp, sig):
    """The bytes and media type a signed link names: 403 ``link_expired`` when altered or expired, 404 when the
    photo is gone."""
    check("upload", upload_id, exp, sig, _link_expired())
    upload = db.session.get(Upload, upload_id) if valid_id(upload_id) else None
    if upload is None or upload.review == UploadReview.REJECTED:
        raise _not_found()
    data = storage().get(upload.storage_key)
    if data is None:
        raise _not_found()
    return data, upload.content_type


# Attaching to an appeal, and who sees what.

def check_attachable(actor, photo_ids):
    """422 naming ``photo_ids`` unless each is the caller's own, unattached, unexpired and not removed."""
    photo_ids = list(photo_ids or ())
    if len(photo_ids) > MAX_PHOTOS:
        raise ValidationFailed({"photo_ids": [f"最多 {MAX_PHOTOS} 张照片"]})
    if len(set(photo_ids)) != len(photo_ids):
        raise ValidationFailed({"photo_ids": ["照片重复"]})
    if not photo_ids:
        return []
    usable = set(db.session.scalars(select(Upload.id).where(Upload.id.in_(photo_ids), *_attachable(actor))))
    unusable = [i for i in photo_ids if i not in usable]
    if unusable:
        raise ValidationFailed({"photo_ids": [f"照片 {i} 不存在、不属于您、已被使用或已过期" for i in unusable]})
    return photo_ids


def _attachable(actor):
    return (Upload.owner_id == actor.id, Upload.appeal_id.is_(None), Upload.review != UploadReview.REJECTED,
            Upload.created_at > utcnow() - UNATTACHED_LIFETIME)


def attach(actor, photo_ids, appeal):
    """Attach checked photos to the appeal in one conditional UPDATE: a photo another request attached meanwhile
    makes it 422, and the whole request rolls back."""
    if not photo_ids:
        return
    now = utcnow()
    attached = db.session.execute(update(Upload).where(Upload.id.in_(photo_ids), *_attachable(actor))
                                  .values(appeal_id=appeal.id, attached_at=now)
                                  .execution_options(synchronize_session=False)).rowcount
    if attached != len(photo_ids):
        raise ValidationFailed({"photo_ids": ["照片已被使用"]})
    held = db.session.scalars(select(Upload).where(Upload.id.in_(photo_ids), Upload.review == UploadReview.REVIEW))
    for upload in held:
        _queue_for_moderation(upload, appeal.community_id)


def photos_of(viewer, appeals):
    """{appeal id: [photo, ...]} as ``viewer`` may see them: passed photos to everyone who sees the appeal, held ones
    only to their uploader and the community's own staff, removed ones to nobody. One query for a page."""
    ids = [a.id for a in appeals]
    community = {a.id: a.community_id for a in appeals}
    shown = {i: [] for i in ids}
    if not ids:
        return shown
    rows = db.session.scalars(select(Upload).where(Upload.appeal_id.in_(ids),
                                                   Upload.review != UploadReview.REJECTED).order_by(Upload.id))
    for upload in rows:
        if upload.review == UploadReview.PASSED or upload.owner_id == viewer.id or viewer.is_own_staff_of(
                community[upload.appeal_id]):
            shown[upload.appeal_id].append(present(upload))
    return shown


def held_appeal_ids(appeal_ids):
    """Those of these appeals with a photo in review."""
    if not appeal_ids:
        return set()
    return set(db.session.scalars(select(Upload.appeal_id).where(
        Upload.appeal_id.in_(appeal_ids), Upload.review == UploadReview.REVIEW)))


# WeChat's verdicts, staff decisions, and the jobs.

def _community_of(upload):
    if upload.appeal_id is None:
        return None
    return db.session.scalar(select(Appeal.community_id).where(Appeal.id == upload.appeal_id))


def _queue_for_moderation(upload, community_id):
    db.session.add(ModerationItem(community_id=community_id, object_type="appeal", object_id=upload.appeal_id,
                                  field="photo", upload_id=upload.id, author_id=upload.owner_id,
                                  created_at=utcnow()))
    db.session.flush()


def to_review(upload):
    """Staff decide on it: queued for moderation once it is attached (at once, or when attached)."""
    if upload.review != UploadReview.REVIEW:
        upload.review = UploadReview.REVIEW
        db.session.flush()
        if upload.appeal_id is not None:
            _queue_for_moderation(upload, _community_of(upload))


def remove(upload):
    """A photo found risky or rejected: its file deleted, never shown again; the uploader is told."""
    upload.review = UploadReview.REJECTED
    db.session.flush()
    storage().delete(upload.storage_key)
    notifications.notify(upload.owner_id, "content_rejected", "您上传的照片未通过内容安全审核，已被删除",
                         ref=f"upload:{upload.id}", key=f"upload:{upload.id}:rejected")


def pass_photo(upload):
    upload.review = UploadReview.PASSED
    db.session.flush()


def apply_verdict(trace_id, suggest):
    """WeChat's verdict on a photo (``pass``, ``risky`` or ``review``), matched by trace id; an unknown trace or a
    photo already decided is ignored (WeChat may push one event twice)."""
    upload = db.session.scalar(select(Upload).where(Upload.trace_id == trace_id).with_for_update())
    if upload is None or upload.review != UploadReview.PENDING:
        return False
    if suggest == "pass":
        pass_photo(upload)
    elif suggest == "risky":
        remove(upload)
    else:
        to_review(upload)
    return True


def recheck_photos():
    """Photos whose verdict has not come within an hour: WeChat is asked once more; after that, staff decide."""
    now = utcnow()
    waiting = list(db.session.scalars(select(Upload).where(
        Upload.review == UploadReview.PENDING, Upload.check_sent_at < now - VERDICT_WAIT).order_by(Upload.id)))
    asked = reviewed = 0
    for upload in waiting:
        if upload.check_attempts < CHECK_ATTEMPTS and wechat.configured():
            openid = db.session.scalar(select(User.openid).where(User.id == upload.owner_id))
            if openid:
                _submit_check(upload, openid)
                asked += 1
                continue
        to_review(upload)
        reviewed += 1
    return {"asked_again": asked, "to_review": reviewed}


def delete_unattached():
    """Photos attached to nothing a day after upload: their files and rows deleted."""
    old = list(db.session.scalars(select(Upload).where(
        Upload.appeal_id.is_(None), Upload.created_at < utcnow() - UNATTACHED_LIFETIME).order_by(Upload.id)))
    files = storage()
    for upload in old:
        files.delete(upload.storage_key)
        db.session.delete(upload)
    db.session.flush()
    return len(old)
