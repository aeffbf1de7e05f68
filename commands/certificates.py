"""``certificates ...``: certificate commands."""

import os
import tempfile

import click
from flask.cli import with_appcontext

from errors import DomainError
from services.database import unit_of_work

DATE = click.DateTime(formats=["%Y-%m-%d"])


@click.group("certificates")
def certificates():
    """Certificates (志愿服务证明)."""


@certificates.command("export")
@click.option("--issuer", "issuer_id", required=True, type=int, help="The issuing community's id.")
@click.option("--from", "period_from", required=True, type=DATE, help="First day, YYYY-MM-DD (local).")
@click.option("--to", "period_to", required=True, type=DATE, help="Last day, YYYY-MM-DD (local, inclusive).")
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False, writable=True),
              help="The zip file to write.")
@with_appcontext
def export(issuer_id, period_from, period_to, out_path):
    """Issue a certificate for every member with approved hours at the community in the period and write their
    PDFs into one zip (the same as POST /api/v1/certificates/batch)."""
    from services.certificates import prepare_batch, write_batch_zip

    try:
        batch = prepare_batch(None, issuer_id=issuer_id, period_from=period_from.date(), period_to=period_to.date())
    except DomainError as exc:
        raise click.ClickException(_describe(exc)) from None
    # Written beside the target and renamed at the end, so a failed run never leaves half a zip under that name.
    directory = os.path.dirname(os.path.abspath(out_path))
    fd, partial_path = tempfile.mkstemp(suffix=".zip.part", dir=directory)
    try:
        with os.fdopen(fd, "wb") as out, click.progressbar(
                length=batch.count, label=f"issuing {batch.count} certificates", show_pos=True,
                item_show_func=lambda number: number) as bar, unit_of_work():
            written = write_batch_zip(batch, out, on_issued=lambda number: bar.update(1, number))
        os.replace(partial_path, out_path)
    except BaseException:
        if os.path.exists(partial_path):
            os.unlink(partial_path)
        raise
    click.echo(f"{written} certificates written to {out_path}")


def _describe(exc):
    details = "; ".join(f"{field}: {', '.join(messages)}" for field, messages in exc.details.items())
    return f"{exc.message} ({exc.code}{': ' + details if details else ''})"
