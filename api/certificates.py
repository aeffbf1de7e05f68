import tempfile

from flask_jwt_extended import jwt_required
from marshmallow import Schema, fields

from api.blueprint import Blueprint
from api.downloads import send_download
from api.fields import Hours, Id, Integer, LocalDate, LocalDateTime
from api.pagination import PageArgs, filters, page_of, paginate
from api.security import PUBLIC, allowed, current_actor
from extensions import limiter
from services import certificates
from services.authz import require_region_staff

blp = Blueprint("certificates", __name__, url_prefix="/api/v1", description="Certificates (志愿服务证明)")

BINARY = {"type": "string", "format": "binary"}
# Ids beyond a 32-bit integer name nothing and must not reach the database driver.


class CertificateRequestSchema(Schema):
    member_id = Id(load_default=None, allow_none=True,
                               metadata={"description": "Staff name the member; a member omits it"})
    issuer_id = Id(required=True,  metadata={"description": "The issuing community"})
    period_from = LocalDate(required=True, data_key="from")
    period_to = LocalDate(required=True, data_key="to")


class BatchRequestSchema(Schema):
    issuer_id = Id(required=True,  metadata={"description": "The issuing community"})
    period_from = LocalDate(required=True, data_key="from")
    period_to = LocalDate(required=True, data_key="to")


class CertificateSchema(Schema):
    id = Integer(dump_only=True)
    number = fields.String(dump_only=True)
    verify_code = fields.String(dump_only=True)
    member_id = Integer(dump_only=True)
    issuer_id = Integer(dump_only=True)
    period_from = LocalDate(dump_only=True, data_key="from")
    period_to = LocalDate(dump_only=True, data_key="to")
    total_hours = Hours(dump_only=True)
    issued_by = Integer(dump_only=True, allow_none=True)
    issued_at = LocalDateTime(dump_only=True)
    pdf_url = fields.Function(certificates.pdf_url, dump_only=True)
    verify_url = fields.Function(certificates.verify_url, dump_only=True)


class CertificateListArgs(PageArgs):
    member_id = Id()
    issuer_id = Id()


class VerificationSchema(Schema):
    valid = fields.Boolean(dump_only=True)
    number = fields.String(dump_only=True)
    name_masked = fields.String(dump_only=True)
    total_hours = Hours(dump_only=True)
    period_from = LocalDate(dump_only=True, data_key="from", attribute="from")
    period_to = LocalDate(dump_only=True, data_key="to", attribute="to")
    issuer = fields.String(dump_only=True)
    issued_at = LocalDateTime(dump_only=True)


@blp.route("/certificates", methods=["POST"])
@jwt_required()
@blp.arguments(CertificateRequestSchema)
@blp.response(201, CertificateSchema)
@blp.alt_response(404, description="Issuer outside the caller's scope, or unknown member")
@blp.alt_response(422, description="No approved hours at that community in the period (no_approved_hours)")
def issue_certificate(body):
    """Issue a certificate counting only the issuing community's approved hours within the period."""
    return certificates.issue_certificate(current_actor(), **body)


@blp.route("/certificates")
@jwt_required()
@blp.arguments(CertificateListArgs, location="query")
@blp.response(200, page_of(CertificateSchema))
def list_certificates(args):
    """The caller's own certificates and, for staff, those issued by communities in its scope."""
    query = certificates.list_certificates(current_actor(), **filters(args))
    return paginate(query, args)


@blp.route("/certificates/<int:certificate_id>")
@jwt_required()
@blp.response(200, CertificateSchema)
@blp.alt_response(404, description="Unknown, or not the caller's (certificate_not_found)")
def get_certificate(certificate_id):
    """One certificate: its member, or staff covering the issuing community."""
    return certificates.access_certificate(current_actor(), certificate_id)


@blp.route("/certificates/<int:certificate_id>/pdf")
@jwt_required()
@blp.response(200, BINARY, content_type="application/pdf")
@blp.alt_response(404, description="Unknown, or not the caller's (certificate_not_found)")
def certificate_pdf(certificate_id):
    """The certificate as PDF, drawn from what was certified when it was issued."""
    certificate, pdf = certificates.certificate_pdf(current_actor(), certificate_id)
    return send_download(pdf, "application/pdf", f"{certificate.number}.pdf", attachment=False)


@blp.route("/certificates/batch", methods=["POST"])
@jwt_required()
@allowed(require_region_staff)
@blp.arguments(BatchRequestSchema)
@blp.response(200, BINARY, content_type="application/zip")
@blp.alt_response(404, description="Issuer outside the caller's scope")
@blp.alt_response(422, description="Nobody has approved hours there in the period (no_approved_hours)")
def issue_batch(body):
    """Issue one certificate per member with approved hours at the community in the period; a zip of their PDFs,
    built into a temporary file and streamed."""
    batch = certificates.prepare_batch(current_actor(), **body)
    spool = tempfile.TemporaryFile()  # noqa: SIM115 (send_file closes it once the response is sent)
    try:
        certificates.write_batch_zip(batch, spool)
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    return send_download(spool, "application/zip", batch.filename)


@blp.route("/certificates/verify/<string:verify_code>")
@blp.doc(**PUBLIC)
@limiter.limit("30 per minute")
@blp.response(200, VerificationSchema)
@blp.alt_response(404, description="Unknown verify code (certificate_not_found)")
@blp.alt_response(429, description="Too many verifications from this address")
def verify_certificate(verify_code):
    """Anyone may check a certificate by its verify code; the name is masked."""
    return certificates.verify(verify_code)
