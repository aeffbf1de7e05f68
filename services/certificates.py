"""Volunteer service certificates (志愿服务证明).

The rule (民政部《志愿服务记录与证明出具办法（试行）》): whoever organised the service records it and certifies it.
A certificate is issued by ONE community and counts only that community's APPROVED service records whose start
falls within the period's local dates (inclusive). It is immutable: what it certifies is copied into
``Certificate.snapshot`` when issued and the PDF is drawn from that copy, so a later correction of hours never
changes an issued certificate (a new one can be issued).
"""

import itertools
import secrets
import zipfile
from dataclasses import dataclass, field
from decimal import Decimal

from flask import current_app
from sqlalchemy import func, or_, select

from clock import EARLIEST, LATEST, to_local, utcnow, within_local_days
from errors import Conflict, NotFound, ValidationFailed
from extensions import db
from models import Activity, Certificate, Post, Region, ServiceRecord, Shift, User
from models.record import RecordStatus
from services.authz import community_field, fetch, region_scope, require_region_staff, row_field, within_scope
from services.certificate_pdf import render_certificate_pdf
from services.database import add_unique, commit_batch
from services.pii import mask_name

CENT = Decimal("0.01")
NUMBER_ATTEMPTS = 5
BATCH_CHUNK = 200
# Volunteer service records start well after 2000; the bounds also keep date arithmetic far from its limits.


class NoApprovedHours(ValidationFailed):
    default_code = "no_approved_hours"
    default_message = "该期间内没有在本社区经审核通过的服务时长，无法出具证明"


def _no_hours():
    return NoApprovedHours({"from": ["该期间内没有经审核通过的服务时长"], "to": ["该期间内没有经审核通过的服务时长"]})


def _check_period(period_from, period_to):
    errors = {name: ["日期须在 2000-01-01 至 2100-12-31 之间"]
              for name, day in (("from", period_from), ("to", period_to)) if not EARLIEST <= day <= LATEST}
    if not errors and period_to < period_from:
        errors["to"] = ["结束日期不能早于开始日期"]
    if errors:
        raise ValidationFailed(errors)


def _counted(issuer_id, period_from, period_to):
    """The filter of the records a certificate counts: approved, of this community, started within the period."""
    return (ServiceRecord.community_id == issuer_id, ServiceRecord.status == RecordStatus.APPROVED,
            *within_local_days(ServiceRecord.started_at, period_from, period_to))


def _record_rows(member_ids, issuer_id, period_from, period_to):
    """(record, activity title, post name) for these members, in time order."""
    query = (select(ServiceRecord, Activity.title, Post.name)
             .outerjoin(Activity, ServiceRecord.activity_id == Activity.id)
             .outerjoin(Shift, ServiceRecord.shift_id == Shift.id)
             .outerjoin(Post, Shift.post_id == Post.id)
             .where(ServiceRecord.member_id.in_(member_ids), *_counted(issuer_id, period_from, period_to))
             .order_by(ServiceRecord.member_id, ServiceRecord.started_at, ServiceRecord.id))
    return db.session.execute(query).all()


def _snapshot_record(record, activity_title, post_name):
    title = activity_title or post_name or record.description or "志愿服务"
    return {"date": to_local(record.started_at).date().isoformat(), "title": title[:200],
            "hours": str(Decimal(record.hours).quantize(CENT))}


def _snapshot(member, issuer, period_from, period_to, records, number, verify_code, issued_at):
    total = sum((Decimal(r["hours"]) for r in records), Decimal(0)).quantize(CENT)
    return {
        "number": number,
        "member": {"name": member.name or "", "volunteer_number": member.volunteer_number or "",
                   "id_number_masked": member.id_number_masked or ""},
        "issuer": {"id": issuer.id, "name": issuer.name, "contact_name": issuer.contact_name or "",
                   "contact_phone": issuer.contact_phone or "", "address": issuer.address or ""},
        "period": {"from": period_from.isoformat(), "to": period_to.isoformat()},
        "records": records,
        "total_hours": str(total),
        "issued_at": to_local(issued_at).isoformat(),
        "issue_date": to_local(issued_at).date().isoformat(),
        "verify_url": verify_url_for(verify_code),
    }


def verify_url_for(verify_code):
    return f"{current_app.config['PUBLIC_BASE_URL']}/api/v1/certificates/verify/{verify_code}"


