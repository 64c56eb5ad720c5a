"""Who handles an order at each stage, read from the directory (public vs private health-choice units).

Public units (Region Skåne's own): Skåneförvaltningen sets up the commission, the unit's catalog administrator adds
staff. Private health-choice units: Koncernkontoret's contract manager approves first, Vårdgivarservice sets up the
commission, IT Kundtjänst Privata adds staff (the seed, "Hur blir man konsument (användare)?").
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from catalog import Directory
from catalog.identifiers import HsaId
from catalog.model import CareProvider, CareUnit, Management, RoleName
from kernel.clock import add_business_days
from provisioning.errors import InvalidInput
from provisioning.models import OrderKind, OrderState, Route

REMIND_AFTER_BUSINESS_DAYS = 2
ESCALATE_AFTER_BUSINESS_DAYS = 5

QUEUE_LABELS = {  # Swedish names of the queues
    RoleName.SKANEFORVALTNINGEN: "Skåneförvaltningen",
    RoleName.CONTRACT_MANAGER: "Koncernkontoret, avtalsförvaltare",
    RoleName.VARDGIVARSERVICE: "Vårdgivarservice",
    RoleName.IT_KUNDTJANST_PRIVATA: "IT Kundtjänst Privata",
    RoleName.UNIT_CATALOG_ADMIN: "Enhetens katalogadministratör",
    RoleName.SYSTEM_ADMIN: "NPÖ-förvaltningen (åtgärd krävs)",
}


@dataclass(frozen=True)
class Placement:
    """Where a unit sits: its vårdgivare and the route its orders take."""

    unit: CareUnit
    provider: CareProvider
    route: Route


def place_unit(directory: Directory, unit_hsa_id: str, *, region_provider_hsa_id: str) -> Placement:
    """The route of a unit's orders, or InvalidInput saying why the unit cannot order through Region Skåne."""
    unit = directory.unit(unit_hsa_id)
    if unit is None:
        raise InvalidInput("unit_hsa_id", f"Vårdenheten {unit_hsa_id} finns inte i Skånekatalogen.")
    if unit.kind == "förvaltning":
        raise InvalidInput("unit_hsa_id", f"{unit.name} är ingen vårdenhet och kan inte ha VoB SJF.")
    provider = directory.provider(unit.provider_hsa_id)
    if provider is None:
        raise InvalidInput("unit_hsa_id", f"Vårdgivaren för {unit.name} saknas i Skånekatalogen.")
    if provider.hsa_id == HsaId(region_provider_hsa_id):
        return Placement(unit, provider, Route.PUBLIC)
    if provider.management is Management.PRIVATE and (provider.care_agreement or unit.care_agreement):
        return Placement(unit, provider, Route.PRIVATE)
    raise InvalidInput("unit_hsa_id", f"{unit.name} ({provider.name}) beställer inte via Region Skåne: enheten "
                                      "varken tillhör Region Skåne eller har vårdavtal (hälsoval) med regionen.")


def queue_for(kind: OrderKind, state: OrderState, route: Route, unit_hsa_id: str) -> tuple[RoleName, str | None]:
    """The role (and its scope) that must act on an order in ``state``."""
    if state is OrderState.AWAITING_CONTRACT_MANAGER:
        return RoleName.CONTRACT_MANAGER, None
    if state is OrderState.AWAITING_CATALOG_ADMIN:
        return (RoleName.SKANEFORVALTNINGEN if route is Route.PUBLIC else RoleName.VARDGIVARSERVICE), None
    if state is OrderState.AWAITING_USER_ADMIN:
        if route is Route.PUBLIC:
            return RoleName.UNIT_CATALOG_ADMIN, unit_hsa_id
        return RoleName.IT_KUNDTJANST_PRIVATA, None
    if state is OrderState.PROVISIONING_FAILED:
        return RoleName.SYSTEM_ADMIN, None
    raise ValueError(f"no person acts on a {kind.value} order in {state.value}")


def queues_on_route(kind: OrderKind, route: Route, unit_hsa_id: str) -> list[tuple[RoleName, str | None]]:
    """Every queue an order of ``kind`` on ``route`` passes through (who may see it besides the unit)."""
    stages = ([OrderState.AWAITING_USER_ADMIN] if kind is OrderKind.MEMBERSHIP else
              [OrderState.AWAITING_CONTRACT_MANAGER, OrderState.AWAITING_CATALOG_ADMIN] if route is Route.PRIVATE
              else [OrderState.AWAITING_CATALOG_ADMIN])
    return [queue_for(kind, stage, route, unit_hsa_id) for stage in stages]


def due_at(entered: dt.datetime) -> dt.datetime:
    """When an approval becomes overdue: the escalation deadline in Swedish business days."""
    return add_business_days(entered, ESCALATE_AFTER_BUSINESS_DAYS)


def remind_at(entered: dt.datetime) -> dt.datetime:
    """When the queue gets a reminder."""
    return add_business_days(entered, REMIND_AFTER_BUSINESS_DAYS)
