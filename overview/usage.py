"""Who uses NPÖ: each person's last read of the overview through one commission, from the access log.

A *read* is a granted opening of a patient's overview (resource ``översikt``, outcome ``beviljad``; the action is
Läsa or Nödöppning). Refused attempts, consents, relations and the reviewers' own log reads do not count: the question
the behörighetskontroll asks is whether the person still needs to see patients' data through this commission. Reads
through another commission (another unit's, or the same person's at another unit) say nothing about this one.

The index ``ix_access_log_usage`` (migration o0007) holds exactly the columns the query reads, so the grouped
``max(at)`` is an index-only range scan over the commission's granted reads, however large the log grows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import func, select
from sqlmodel import Session

from kernel.hsaid import HsaId
from overview.accesslog import Outcome, Resource
from overview.models import ACCESS_LOG_TABLE


def last_reads(session: Session, *, commission_hsa_id: str, person_hsa_ids: Iterable[str] | None = None,
               ) -> dict[str, dt.datetime]:
    """Each person's last read through the commission by HSA-ID (an `HsaId`; only people who read; every reader
    when no persons are given)."""
    log = ACCESS_LOG_TABLE
    query = (select(log.c.user_hsa_id, func.max(log.c.at))
             .where(log.c.commission_hsa_id == HsaId(commission_hsa_id),
                    log.c.resource_type == Resource.OVERVIEW.value, log.c.outcome == Outcome.GRANTED.value)
             .group_by(log.c.user_hsa_id))
    if person_hsa_ids is not None:
        persons = sorted({HsaId(p) for p in person_hsa_ids})
        if not persons:
            return {}
        query = query.where(log.c.user_hsa_id.in_(persons))
    return {HsaId(user): at for user, at in session.execute(query).all() if at is not None}
