"""``certificates ...``: certificate commands."""

import click


@click.group("certificates")
def certificates():
    """Certificates (志愿服务证明)."""
