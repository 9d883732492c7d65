"""Request and response schemas (marshmallow); the OpenAPI document is generated from them."""

import json
from datetime import UTC

from marshmallow import INCLUDE, Schema, ValidationError, fields, validate, validates_schema

from engine.audit.kinds import AuditKind
from engine.identity.models import MAX_ROLES
from engine.identity.roles import Capability
from engine.identity.service import TOKEN_SCOPES
from engine.instances.models import InstanceStatus


class Timestamp(fields.AwareDateTime):
    """A time with its UTC offset (the database stores naive UTC)."""

    def __init__(self, **kwargs):
        super().__init__(format="iso", default_timezone=UTC, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        moment = super()._deserialize(value, attr, data, **kwargs)
        try:
            moment.astimezone(UTC)  # 0001-01-01T00:00+08:00 is before the first UTC time there is
        except OverflowError as exc:
            raise ValidationError("is outside the range of times.") from exc
        return moment

    def _serialize(self, value, attr, obj, **kwargs):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return super()._serialize(value, attr, obj, **kwargs)


class DeployProblemSchema(Schema):
    file = fields.String(allow_none=True)
    line = fields.Integer(allow_none=True)
    id = fields.String(allow_none=True, metadata={"description": "the BPMN element's id"})
    message = fields.String()


class ProblemSchema(Schema):
    """RFC 9457 problem details; like the RFC, other members may be added."""

    class Meta:
        unknown = INCLUDE

    type = fields.String(required=True)
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    code = fields.String(required=True, metadata={"description": "stable, for programs"})
    detail = fields.String(required=True)
    errors = fields.Dict(
        keys=fields.String(),
        metadata={"description": "invalid_input: the messages for each field"},
    )
    problems = fields.List(
        fields.Nested(DeployProblemSchema),
        metadata={"description": "invalid_process: what is wrong, where in which file"},
    )


class HealthSchema(Schema):
    status = fields.String(required=True, validate=validate.OneOf(["ok", "fail"]))
    problems = fields.List(fields.String())


class PageArgs(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100000))
    page_size = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


class InstanceWaitArgs(Schema):
    revision = fields.Integer(
        validate=validate.Range(min=0, max=2**31 - 1),
        metadata={"description": "the revision the client has: with wait, answer once it moves"},
    )
    wait = fields.Float(
        load_default=0.0, validate=validate.Range(min=0, max=30),
        metadata={"description": "seconds to wait for a change from `revision` (long poll)"},
    )  # fmt: skip


class InstanceListArgs(PageArgs):
    scope = fields.String(load_default="mine", validate=validate.OneOf(["mine", "all"]))
    status = fields.String(validate=validate.OneOf([s.value for s in InstanceStatus]))
    offering = fields.String(validate=validate.Length(max=64))


class TaskListArgs(PageArgs):
    scope = fields.String(load_default="all", validate=validate.OneOf(["mine", "groups", "all"]))
    offering = fields.String(validate=validate.Length(max=64))


class LocalizedSchema(Schema):
    en = fields.String()
    zh = fields.String()


class OfferingSchema(Schema):
    key = fields.String()
    version = fields.Integer()
    name = fields.Nested(LocalizedSchema)
    summary = fields.Nested(LocalizedSchema)
    description = fields.Nested(LocalizedSchema)
    category = fields.String(allow_none=True)
    department = fields.String(
        allow_none=True,
        metadata={"description": "whose agents handle its requests (none: every agent's)"},
    )
    expected_duration = fields.String(allow_none=True, metadata={"description": "ISO 8601"})
    keywords = fields.List(fields.String())
    start_form = fields.String(allow_none=True)


class OfferingDetailSchema(OfferingSchema):
    start_form_definition = fields.Dict(allow_none=True)


FORM_DATA = (
    "The fields of the form: the start form's for a start (its JSON Schema is "
    "GET /api/v1/offerings/{key} -> start_form_definition), the step's for a task "
    "(GET /api/v1/tasks/{task_id} -> form). Files are {'attachment_id': n} from "
    "POST /api/v1/instances/attachments."
)


class StartInstanceSchema(Schema):
    class Meta:
        openapi = {
            "example": {
                "offering": "new_hire_onboarding",
                "data": {
                    "first_name": "Wei",
                    "last_name": "Zhang",
                    "username": "wei.zhang",
                    "personal_email": "wei@example.com",
                    "department": "engineering",
                    "role": "Backend engineer",
                    "start_date": "2099-06-01",
                    "employment_type": "employee",
                    "location": "shanghai",
                },
            }
        }

    offering = fields.String(required=True, validate=validate.Length(min=1, max=64))
    data = fields.Dict(keys=fields.String(), load_default=dict, metadata={"description": FORM_DATA})
    title = fields.String(validate=validate.Length(min=1, max=200))
    business_key = fields.String(validate=validate.Length(min=1, max=120))


