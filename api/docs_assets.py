"""Swagger UI's own files for ``/api/v1/docs``, served by baodao from the flask-swagger-ui package (which ships
Swagger UI's dist), so the docs page works where no CDN can be reached, on a government intranet for one.
Not an API operation: it stays out of the OpenAPI document."""

from pathlib import Path

import flask_swagger_ui
from flask import Blueprint, send_from_directory

SWAGGER_UI_DIST = Path(flask_swagger_ui.__file__).resolve().parent / "dist"
# The release of Swagger UI that the package carries changes only with a new pin in requirements.txt.
CACHE_SECONDS = 24 * 3600

blp = Blueprint("docs_assets", __name__, url_prefix="/api/v1/docs/assets")


@blp.route("/<path:filename>")
def swagger_ui_asset(filename):
    return send_from_directory(SWAGGER_UI_DIST, filename, max_age=CACHE_SECONDS)
