"""What the OpenAPI document says beyond what flask-smorest derives from the marshmallow schemas.

- A schema's `Meta.openapi` dict is merged into its JSON Schema: rules across fields (`oneOf`
  of required sets) that marshmallow checks in code.
- `{key}` in paths is an offering key, documented with its pattern.
- Links: which answer supplies the identifiers other operations take (clients and
  schemathesis follow them from a created request to its tasks, comments and history).
"""

from apispec.ext.marshmallow import MarshmallowPlugin, OpenAPIConverter
from werkzeug.routing import UnicodeConverter

from engine.bpmn.specs import KEY_PATTERN


class _Converter(OpenAPIConverter):
    def schema2jsonschema(self, schema):
        jsonschema = super().schema2jsonschema(schema)
        jsonschema.update(getattr(getattr(schema, "Meta", None), "openapi", {}))
        return jsonschema


class _Plugin(MarshmallowPlugin):
    Converter = _Converter


def marshmallow_plugin() -> MarshmallowPlugin:
    return _Plugin()


class OfferingKeyConverter(UnicodeConverter):
    """`<offering_key:key>`: any path segment (a bad key gets a 422 with the rule, not a 404)."""


def offering_key_schema(_converter) -> dict:
    return {"type": "string", "pattern": KEY_PATTERN.pattern}


def register(app, api) -> None:
    app.url_map.converters["offering_key"] = OfferingKeyConverter
    api.register_converter(OfferingKeyConverter, offering_key_schema)


def links(status: int, **targets: dict[str, str]) -> dict:
    """`@blp.doc(**links(201, getInstance={"instance_id": "$response.body#/id"}))`."""
    return {
        "responses": {
            str(status): {
                "links": {
                    operation: {"operationId": operation, "parameters": parameters}
                    for operation, parameters in targets.items()
                }
            }
        }
    }


def instance_links(status: int, pointer: str) -> dict:
    """Links from an answer holding a request at JSON pointer `pointer` (e.g. '' or '/items/0')."""
    ref = {"instance_id": f"$response.body#{pointer}/id"}
    task = {"task_id": f"$response.body#{pointer}/open_tasks/0/task_id"}
    operations = dict.fromkeys(
        ["getInstance", "cancelInstance", "listComments", "addComment", "listAttachments"], ref
    )
    if pointer == "":  # a state answer also lists the open tasks
        operations |= dict.fromkeys(
            ["getTask", "claimTask", "unclaimTask", "reassignTask", "completeTask"], task
        )
    return links(status, **operations)


def task_links(status: int, pointer: str) -> dict:
    ref = {"task_id": f"$response.body#{pointer}/task_id"}
    operations = ["getTask", "claimTask", "unclaimTask", "reassignTask", "completeTask"]
    return links(status, **dict.fromkeys(operations, ref))
