"""REFERENCE COPY, not production: ``PublicationRules.refusal`` of overview/producers.py as of commit bf6d255, as a
function of the rules (see gate.py here). Kept only to prove that the optimised gate decides the same."""

from __future__ import annotations

import datetime as dt

from kernel.clock import local_midnight
from overview.producers import DOCTOR, INPATIENT, ItemLike, PublicationRules, SystemRule


def refusal(self: PublicationRules, item: ItemLike, now: dt.datetime) -> str | None:
    """The code of the rule that keeps ``item`` out of NPÖ, or None when its producer publishes it."""
    rule = self.systems.get(item.system)
    if rule is None:
        return "publication.system_not_produced"
    unit = item.care_unit_hsa_id.upper()
    if unit in self.excluded_units:
        return "publication.unit_not_produced"
    if rule.provider_hsa_id is not None and item.care_provider_hsa_id.upper() != rule.provider_hsa_id.upper():
        return "publication.provider_not_producer"
    category = item.category
    if category not in rule.categories:
        return "publication.category_not_produced"
    kind = item.document_kind
    if kind in rule.excluded_document_kinds:
        return "publication.document_kind_excluded"
    allowed = rule.document_kinds.get(category)
    if allowed is not None and kind not in allowed:
        return "publication.document_kind_not_produced"
    # Outpatient contacts are produced for doctors only; an unknown setting is treated as outpatient.
    if category in rule.doctor_only_outpatient and item.setting != INPATIENT and item.profession != DOCTOR:
        return "publication.outpatient_not_doctor"
    if category in rule.future_only and item.date < now:
        return "publication.past_booking"
    if category in rule.undated:
        return None
    return _date_refusal(rule, unit, kind, item)


def _date_refusal(rule: SystemRule, unit: str, kind: str | None, item: ItemLike) -> str | None:
    early = (kind, None) in rule.early or (kind, item.profession) in rule.early
    start = rule.from_date
    if rule.unit_from:
        unit_start = rule.unit_from.get(unit)
        if unit_start is None:
            return "publication.unit_not_connected"
        if not early:
            start = unit_start if start is None else max(start, unit_start)
    if start is not None and item.date < _midnight(start):
        return "publication.before_start"
    return None


_MIDNIGHTS: dict[dt.date, dt.datetime] = {}


def _midnight(day: dt.date) -> dt.datetime:
    # A handful of distinct dates; the zoneinfo conversion is the slow part of the check.
    instant = _MIDNIGHTS.get(day)
    if instant is None:
        instant = _MIDNIGHTS[day] = local_midnight(day)
    return instant
