"""Imports every module that defines SQLModel tables, so that Alembic and the tests see the whole schema."""

import api.sessions  # noqa: F401
import kernel.outbox  # noqa: F401
import overview.logreview.models  # noqa: F401
import overview.models  # noqa: F401
import provisioning.bulk  # noqa: F401
import provisioning.models  # noqa: F401
import provisioning.recertification.models  # noqa: F401
