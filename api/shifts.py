from flask_smorest import Blueprint

blp = Blueprint("shifts", __name__, url_prefix="/api/v1", description="Shifts and stand-ins")
