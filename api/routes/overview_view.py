"""What the overview page shows of a read: the items by category and by year, with Swedish names, and the notices.

Only the items the gate let through (``OverviewResult.items``) are turned into rows; of the hidden ones the page
learns counts and reasons, never content. Items hidden by a block are not counted at all: the user learns only that
blocked data exists (DOMAIN §1.2).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping
from dataclasses import dataclass

from catalog import Directory
from kernel.clock import STOCKHOLM
from kernel.hsaid import HsaId
from overview import producers as P
from overview.gate import Basis, Check, ItemDecision
from overview.service import BlockedNotice, OverviewResult, ShownItem

BASIS_NAMES = {Basis.OWN_PROVIDER: "Egen vårdgivare", Basis.CONSENT: "Samtycke", Basis.EMERGENCY: "Nödåtkomst",
               Basis.EMERGENCY_BLOCK_OPENED: "Nödöppning av spärrade uppgifter",
               Basis.INCAPACITY: "Beslutsoförmögen patient"}
SETTING_NAMES = {P.OUTPATIENT: "Öppenvård", P.INPATIENT: "Slutenvård"}


@dataclass(frozen=True)
class ItemRow:
    """One shown item as the page prints it."""

    item_id: str
    when: dt.datetime
    until: dt.datetime | None
    category: str
    category_name: str
    title: str
    body: str
    kind: str
    source: str
    unit: str
    provider: str
    basis: str


@dataclass(frozen=True)
class OverviewView:
    """The page's content for one read."""

    commission_unit: str
    commission_provider: str
    relation: str
    by_category: list[tuple[str, list[ItemRow]]]
    by_year: list[tuple[int, list[ItemRow]]]
    count: int
    consent_missing: int
    drug_list_missing: int
    blocked: BlockedNotice | None  # the box about blocked data, for the state nödåtkomst is in
    hidden_providers: list[str]  # names of the vårdgivare whose blocked data is still hidden (after step 1)
    opened_providers: list[str]  # names of the vårdgivare whose blocked data is open (step 2)


class _Names:
    """Names of units and vårdgivare (HSA-IDs the directory does not know keep their ID), kept a few minutes.

    The directory caches what it finds; this also remembers what it does not find (other regions' units, 1177,
    eHälsomyndigheten), which would otherwise cost an LDAP search per item and page. A name is display only.
    """

    TTL = 300.0
    _known: dict[str, tuple[float, str]] = {}

    def __init__(self, directory: Directory, known: Mapping[str, str]):
        self.directory = directory
        self.known = known  # producers not in Skånekatalogen (eHälsomyndigheten, 1177): the publication rules' names

    def _name(self, kind: str, hsa_id: str) -> str:
        key = f"{kind}:{HsaId(hsa_id)}"
        hit = self._known.get(key)
        if hit is not None and time.monotonic() - hit[0] < self.TTL:
            return hit[1]
        found = self.directory.unit(hsa_id) if kind == "u" else self.directory.provider(hsa_id)
        name = found.name if found else self.known.get(HsaId(hsa_id), hsa_id)
        self._known[key] = (time.monotonic(), name)
        return name

    def unit(self, hsa_id: str) -> str:
        return self._name("u", hsa_id)

    def provider(self, hsa_id: str) -> str:
        return self._name("p", hsa_id)


def _row(shown: ShownItem, names: _Names) -> ItemRow:
    item, decision = shown.item, shown.decision
    kind = P.DOCUMENT_KIND_NAMES.get(item.document_kind or "", "")
    if not kind and item.setting:
        kind = SETTING_NAMES.get(item.setting, "")
    if kind.casefold() in item.title.casefold():
        kind = ""  # the title already says it ("Sköterskejournal"), once is enough
    return ItemRow(item.item_id, item.date.astimezone(STOCKHOLM),
                   item.date_end.astimezone(STOCKHOLM) if item.date_end else None, item.category,
                   P.CATEGORY_NAMES.get(item.category, item.category), item.title, item.body, kind,
                   P.SYSTEM_NAMES.get(item.system, item.system), names.unit(item.care_unit_hsa_id),
                   names.provider(item.care_provider_hsa_id), BASIS_NAMES.get(decision.basis, "")
                   if decision.basis else "")


def _hidden(items: tuple[ItemDecision, ...], code: str) -> int:
    return sum(1 for d in items if d.code == code and not d.blocked)


def overview_view(result: OverviewResult, directory: Directory) -> OverviewView:
    """The page's content for an allowed read."""
    decision, names = result.decision, _Names(directory, result.source_names)
    rows = [_row(shown, names) for shown in result.items]
    order = {category: index for index, category in enumerate(P.CATEGORY_NAMES)}
    categories: dict[str, list[ItemRow]] = {}
    for row in sorted(rows, key=lambda r: (order.get(r.category, len(order)), r.category)):
        categories.setdefault(row.category_name, []).append(row)
    years: dict[int, list[ItemRow]] = {}
    for row in sorted(rows, key=lambda r: r.when, reverse=True):
        years.setdefault(row.when.year, []).append(row)
    commission = decision.commission
    relation = next((r.message for r in decision.reasons if r.check is Check.RELATION and r.passed), "")
    blocked = result.blocked_notice
    return OverviewView(
        commission_unit=commission.unit_name if commission else "",
        commission_provider=commission.provider_name if commission else "", relation=relation,
        by_category=list(categories.items()), by_year=list(years.items()), count=len(rows),
        consent_missing=_hidden(decision.items, "consent.missing"),
        drug_list_missing=_hidden(decision.items, "consent.drug_list_missing"),
        blocked=blocked, hidden_providers=[names.provider(p) for p in blocked.hidden_providers] if blocked else [],
        opened_providers=[names.provider(p) for p in blocked.opened_providers] if blocked else [])
