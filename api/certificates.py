import tempfile

from flask import make_response, render_template, request
from flask_jwt_extended import jwt_required
from marshmallow import Schema, fields

from api.blueprint import Blueprint
from api.downloads import BINARY, HTML, send_download
from api.fields import Hours, Id, Integer, LocalDate, LocalDateTime
from api.jobs import JobSubmittedSchema, accepted
from api.pagination import PageArgs, filters, page_of, paginate
from api.security import PUBLIC, allowed, current_actor
from clock import to_local
from errors import NotFound
from extensions import limiter
from services import background, certificates
from services.authz import require_region_staff

blp = Blueprint("certificates", __name__, url_prefix="/api/v1", description="Certificates (志愿服务证明)")

VERIFY_PAGE_HEADERS = {
    "Cache-Control": "no-cache",
    # The verify code is in the address: never send it on to another site.
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'",
}
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


class AsyncArgs(Schema):
    run_async = fields.Boolean(data_key="async", load_default=False,
                               metadata={"description": "Run as a background job: 202 with its id"})


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
    name_masked = fields.String(dump_only=True, allow_none=True)
    volunteer_number = fields.String(dump_only=True, allow_none=True)
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
@blp.arguments(AsyncArgs, location="query")
@blp.arguments(BatchRequestSchema)
@blp.response(200, BINARY, content_type="application/zip")
@blp.alt_response(202, schema=JobSubmittedSchema, success=True,
                  description="With `async=true`: queued as a background job (GET /jobs/{id})")
@blp.alt_response(404, description="Issuer outside the caller's scope")
@blp.alt_response(422, description="Nobody has approved hours there in the period (no_approved_hours)")
def issue_batch(query, body):
    """Issue one certificate per member with approved hours at the community in the period; a zip of their PDFs,
    built into a temporary file and streamed. With `async=true` (a street's thousands) it runs as a background job
    with its progress, and the zip is downloaded when done."""
    if query["run_async"]:
        return accepted(background.submit_certificate_batch(current_actor(), **body))
    return send_batch_zip(certificates.prepare_batch(current_actor(), **body))


def send_batch_zip(batch):
    """The batch's zip, written to a temporary file first (a failure is still an error answer) and streamed."""
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
@blp.response(200, VerificationSchema, description="The certificate's facts: JSON, or a readable page")
@blp.alt_response(200, schema=HTML, content_type="text/html", success=True,
                  description="Accept preferring text/html: a readable page of the same facts")
@blp.alt_response(404, description="Unknown verify code (certificate_not_found): the envelope, or a readable page")
@blp.alt_response(404, schema=HTML, content_type="text/html", description="Unknown verify code: a readable page")
@blp.alt_response(429, description="Too many verifications from this address")
def verify_certificate(verify_code):
    """Anyone may check a certificate by its verify code; the name is masked. A browser (Accept preferring
    text/html to application/json: a phone that scanned the certificate's QR code) gets a readable page with the
    same facts, and an unknown code a readable 404 page; anyone else JSON."""
    if not prefers_html():
        return certificates.verify(verify_code)
    try:
        facts = certificates.verify(verify_code)
    except NotFound:
        return _verify_page(None, 404)
    return _verify_page(facts, 200)


@blp.after_request
def vary_on_accept(response):
    # The verify URL answers HTML or JSON by the Accept header: caches must keep the two apart, errors included.
    if request.endpoint == "certificates.verify_certificate":
        response.vary.add("Accept")
    return response


def prefers_html():
    """Whether the caller ranks text/html above application/json (by quality, then by naming it rather than a
    wildcard); */*, a tie or no Accept at all mean JSON."""
    return request.accept_mimetypes.best_match(["application/json", "text/html"]) == "text/html"


def _verify_page(facts, status):
    shown = None
    if facts is not None:
        issued = to_local(facts["issued_at"])
        shown = {**facts, "hours": f"{facts['total_hours']:.2f}", "issued_at": f"{_date(issued)} {issued:%H:%M}",
                 "period": f"{_date(facts['from'])} 至 {_date(facts['to'])}"}
    response = make_response(render_template("verify.html", facts=shown), status)
    response.headers.update(VERIFY_PAGE_HEADERS)
    return response


def _date(day):
    return f"{day.year}年{day.month}月{day.day}日"