def pdf_url(certificate):
    return f"/api/v1/certificates/{certificate.id}/pdf"


def verify_url(certificate):
    return certificate.snapshot.get("verify_url") or verify_url_for(certificate.verify_code)


def _next_number(issuer_id, day):
    """``BD{issuer:04d}-{YYYYMMDD}-{seq:04d}``: the issuer's sequence for the local issue day."""
    prefix = f"BD{issuer_id:04d}-{day:%Y%m%d}-"
    latest = db.session.scalar(select(func.max(Certificate.number)).where(Certificate.number.startswith(prefix)))
    seq = int(latest.rsplit("-", 1)[1]) + 1 if latest else 1
    return f"{prefix}{seq:04d}"


def _issue(member, issuer, period_from, period_to, rows, issued_by, via):
    """Insert one certificate; the unique number is retried when a concurrent issue took it first."""
    records = [_snapshot_record(*row) for row in rows]
    if not records:
        raise _no_hours()
    for _attempt in range(NUMBER_ATTEMPTS):
        issued_at = utcnow()
        number = _next_number(issuer.id, to_local(issued_at).date())
        verify_code = secrets.token_urlsafe(24)
        snapshot = _snapshot(member, issuer, period_from, period_to, records, number, verify_code, issued_at)
        certificate = Certificate(number=number, verify_code=verify_code, member_id=member.id, issuer_id=issuer.id,
                                  period_from=period_from, period_to=period_to,
                                  total_hours=Decimal(snapshot["total_hours"]), snapshot=snapshot,
                                  issued_by=issued_by, issued_via=via, issued_at=issued_at)
        if add_unique(certificate):
            return certificate
    raise Conflict("certificate_number_busy", "同时出具的证明较多，请稍后重试")


def issue_certificate(actor, *, issuer_id, period_from, period_to, member_id=None):
    """Issue a certificate for one member. Region staff covering the issuing community may issue for anyone;
    a member may ask only for itself (``member_id`` omitted or its own id)."""
    own = member_id is None or member_id == actor.id
    if not own:
        require_region_staff(actor)
    issuer = community_field(issuer_id, "issuer_id")
    # Anyone may ask for its own certificate from whichever community it served in.
    member = actor.user if own else row_field(User, member_id, "member_id", "成员不存在")
    _check_period(period_from, period_to)
    if not own:
        within_scope(actor, issuer)
    rows = _record_rows([member.id], issuer.id, period_from, period_to)
    return _issue(member, issuer, period_from, period_to, rows, actor.id, "api")


def access_certificate(actor, certificate_id):
    """The member's own certificate, or one issued by a community the staff member covers; otherwise 404."""
    certificate = fetch(Certificate, certificate_id, NotFound("certificate_not_found", "证明不存在"))
    if certificate.member_id == actor.id or actor.covers_community_id(certificate.issuer_id):
        return certificate
    raise NotFound("certificate_not_found", "证明不存在")


def list_certificates(actor, *, member_id=None, issuer_id=None):
    """The caller's own certificates and, for region staff, those issued by communities in its scope."""
    query = (select(Certificate)
             .where(or_(Certificate.member_id == actor.id, region_scope(actor, Certificate.issuer_id)))
             .order_by(Certificate.id.desc()))
    if member_id is not None:
        query = query.where(Certificate.member_id == member_id)
    if issuer_id is not None:
        query = query.where(Certificate.issuer_id == issuer_id)
    return query


def certificate_pdf(actor, certificate_id):
    """The PDF, drawn from the snapshot taken when it was issued."""
    certificate = access_certificate(actor, certificate_id)
    return certificate, render_certificate_pdf(certificate.snapshot)


def verify(verify_code):
    """What anyone may learn from a verify code: the certificate's facts, with the name masked."""
    certificate = db.session.scalar(select(Certificate).where(Certificate.verify_code == verify_code))
    if certificate is None:
        raise NotFound("certificate_not_found", "证明不存在或验证码有误")
    snapshot = certificate.snapshot
    return {"valid": True, "number": certificate.number, "name_masked": mask_name(snapshot["member"]["name"]),
            "volunteer_number": snapshot["member"].get("volunteer_number") or None,
            "total_hours": certificate.total_hours, "from": certificate.period_from, "to": certificate.period_to,
            "issuer": snapshot["issuer"]["name"], "issued_at": certificate.issued_at}