class CompleteTaskSchema(Schema):
    data = fields.Dict(keys=fields.String(), load_default=dict, metadata={"description": FORM_DATA})


class ReassignSchema(Schema):
    assignee = fields.String(required=True, validate=validate.Length(min=1, max=64))


class NewCommentSchema(Schema):
    body = fields.String(required=True, validate=validate.Length(min=1, max=4000))


class CommentSchema(Schema):
    id = fields.Integer()
    author = fields.Function(lambda c: c.author.username)
    body = fields.String()
    created_at = Timestamp()


class AttachmentSchema(Schema):
    attachment_id = fields.Integer(attribute="id")
    filename = fields.String()
    size = fields.Integer()
    content_type = fields.String()
    created_at = Timestamp()


class CancelSchema(Schema):
    reason = fields.String(load_default="", validate=validate.Length(max=500))


class TaskSchema(Schema):
    task_id = fields.String()
    instance_id = fields.Integer()
    offering_key = fields.String()
    bpmn_id = fields.String()
    name = fields.String()
    lane = fields.String(allow_none=True)
    candidate_group = fields.String(allow_none=True)
    assignee = fields.Function(lambda t: t.assignee.username if t.assignee else None)
    form_key = fields.String(allow_none=True)
    state = fields.String()
    decision = fields.String(allow_none=True, metadata={"description": "approved or rejected"})
    created_at = Timestamp()
    due_at = Timestamp(allow_none=True)
    priority = fields.Integer(allow_none=True, metadata={"description": "Higher comes first"})
    completed_at = Timestamp(allow_none=True)
    completed_by = fields.Function(lambda t: t.completed_by.username if t.completed_by else None)
    instance_title = fields.Function(lambda t: t.instance.title)


class TaskDetailSchema(TaskSchema):
    instructions = fields.String(allow_none=True)
    instructions_zh = fields.String(allow_none=True)
    form = fields.Dict(allow_none=True)


class EventSchema(Schema):
    id = fields.Integer()
    kind = fields.String()
    actor = fields.Function(lambda e: e.actor.username if e.actor else None)
    bpmn_id = fields.String(allow_none=True)
    payload = fields.Dict()
    created_at = Timestamp()


class InstanceSchema(Schema):
    id = fields.Integer()
    offering_key = fields.String()
    process_version = fields.Function(lambda i: i.process_version.version)
    title = fields.String()
    title_zh = fields.String(allow_none=True)
    business_key = fields.String(allow_none=True)
    status = fields.String()
    outcome = fields.String(
        allow_none=True, metadata={"description": "done, approved, rejected or cancelled"}
    )
    outcome_reason = fields.String(allow_none=True)
    requested_by = fields.Function(lambda i: i.requested_by.username)
    created_at = Timestamp()
    updated_at = Timestamp()
    completed_at = Timestamp(allow_none=True)
    next_timer_at = Timestamp(allow_none=True)
    revision = fields.Function(
        lambda i: i.version, metadata={"type": "integer",
        "description": "grows with every change of the request: `GET …?revision=&wait=` waits "
                       "for the next one"},
    )  # fmt: skip


class InstanceStateSchema(InstanceSchema):
    """What a state change answers: the request and the steps now open (no history)."""

    open_tasks = fields.List(fields.Nested(TaskSchema))
    data = fields.Dict()


class InstanceDetailSchema(InstanceStateSchema):
    events = fields.List(fields.Nested(EventSchema))


class InstancePageSchema(Schema):
    items = fields.List(fields.Nested(InstanceSchema))
    total = fields.Integer()
    page = fields.Integer()
    page_size = fields.Integer()


class TaskPageSchema(Schema):
    items = fields.List(fields.Nested(TaskSchema))
    total = fields.Integer()
    page = fields.Integer()
    page_size = fields.Integer()


class VersionSchema(Schema):
    process_key = fields.String()
    version = fields.Integer()
    content_hash = fields.String()
    is_bundled = fields.Boolean()
    created_at = Timestamp()
    name = fields.Function(lambda v: v.meta.get("name_en"))
    process_id = fields.Function(
        lambda v: v.meta.get("process_id", v.process_key),
        metadata={"description": "The BPMN id of the main process, kept as the file has it"},
    )


class VersionDetailSchema(VersionSchema):
    files = fields.Dict(keys=fields.String(), values=fields.String())
    forms = fields.Dict()
    meta = fields.Dict()


