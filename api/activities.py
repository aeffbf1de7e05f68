from flask_smorest import Blueprint

blp = Blueprint("activities", __name__, url_prefix="/api/v1", description="Activities and sign-ups")
