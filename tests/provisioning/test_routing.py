"""Routing (D-14) against the real slapd: which units may order through Region Skåne and along which route, who
acts at each stage, and when an approval is due."""

from __future__ import annotations

import datetime as dt

import pytest
from ldap3 import MODIFY_REPLACE

from catalog import Directory
from catalog.model import CareProvider, CareUnit, Management, RoleName
from provisioning.errors import InvalidInput
from provisioning.models import OrderKind, OrderState, Route
from provisioning.routing import due_at, place_unit, queue_for, queues_on_route, remind_at
from tests.conftest import Org, fresh_org_number

STOCKHOLM_NINE = dt.datetime(2026, 11, 24, 8, 0, tzinfo=dt.UTC)  # Tuesday 24 Nov 2026, 09:00 in Sweden


def private_org(directory: Directory, *, provider_agreement: str | None, unit_agreement: str | None,
                management: Management = Management.PRIVATE) -> CareUnit:
    """A private (or other) vårdgivare with one vårdcentral; care agreements on the provider and/or the unit."""
    org_no = fresh_org_number()
    provider = directory.create_provider(CareProvider(f"SE{org_no}-E0001", "", f"Privat {org_no} AB", org_no,
                                                      management, provider_agreement, True, False))
    return directory.create_unit(CareUnit(f"SE{org_no}-VC01", "", f"Vårdcentralen {org_no}", provider.hsa_id,
                                          kind="vårdcentral", care_agreement=unit_agreement))


def refusal(directory: Directory, unit_hsa_id: str, region: str) -> str:
    with pytest.raises(InvalidInput) as caught:
        place_unit(directory, unit_hsa_id, region_provider_hsa_id=region)
    assert caught.value.field == "unit_hsa_id"
    return str(caught.value)


def test_a_region_unit_takes_the_public_route(org: Org, directory: Directory) -> None:
    placement = place_unit(directory, org.unit_a.hsa_id, region_provider_hsa_id=org.provider.hsa_id.lower())
    assert (placement.route, placement.unit.hsa_id, placement.provider.hsa_id) == (
        Route.PUBLIC, org.unit_a.hsa_id, org.provider.hsa_id)  # the region's HSA-ID compared case-insensitively


@pytest.mark.parametrize(("provider_agreement", "unit_agreement"), [("Hälsoval Skåne 1", None),
                                                                    (None, "Hälsoval Skåne 2")])
def test_a_private_unit_with_a_care_agreement_takes_the_private_route(org: Org, directory: Directory,
                                                                      provider_agreement: str | None,
                                                                      unit_agreement: str | None) -> None:
    unit = private_org(directory, provider_agreement=provider_agreement, unit_agreement=unit_agreement)
    assert place_unit(directory, unit.hsa_id, region_provider_hsa_id=org.provider.hsa_id).route is Route.PRIVATE


def test_a_private_unit_without_a_care_agreement_cannot_order_through_the_region(org: Org,
                                                                                 directory: Directory) -> None:
    unit = private_org(directory, provider_agreement=None, unit_agreement=None)
    org_no = unit.hsa_id[2:12]
    assert refusal(directory, unit.hsa_id, org.provider.hsa_id) == (
        f"Vårdcentralen {org_no} (Privat {org_no} AB) beställer inte via Region Skåne: enheten varken tillhör "
        "Region Skåne eller har vårdavtal (hälsoval) med regionen.")


def test_another_public_provider_cannot_order_through_the_region_even_with_an_agreement(
        org: Org, directory: Directory) -> None:
    unit = private_org(directory, provider_agreement="Avtal", unit_agreement="Avtal", management=Management.PUBLIC)
    assert "beställer inte via Region Skåne" in refusal(directory, unit.hsa_id, org.provider.hsa_id)


def test_an_administrative_unit_cannot_hold_vob_sjf(org: Org, directory: Directory) -> None:
    office = directory.create_unit(CareUnit(org.hsa("F0001"), "", "Skåneförvaltningen", org.provider.hsa_id,
                                            kind="förvaltning"))
    assert refusal(directory, office.hsa_id, org.provider.hsa_id) == (
        "Skåneförvaltningen är ingen vårdenhet och kan inte ha VoB SJF.")


