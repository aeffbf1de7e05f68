from flask_smorest import Blueprint

blp = Blueprint("lists", __name__, url_prefix="/api/v1", description="Three lists (三个清单)")
