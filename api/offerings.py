"""The service catalog: offerings with bilingual metadata and their start forms."""

from flask_smorest import Blueprint

from api.forms import form_definition
from api.schemas import OfferingDetailSchema, OfferingSchema
from engine import versions

blp = Blueprint(
    "offerings", __name__, url_prefix="/api/v1/offerings", description="Service catalog"
)


def offering_view(version, *, detail: bool = False) -> dict:
    meta = version.meta
    view = {
        "key": version.process_key,
        "version": version.version,
        "name": {"en": meta.get("name_en"), "zh": meta.get("name_zh")},
        "summary": {"en": meta.get("summary_en", ""), "zh": meta.get("summary_zh", "")},
        "description": {"en": meta.get("description_en", ""), "zh": meta.get("description_zh", "")},
        "category": meta.get("category"),
        "expected_duration": meta.get("expected_duration"),
        "keywords": meta.get("keywords", []),
        "start_form": meta.get("start_form"),
    }
    if detail:
        view["start_form_definition"] = form_definition(version, meta.get("start_form"))
    return view


@blp.get("")
@blp.response(200, OfferingSchema(many=True))
def list_offerings():
    """List the catalog: the newest version of every offering."""
    return [offering_view(v) for v in versions.latest_all()]


@blp.get("/<string:key>")
@blp.response(200, OfferingDetailSchema)
def get_offering(key):
    """One offering with its start form definition."""
    return offering_view(versions.latest(key), detail=True)