class CategorySchema(Schema):
    key = fields.String()
    name = fields.Function(lambda c: {"en": c.name_en, "zh": c.name_zh})
    icon = fields.String()


class UserSchema(Schema):
    username = fields.String()
    display_name = fields.String()
    email = fields.String()
    roles = fields.Function(lambda u: sorted(u.role_set))
    groups = fields.Function(lambda u: sorted(u.group_keys))
    locale = fields.String()


class FailedStepListArgs(PageArgs):
    offering = fields.String(validate=validate.Length(max=64))
    operation = fields.String(validate=validate.Length(max=120))
    error = fields.String(validate=validate.Length(max=200))


class FailedStepSchema(Schema):
    id = fields.Integer(metadata={"description": "the failed job's id"})
    instance_id = fields.Integer()
    offering_key = fields.Function(lambda j: j.instance.offering_key)
    instance_title = fields.Function(lambda j: j.instance.title)
    bpmn_id = fields.String()
    kind = fields.String(
        metadata={
            "description": "operation (a service task) or step (an engine step: retry or "
            "correct it)"
        }
    )
    operation = fields.String()
    params = fields.Dict()
    status = fields.String()
    attempts = fields.Integer()
    error = fields.String(allow_none=True)
    traceback = fields.String(allow_none=True)
    updated_at = Timestamp()


class FailedStepPageSchema(Schema):
    items = fields.List(fields.Nested(FailedStepSchema))
    total = fields.Integer()
    page = fields.Integer()
    page_size = fields.Integer()


class FailedStepFilterSchema(Schema):
    class Meta:
        openapi = {"minProperties": 1}

    offering = fields.String(validate=validate.Length(max=64))
    operation = fields.String(validate=validate.Length(max=120))
    error = fields.String(validate=validate.Length(max=200))


class FailedStepActionSchema(Schema):
    """Which failed steps: their `ids`, or a `filter` (one of the two)."""

    class Meta:
        openapi = {"oneOf": [{"required": ["ids"]}, {"required": ["filter"]}]}

    ids = fields.List(fields.Integer(), validate=validate.Length(min=1, max=1000))
    filter = fields.Nested(
        FailedStepFilterSchema,
        metadata={"description": "every open failed step matching all given parts (up to 1000)"},
    )
    reason = fields.String(load_default="", validate=validate.Length(max=500))


class SkipFailedStepsSchema(FailedStepActionSchema):
    result = fields.Dict(
        keys=fields.String(),
        required=True,
        metadata={"description": "the operation's result to use instead of running it"},
    )


class FailedStepOutcomeSchema(Schema):
    id = fields.Integer()
    outcome = fields.String()
    detail = fields.String(allow_none=True)


class CorrectionSchema(Schema):
    changes = fields.Dict(
        keys=fields.String(validate=validate.Length(min=1, max=120)),
        required=True,
        metadata={"description": "the data the step reads, corrected: {name: value}"},
    )


USERNAME = validate.Regexp(
    r"^[a-z0-9][a-z0-9._-]{0,63}$", error="Lower-case letters, digits, . _ -"
)


class PersonSchema(UserSchema):
    id = fields.Integer()
    is_active = fields.Boolean()
    department = fields.String(allow_none=True)
    has_password = fields.Function(
        lambda u: u.password_hash is not None, metadata={"type": "boolean"}
    )
    created_at = Timestamp()


class UserListArgs(PageArgs):
    group = fields.String(validate=validate.Length(max=64))
    role = fields.String(validate=validate.Length(max=20))


class UserPageSchema(Schema):
    items = fields.List(fields.Nested(PersonSchema))
    total = fields.Integer()
    page = fields.Integer()
    page_size = fields.Integer()


class NewUserSchema(Schema):
    username = fields.String(required=True, validate=USERNAME)
    display_name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    roles = fields.List(
        fields.String(validate=validate.Length(min=1, max=20)),
        load_default=lambda: ["requester"],
        validate=validate.Length(min=1, max=MAX_ROLES),
        metadata={"description": "role keys (GET /roles); requester is always added"},
    )
    groups = fields.List(
        fields.String(validate=validate.Length(min=1, max=64)),
        load_default=list,
        validate=validate.Length(max=50),
    )
    password = fields.String(
        validate=validate.Length(max=256),
        metadata={"description": "to sign in to the web: 10+ characters, hard to guess"},
    )


class GroupSchema(Schema):
    id = fields.Integer()
    key = fields.String()
    name = fields.Function(lambda g: {"en": g.name_en, "zh": g.name_zh})
    members = fields.Function(lambda g: sorted(u.username for u in g.members))


