from flask_smorest import Blueprint

blp = Blueprint("screen", __name__, url_prefix="/api/v1", description="The organiser's check-in screen")
