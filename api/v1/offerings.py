"""The service catalog: offerings with bilingual metadata and their start forms."""

from flask_smorest import Blueprint

from api.v1 import openapi
from api.v1.schemas import CategorySchema, OfferingDetailSchema, OfferingSchema
from engine.catalog import reads as catalog

blp = Blueprint(
    "offerings", __name__, url_prefix="/api/v1/offerings", description="Service catalog"
)


@blp.get("")
@blp.doc(
    operationId="listOfferings", **openapi.links(200, getOffering={"key": "$response.body#/0/key"})
)
@blp.response(200, OfferingSchema(many=True))
def list_offerings():
    """List the catalog: the newest version of every offering."""
    return [catalog.offering(v) for v in catalog.latest_all()]


@blp.get("/categories")
@blp.doc(operationId="listCategories")
@blp.response(200, CategorySchema(many=True))
def list_categories():
    """The catalog's business scenarios, in page order."""
    return catalog.categories()


@blp.get("/<offering_key:key>")
@blp.doc(operationId="getOffering")
@blp.response(200, OfferingDetailSchema)
def get_offering(key):
    """One offering with its start form definition."""
    version = catalog.latest(key)
    view = catalog.offering(version)
    form = catalog.form_of(version, view["start_form"])
    view["start_form_definition"] = form.to_dict() if form else None
    return view