def forget_holder(member_id):
    """A closed account's certificates stay valid under its volunteer number: the one change ever made to a
    snapshot removes the holder's name and masked ID number from it (the PDF and verification then show neither)."""
    for certificate in db.session.scalars(select(Certificate).where(Certificate.member_id == member_id)):
        holder = {**certificate.snapshot["member"], "name": "", "id_number_masked": ""}
        certificate.snapshot = {**certificate.snapshot, "member": holder}
    db.session.flush()


@dataclass
class Batch:
    """Certificates to issue for every member with approved hours at one community in one period."""

    issuer: Region
    period_from: object
    period_to: object
    member_ids: list = field(default_factory=list)
    issued_by: int | None = None
    via: str = "api"

    @property
    def count(self):
        return len(self.member_ids)

    @property
    def filename(self):
        return f"certificates-{self.issuer.id}-{self.period_from:%Y%m%d}-{self.period_to:%Y%m%d}.zip"


def prepare_batch(actor, *, issuer_id, period_from, period_to):
    """Staff covering the community (or, with ``actor`` None, the operator at the command line) issue for every
    member with approved hours there in the period; none at all is a 422."""
    if actor is not None:
        require_region_staff(actor)
    issuer = community_field(issuer_id, "issuer_id")
    _check_period(period_from, period_to)
    # No actor: the operator at the server's command line, who may issue for any community.
    if actor is not None:
        within_scope(actor, issuer)
    member_ids = list(db.session.scalars(
        select(ServiceRecord.member_id).where(*_counted(issuer.id, period_from, period_to))
        .group_by(ServiceRecord.member_id).order_by(ServiceRecord.member_id)))
    if not member_ids:
        raise _no_hours()
    return Batch(issuer, period_from, period_to, member_ids,
                 issued_by=actor.id if actor else None, via="api" if actor else "cli")


def _already_issued(member_ids, batch):
    """{member id: snapshot} of the certificates these members already hold from this issuer for this very period
    (the latest of each): a batch run again hands them out again instead of issuing a second set."""
    latest = (select(func.max(Certificate.id)).where(
        Certificate.member_id.in_(member_ids), Certificate.issuer_id == batch.issuer.id,
        Certificate.period_from == batch.period_from, Certificate.period_to == batch.period_to)
        .group_by(Certificate.member_id))
    return {c.member_id: c.snapshot for c in db.session.scalars(select(Certificate).where(Certificate.id.in_(latest)))}


def write_batch_zip(batch, fileobj, on_issued=None):
    """Issue each member's certificate (or reuse the one the member already holds for the same issuer and period)
    and add its PDF to the zip written to ``fileobj``. Members go in chunks, each committed on its own
    (``commit_batch``), so thousands of members never sit in memory or in one transaction at once."""
    written = 0
    with zipfile.ZipFile(fileobj, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for start in range(0, batch.count, BATCH_CHUNK):
            chunk = batch.member_ids[start:start + BATCH_CHUNK]
            # Two batches of one issuer at once (two workers, or a job and a synchronous call) take turns chunk by
            # chunk on the issuer's row, so the second sees, and reuses, what the first issued.
            db.session.execute(select(Region.id).where(Region.id == batch.issuer.id).with_for_update(key_share=True))
            reused = _already_issued(chunk, batch)
            to_issue = [member_id for member_id in chunk if member_id not in reused]
            members = {m.id: m for m in db.session.scalars(select(User).where(User.id.in_(to_issue)))}
            rows = _record_rows(to_issue, batch.issuer.id, batch.period_from, batch.period_to) if to_issue else []
            issued = [reused[member_id] for member_id in chunk if member_id in reused]
            for member_id, member_rows in itertools.groupby(rows, key=lambda row: row[0].member_id):
                certificate = _issue(members[member_id], batch.issuer, batch.period_from, batch.period_to,
                                     list(member_rows), batch.issued_by, batch.via)
                issued.append(certificate.snapshot)
            commit_batch()
            for snapshot in issued:
                name = f"{snapshot['number']}_{snapshot['member']['volunteer_number']}.pdf"
                archive.writestr(name, render_certificate_pdf(snapshot))
                written += 1
                if on_issued is not None:
                    on_issued(snapshot["number"])
    return written