def test_an_unknown_unit_is_named(org: Org, directory: Directory) -> None:
    assert refusal(directory, org.hsa("V9999"), org.provider.hsa_id) == (
        f"Vårdenheten {org.hsa('V9999')} finns inte i Skånekatalogen.")


def test_a_unit_whose_provider_is_missing_is_refused(org: Org, directory: Directory) -> None:
    # the unit's hsaResponsibleHealthCareProvider names a vårdgivare the directory does not hold (edited by hand)
    directory.ldap.modify(org.unit_b.dn, {"hsaResponsibleHealthCareProvider": [(MODIFY_REPLACE, [org.hsa("E9999")])]})
    assert refusal(directory, org.unit_b.hsa_id, org.provider.hsa_id) == (
        "Vårdgivaren för Medicinkliniken Testby saknas i Skånekatalogen.")


@pytest.mark.parametrize(("kind", "state", "route", "queue"), [
    (OrderKind.COMMISSION, OrderState.AWAITING_CONTRACT_MANAGER, Route.PRIVATE, (RoleName.CONTRACT_MANAGER, None)),
    (OrderKind.COMMISSION, OrderState.AWAITING_CATALOG_ADMIN, Route.PRIVATE, (RoleName.VARDGIVARSERVICE, None)),
    (OrderKind.COMMISSION, OrderState.AWAITING_CATALOG_ADMIN, Route.PUBLIC, (RoleName.SKANEFORVALTNINGEN, None)),
    (OrderKind.MEMBERSHIP, OrderState.AWAITING_USER_ADMIN, Route.PUBLIC, (RoleName.UNIT_CATALOG_ADMIN, "U1")),
    (OrderKind.MEMBERSHIP, OrderState.AWAITING_USER_ADMIN, Route.PRIVATE, (RoleName.IT_KUNDTJANST_PRIVATA, None)),
    (OrderKind.MEMBERSHIP, OrderState.PROVISIONING_FAILED, Route.PUBLIC, (RoleName.SYSTEM_ADMIN, None)),
])
def test_who_acts_at_each_stage(kind: OrderKind, state: OrderState, route: Route,
                                queue: tuple[RoleName, str | None]) -> None:
    assert queue_for(kind, state, route, "U1") == queue


@pytest.mark.parametrize("state", [OrderState.SUBMITTED, OrderState.APPROVED, OrderState.PROVISIONING,
                                   OrderState.PROVISIONED, OrderState.REJECTED])
def test_nobody_acts_on_an_automated_or_final_state(state: OrderState) -> None:
    with pytest.raises(ValueError, match=f"no person acts on a commission order in {state.value}"):
        queue_for(OrderKind.COMMISSION, state, Route.PUBLIC, "U1")


def test_the_queues_each_route_passes_through() -> None:
    assert queues_on_route(OrderKind.COMMISSION, Route.PRIVATE, "U1") == [
        (RoleName.CONTRACT_MANAGER, None), (RoleName.VARDGIVARSERVICE, None)]
    assert queues_on_route(OrderKind.COMMISSION, Route.PUBLIC, "U1") == [(RoleName.SKANEFORVALTNINGEN, None)]
    assert queues_on_route(OrderKind.MEMBERSHIP, Route.PUBLIC, "U1") == [(RoleName.UNIT_CATALOG_ADMIN, "U1")]
    assert queues_on_route(OrderKind.MEMBERSHIP, Route.PRIVATE, "U1") == [(RoleName.IT_KUNDTJANST_PRIVATA, None)]


def test_reminder_after_two_and_escalation_after_five_business_days_at_the_same_clock_time() -> None:
    assert remind_at(STOCKHOLM_NINE) == dt.datetime(2026, 11, 26, 8, 0, tzinfo=dt.UTC)  # Thursday
    assert due_at(STOCKHOLM_NINE) == dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.UTC)  # next Tuesday
    friday = dt.datetime(2026, 12, 18, 8, 0, tzinfo=dt.UTC)  # julafton, juldagen, annandagen and the weekend
    assert due_at(friday) == dt.datetime(2026, 12, 29, 8, 0, tzinfo=dt.UTC)  # Mon 21, Tue 22, Wed 23, Mon 28, Tue 29
