from flask import make_response, request
from flask_jwt_extended import jwt_required
from marshmallow import Schema, fields
from werkzeug.exceptions import RequestEntityTooLarge

from api.blueprint import Blueprint
from api.errors import envelope
from api.fields import Integer
from api.security import PUBLIC, current_actor
from errors import TooLarge, ValidationFailed
from services import uploads

blp = Blueprint("uploads", __name__, url_prefix="/api/v1", description="Photos")

# A multipart body is the file and a few hundred bytes of framing; more than this cannot hold an acceptable file.
MULTIPART_SLACK = 64 * 1024
UPLOAD_PATH = "/api/v1/uploads"


class PhotoSchema(Schema):
    id = Integer(required=True)
    url = fields.String(required=True, metadata={"description": "A signed link (?exp=&sig=) valid "
                                                                "UPLOAD_URL_SECONDS, needing no header"})
    width = Integer(required=True)
    height = Integer(required=True)


class UploadForm(Schema):
    file = fields.Raw(required=True, metadata={"type": "string", "format": "binary"})


class LinkArgs(Schema):
    exp = fields.String(required=True)
    sig = fields.String(required=True)


@blp.before_app_request
def refuse_large_uploads():
    """413 before anything else is read (the contract's first answer), and a larger body limit for this one path
    than for JSON."""
    if request.path != UPLOAD_PATH or request.method != "POST":
        return None
    limit = uploads.MAX_BYTES + MULTIPART_SLACK
    if request.content_length is not None and request.content_length > limit:
        return envelope(413, "too_large", f"图片不能超过 {uploads.MAX_BYTES} 字节")
    request.max_content_length = limit
    return None


@blp.route("/uploads", methods=["POST"])
@jwt_required()
@blp.doc(requestBody={"required": True, "content": {"multipart/form-data": {"schema": UploadForm}}})
@blp.response(201, PhotoSchema)
@blp.alt_response(413, description="Larger than 5,242,880 bytes (too_large)")
@blp.alt_response(422, description="No `file` part, or not a decodable JPEG, PNG or WebP of at most 40 megapixels "
                                   "(invalid_image)")
def create_upload():
    """A photo (multipart field `file`): decoded and re-encoded, so EXIF (a GPS position included) never survives."""
    try:
        file = request.files.get("file")
    except RequestEntityTooLarge:
        raise TooLarge("too_large", f"图片不能超过 {uploads.MAX_BYTES} 字节") from None
    if file is None:
        raise ValidationFailed({"file": ["请上传图片（multipart 字段 file）"]})
    data = file.read(uploads.MAX_BYTES + 1)
    return uploads.present(uploads.create_upload(current_actor(), data))


@blp.route("/uploads/<int:upload_id>")
@blp.doc(**PUBLIC)
@blp.arguments(LinkArgs, location="query")
@blp.doc(responses={"200": {"description": "The photo", "content": {
    "image/jpeg": {"schema": {"type": "string", "format": "binary"}},
    "image/png": {"schema": {"type": "string", "format": "binary"}},
    "image/webp": {"schema": {"type": "string", "format": "binary"}}}}})
@blp.alt_response(403, description="The link was altered or has expired (link_expired)")
@blp.alt_response(404, description="Removed, or never there (upload_not_found)")
def get_upload(args, upload_id):
    """The photo a signed link names; no sign-in (the signature is the permission)."""
    data, content_type = uploads.open_link(upload_id, args["exp"], args["sig"])
    response = make_response(data)
    response.headers["Content-Type"] = content_type
    response.headers["Cache-Control"] = "private, max-age=300"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
