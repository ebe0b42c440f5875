"""marshmallow schemas: the only place request fields are validated, and the response shapes.

Input and output schemas are separate; instances are built once at module level. Every message a
client can get carries a stable code (see errors.FieldError and errors.BUILTIN_CODES).
"""
from comment_service.schemas.admin import *  # noqa: F403
from comment_service.schemas.fields import *  # noqa: F403
from comment_service.schemas.moderation import *  # noqa: F403
from comment_service.schemas.public import *  # noqa: F403
from comment_service.schemas.webhooks import *  # noqa: F403
