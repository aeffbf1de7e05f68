"""The console's pages: each parses its form, calls one service with the signed-in Actor, and renders."""

from flask import current_app, render_template

from console import bp
from console.auth import current_actor
from services import console as console_service


@bp.route("/")
def dashboard():
    actor = current_actor()
    return render_template("console/dashboard.html", counts=console_service.waiting(actor),
                           figures=console_service.figures(actor))


NAV = (
    ("console.dashboard", "工作台", None),
)


@bp.app_template_filter("rate")
def rate_filter(value):
    return "—" if value is None else f"{float(value) * 100:.1f}%"


@bp.context_processor
def page_context():
    actor = current_actor()

    def nav_items(actor):
        return [(endpoint, label) for endpoint, label, allowed in NAV if allowed is None or allowed(actor)]

    return {"actor": actor, "nav_items": nav_items, "endpoints": current_app.view_functions}
