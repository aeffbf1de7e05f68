from flask import jsonify
from flask_jwt_extended import jwt_required
from marshmallow import Schema, fields, validate

from api.blueprint import Blueprint
from api.downloads import BINARY, send_download
from api.fields import Integer, LocalDateTime
from api.pagination import PageArgs, page_of, paginate
from api.security import PUBLIC, current_actor
from models.background_job import JOB_KINDS, JobStatus
from services import background

blp = Blueprint("jobs", __name__, url_prefix="/api/v1/jobs",
                description="Background jobs: big certificate batches and exports, with their progress")


class JobSubmittedSchema(Schema):
    job_id = Integer(required=True)


def accepted(job):
    """202 with the queued job's id (a Response of its own: the view's own answer is a file)."""
    response = jsonify({"job_id": job.id})
    response.status_code = 202
    return response


class JobErrorSchema(Schema):
    code = fields.String(required=True)
    message = fields.String(required=True)


class JobSchema(Schema):
    id = Integer(dump_only=True)
    kind = fields.String(dump_only=True, validate=validate.OneOf(JOB_KINDS))
    status = fields.String(dump_only=True, validate=validate.OneOf(list(JobStatus)))
    progress = fields.Float(dump_only=True, metadata={"description": "0..1"})
    total = Integer(dump_only=True, allow_none=True, metadata={"description": "Certificates or rows to make"})
    done_count = Integer(dump_only=True)
    error = fields.Nested(JobErrorSchema, dump_only=True, allow_none=True)
    download_url = fields.String(dump_only=True, allow_none=True, metadata={
        "description": "Once done: a signed link (?exp=&sig=), valid UPLOAD_URL_SECONDS, needing no header"})
    created_at = LocalDateTime(dump_only=True)
    finished_at = LocalDateTime(dump_only=True, allow_none=True)


class LinkArgs(Schema):
    exp = fields.String(required=True)
    sig = fields.String(required=True)


@blp.route("")
@jwt_required()
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_of(JobSchema))
def list_jobs(args):
    """The caller's jobs, newest first (a sysadmin sees everyone's)."""
    return paginate(background.list_jobs(current_actor()), args, lambda jobs: [background.present(j) for j in jobs])


@blp.route("/<int:job_id>")
@jwt_required()
@blp.response(200, JobSchema)
@blp.alt_response(404, description="Not the caller's, or no such job (job_not_found)")
def get_job(job_id):
    """A job's status and progress; once done, the link to download its file."""
    return background.present(background.access_job(current_actor(), job_id))


@blp.route("/<int:job_id>/download")
@blp.doc(**PUBLIC)
@blp.arguments(LinkArgs, location="query")
@blp.response(200, BINARY, content_type="application/octet-stream",
              description="The file: a zip of certificates, or CSV or XLSX, as the job made it")
@blp.alt_response(403, description="The link was altered or has expired (link_expired)")
@blp.alt_response(409, description="Not done yet (job_not_done), failed (job_failed), or the file is past "
                                   "JOB_RETENTION_DAYS (job_expired)")
def download_job_file(args, job_id):
    """The file of a done job, for whoever holds the signed link from GET /jobs/{id}."""
    chunks, mimetype, filename = background.download(job_id, args["exp"], args["sig"])
    return send_download(chunks, mimetype, filename)
