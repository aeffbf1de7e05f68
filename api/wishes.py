from flask_smorest import Blueprint

blp = Blueprint("wishes", __name__, url_prefix="/api/v1", description="Wishes (微心愿)")