class NewGroupSchema(Schema):
    key = fields.String(
        required=True,
        validate=validate.Regexp(r"^[a-z][a-z0-9_]{0,63}$", error="snake_case, at most 64"),
    )
    name_en = fields.String(required=True, validate=validate.Length(min=1, max=120))
    name_zh = fields.String(validate=validate.Length(max=120))


ROLE_NAME = validate.Length(min=1, max=120)
CAPABILITIES = fields.List(
    fields.String(validate=validate.OneOf([c.value for c in Capability])),
    validate=validate.Length(max=len(Capability)),
    metadata={"description": "what the role allows; request is always added"},
)


class RoleSchema(Schema):
    name = fields.String(metadata={"description": "the role's key, as users' roles list it"})
    title = fields.Dict(keys=fields.String(), values=fields.String(),
                        metadata={"description": "its name in en and zh"})  # fmt: skip
    built_in = fields.Boolean(metadata={"description": "built-in roles cannot be changed"})
    capabilities = fields.List(fields.String())
    allows = fields.String()


class NewRoleSchema(Schema):
    key = fields.String(
        required=True,
        validate=validate.Regexp(r"^[a-z][a-z0-9_]{0,19}$", error="snake_case, at most 20"),
    )
    name_en = fields.String(required=True, validate=ROLE_NAME)
    name_zh = fields.String(validate=validate.Length(max=120))
    capabilities = CAPABILITIES


class ChangeSchema(Schema):
    """A PATCH body: the fields to change, at least one."""

    @validates_schema
    def _something(self, data, **_kwargs):
        if not data:
            raise ValidationError("Give at least one field to change.")


class RoleChangeSchema(ChangeSchema):
    name_en = fields.String(validate=ROLE_NAME)
    name_zh = fields.String(validate=ROLE_NAME)
    capabilities = CAPABILITIES


class UserChangeSchema(ChangeSchema):
    display_name = fields.String(validate=validate.Length(min=1, max=120))
    email = fields.String(validate=validate.Length(max=200))
    department = fields.String(
        allow_none=True, validate=validate.Length(max=80),
        metadata={"description": "an offering department key; null or empty for none"},
    )  # fmt: skip
    is_active = fields.Boolean(metadata={"description": "false ends their sessions and tokens"})
    roles = fields.List(fields.String(validate=validate.Length(min=1, max=20)),
                        validate=validate.Length(max=MAX_ROLES))  # fmt: skip
    groups = fields.List(fields.String(validate=validate.Length(min=1, max=64)),
                         validate=validate.Length(max=50))  # fmt: skip


class PasswordResetSchema(Schema):
    password = fields.String(
        required=True, validate=validate.Length(max=256),
        metadata={"description": "10+ characters, hard to guess; their web sessions end"},
    )  # fmt: skip


class GroupChangeSchema(ChangeSchema):
    name_en = fields.String(validate=ROLE_NAME)
    name_zh = fields.String(validate=ROLE_NAME)


class TokenSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    scopes = fields.Function(lambda t: sorted(t.scope_set))
    created_at = Timestamp()
    expires_at = Timestamp(allow_none=True)
    last_used_at = Timestamp(allow_none=True)


class NewTokenSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=80))
    scopes = fields.List(
        fields.String(validate=validate.OneOf(TOKEN_SCOPES)),
        load_default=lambda: list(TOKEN_SCOPES),
        validate=validate.Length(min=1, max=len(TOKEN_SCOPES)),
    )
    expires_at = Timestamp(metadata={"description": "with its UTC offset; none: until revoked"})


class TokenCreatedSchema(Schema):
    token = fields.String(metadata={"description": "shown this once, never again"})
    info = fields.Nested(TokenSchema)


class NewPasswordSchema(Schema):
    current_password = fields.String(required=True, validate=validate.Length(max=256))
    new_password = fields.String(required=True, validate=validate.Length(max=256))


class AuditEventListArgs(PageArgs):
    kind = fields.String(validate=validate.OneOf([k.value for k in AuditKind]))
    actor = fields.String(validate=validate.Length(max=64))
    subject = fields.String(validate=validate.Length(max=120))
    since = Timestamp()
    until = Timestamp()


class AuditEventSchema(Schema):
    id = fields.Integer()
    created_at = Timestamp()
    kind = fields.String()
    actor = fields.String(allow_none=True)
    source = fields.String(allow_none=True)
    subject = fields.String(allow_none=True)
    detail = fields.Function(lambda e: json.loads(e.detail), metadata={"type": "object"})
    hash = fields.String()


class AuditEventPageSchema(Schema):
    items = fields.List(fields.Nested(AuditEventSchema))
    total = fields.Integer()
    page = fields.Integer()
    page_size = fields.Integer()
