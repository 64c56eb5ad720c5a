"""catalog.Directory against the real slapd: typed reads, validity in time, idempotent writes, escaping, outages."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from catalog import Directory, DirectoryUnavailable, EntryNotFound, InvalidIdentifier
from catalog.model import (
    SJF_READ_RIGHT,
    VOB_PURPOSE,
    CareUnit,
    Person,
    PersonStatus,
    RoleName,
    Validity,
)
from tests.conftest import Org

UTC = dt.UTC
NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
DAY = dt.timedelta(days=1)


def test_find_person_returns_a_typed_person(org: Org, directory: Directory) -> None:
    created = org.person(given="Åsa", surname="Öberg", personnummer="191212121212")
    found = directory.find_person(created.hsa_id)
    assert found is not None
    assert (found.given_name, found.surname, found.name) == ("Åsa", "Öberg", "Åsa Öberg")
    assert found.personnummer == "191212121212"
    assert found.unit_hsa_id == org.unit_a.hsa_id
    assert found.status is PersonStatus.ACTIVE
    assert directory.find_person(org.hsa("NOBODY")) is None
    same = directory.persons_by_personnummer("191212121212")  # the worker's slapd is shared: others may have it too
    assert created.hsa_id in [p.hsa_id for p in same] and {p.personnummer for p in same} == {"191212121212"}


def test_hsas_archived_and_feigned_markers_are_set_read_and_cleared(org: Org, directory: Directory) -> None:
    person = org.person()
    assert (person.archived, person.feigned) == (False, False)
    marked = directory.mark_person(person.hsa_id, archived=True, feigned=True)
    assert (marked.archived, marked.feigned) == (True, True)
    assert directory.mark_person(person.hsa_id, archived=True) == marked  # idempotent
    [listed] = [p for p in directory.people_of_unit(org.unit_a.hsa_id, include_disabled=True)
                if p.hsa_id == person.hsa_id]
    assert (listed.archived, listed.feigned) == (True, True) and not listed.usable
    assert person.hsa_id not in {p.hsa_id for p in directory.people_of_unit(org.unit_a.hsa_id)}  # not offered
    cleared = directory.mark_person(person.hsa_id, archived=False)
    assert (cleared.archived, cleared.feigned) == (False, True)
    test_person = directory.create_person(replace(person, hsa_id=org.hsa("TOLVAN"), feigned=True))
    found = directory.find_person(test_person.hsa_id)
    assert found is not None and found.feigned and not found.archived  # created with the marker
    with pytest.raises(EntryNotFound, match="NOBODY finns inte i Skånekatalogen"):
        directory.mark_person(org.hsa("NOBODY"), archived=True)


def test_units_a_person_manages(org: Org, directory: Directory) -> None:
    chief = org.person()
    directory.set_unit_manager(org.unit_a.hsa_id, chief.hsa_id)
    directory.set_unit_manager(org.unit_b.hsa_id, chief.hsa_id)
    assert {u.hsa_id for u in directory.units_managed_by(chief.hsa_id)} == {org.unit_a.hsa_id, org.unit_b.hsa_id}
    directory.set_unit_manager(org.unit_b.hsa_id, None)
    assert [u.hsa_id for u in directory.units_managed_by(chief.hsa_id)] == [org.unit_a.hsa_id]


def test_ensure_commission_is_idempotent_and_matches_rights_case_insensitively(org: Org,
                                                                               directory: Directory) -> None:
    first, created = directory.ensure_commission(org.unit_a.hsa_id, order_reference="ORDER-1")
    assert created and first.purpose == VOB_PURPOSE and first.rights == (SJF_READ_RIGHT,)
    again, created_again = directory.ensure_commission(org.unit_a.hsa_id, rights=("LÄSA;alla;SJF",))
    assert not created_again and again.hsa_id == first.hsa_id
    assert [c.hsa_id for c in directory.commissions_on_unit(org.unit_a.hsa_id)] == [first.hsa_id]
    assert first.unit_hsa_id == org.unit_a.hsa_id


def test_ensure_commission_completes_a_half_written_commission(org: Org, directory: Directory) -> None:
    """A commission with our HSA-ID but without the right (e.g. a crash in between) is completed, not duplicated."""
    partial, _ = directory.ensure_commission(org.unit_a.hsa_id, rights=("Skriva;Alla;VE",))
    done, changed = directory.ensure_commission(org.unit_a.hsa_id, hsa_id=partial.hsa_id)
    assert changed and done.hsa_id == partial.hsa_id
    assert {r.casefold() for r in done.rights} == {"skriva;alla;ve", SJF_READ_RIGHT.casefold()}


def test_unknown_unit_is_entry_not_found_with_a_message(directory: Directory) -> None:
    with pytest.raises(EntryNotFound, match="finns inte"):
        directory.ensure_commission("SE2321000255-NOSUCHUNIT")


def test_membership_validity_decides_which_commissions_a_person_holds(org: Org, directory: Directory) -> None:
    nurse = org.person()
    commission, _ = directory.ensure_commission(org.unit_a.hsa_id)
    membership, changed = directory.ensure_membership(commission.hsa_id, nurse.hsa_id,
                                                      Validity(NOW - DAY, NOW + 10 * DAY), order_reference="O-7")
    assert changed and membership.order_reference == "O-7"
    assert directory.ensure_membership(commission.hsa_id, nurse.hsa_id, Validity(NOW - DAY, NOW + 10 * DAY),
                                       order_reference="O-7")[1] is False
    held = directory.commissions_of(nurse.hsa_id, NOW)
    assert [(g.commission.hsa_id, g.unit.hsa_id, g.provider.hsa_id) for g in held] == [
        (commission.hsa_id, org.unit_a.hsa_id, org.provider.hsa_id)]
    assert directory.commissions_of(nurse.hsa_id, NOW - 2 * DAY) == []  # before the start
    assert directory.commissions_of(nurse.hsa_id, NOW + 10 * DAY) == []  # the end is exclusive
    assert len(directory.commissions_of(nurse.hsa_id, NOW + 10 * DAY - dt.timedelta(seconds=1))) == 1


def test_commission_validity_also_counts(org: Org, directory: Directory) -> None:
    nurse = org.person()
    commission, _ = directory.ensure_commission(org.unit_a.hsa_id, valid_from=NOW + DAY)
    directory.ensure_membership(commission.hsa_id, nurse.hsa_id, Validity(NOW - DAY))
    assert directory.commissions_of(nurse.hsa_id, NOW) == []
    assert len(directory.commissions_of(nurse.hsa_id, NOW + 2 * DAY)) == 1


def test_end_membership_keeps_history_and_is_idempotent(org: Org, directory: Directory) -> None:
    nurse = org.person()
    commission, _ = directory.ensure_commission(org.unit_a.hsa_id)
    directory.ensure_membership(commission.hsa_id, nurse.hsa_id, Validity(NOW - 5 * DAY))
    ended = directory.end_membership(commission.hsa_id, nurse.hsa_id, reason="slutat", at=NOW)
    assert ended is not None and ended.validity.end == NOW and ended.ended_reason == "slutat"
    assert directory.end_membership(commission.hsa_id, nurse.hsa_id, reason="igen", at=NOW + DAY) == ended
    [kept] = directory.memberships(commission.hsa_id)
    assert kept.validity == Validity(NOW - 5 * DAY, NOW) and kept.ended_reason == "slutat"
    assert directory.commissions_of(nurse.hsa_id, NOW + DAY) == []
    assert directory.end_membership(commission.hsa_id, org.hsa("NOBODY"), reason="x") is None
    # a new order re-opens it
    directory.ensure_membership(commission.hsa_id, nurse.hsa_id, Validity(NOW + DAY))
    assert len(directory.commissions_of(nurse.hsa_id, NOW + 2 * DAY)) == 1


def test_disable_person_ends_memberships_and_is_idempotent(org: Org, directory: Directory) -> None:
    nurse = org.person()
    for unit in (org.unit_a, org.unit_b):
        commission, _ = directory.ensure_commission(unit.hsa_id)
        directory.ensure_membership(commission.hsa_id, nurse.hsa_id, Validity(NOW - DAY))
    assert len(directory.commissions_of(nurse.hsa_id, NOW)) == 2
    assert directory.disable_person(nurse.hsa_id, reason="slutat", at=NOW) is True
    assert directory.disable_person(nurse.hsa_id, reason="slutat", at=NOW) is False
    assert directory.find_person(nurse.hsa_id).status is PersonStatus.DISABLED
    assert directory.commissions_of(nurse.hsa_id, NOW - dt.timedelta(seconds=1)) == []  # disabled: nothing
    assert all(m.validity.end == NOW for m in directory.memberships_of(nurse.hsa_id))
    assert directory.enable_person(nurse.hsa_id) is True
    assert directory.find_person(nurse.hsa_id).active


def test_roles_and_queue_membership(org: Org, directory: Directory) -> None:
    admin = org.person()
    directory.ensure_role(RoleName.UNIT_CATALOG_ADMIN, scope=org.unit_a.hsa_id)
    assert directory.add_role_member(RoleName.UNIT_CATALOG_ADMIN, admin.hsa_id, scope=org.unit_a.hsa_id)
    assert not directory.add_role_member(RoleName.UNIT_CATALOG_ADMIN, admin.hsa_id, scope=org.unit_a.hsa_id)
    [role] = [r for r in directory.roles_of(admin.hsa_id)]
    assert (role.name, role.scope) == (RoleName.UNIT_CATALOG_ADMIN, org.unit_a.hsa_id)
    assert directory.remove_role_member(RoleName.UNIT_CATALOG_ADMIN, admin.hsa_id, scope=org.unit_a.hsa_id)
    assert directory.roles_of(admin.hsa_id) == []


def test_filter_characters_in_input_are_escaped_not_interpreted(org: Org, directory: Directory) -> None:
    org.person()
    for hostile in ("*", "SE*", f"{org.hsa('P0001')})(objectClass=*", "x)(|(hsaIdentity=*", "\\2a", "\x00"):
        assert directory.find_person(hostile) is None
        assert directory.units_managed_by(hostile) == []
        assert directory.commissions_of(hostile, NOW) == []


def test_hsa_ids_with_dn_special_characters_round_trip(org: Org, directory: Directory) -> None:
    odd = directory.create_unit(CareUnit(org.hsa("a,b+c=d"), "", "Enhet med komma", org.provider.hsa_id))
    person = directory.create_person(Person(org.hsa("x,y"), "", "Kalle", "Komma", unit_hsa_id=odd.hsa_id))
    assert directory.unit(odd.hsa_id).hsa_id == odd.hsa_id
    assert directory.find_person(person.hsa_id).unit_hsa_id == odd.hsa_id
    commission, _ = directory.ensure_commission(odd.hsa_id)
    directory.ensure_membership(commission.hsa_id, person.hsa_id, Validity(NOW - DAY))
    assert directory.commissions_of(person.hsa_id, NOW)[0].unit.hsa_id == odd.hsa_id


def test_invalid_hsa_id_on_write_is_refused_before_ldap(org: Org, directory: Directory) -> None:
    with pytest.raises(InvalidIdentifier, match="otillåtna tecken"):
        directory.create_person(Person("SE2321000255-Å*", "", "A", "B", unit_hsa_id=org.unit_a.hsa_id))


def test_ldap_down_raises_directory_unavailable_and_recovers(make_slapd) -> None:  # type: ignore[no-untyped-def]
    instance = make_slapd()
    instance.start()
    gateway = Directory(instance.app_config(), cache_seconds=0)
    org = Org(gateway)
    instance.stop()
    with pytest.raises(DirectoryUnavailable, match="cannot be reached|stopped answering"):
        gateway.find_person(org.hsa("P0001"))
    instance.start()
    assert gateway.provider(org.provider.hsa_id) is not None  # the same gateway reconnects by itself
    gateway.close()
    instance.destroy()


def test_paged_search_returns_every_entry(org: Org, directory: Directory) -> None:
    from dataclasses import replace

    small_pages = Directory(replace(directory.config, page_size=7), cache_seconds=0)
    for _ in range(30):
        org.person(org.unit_b)
    assert len(small_pages.people_of_unit(org.unit_b.hsa_id)) == 30
    small_pages.close()


def test_commissions_below_finds_the_commissions_and_memberships_of_the_listed_units_only(
        org: Org, directory: Directory) -> None:
    nurse, other = org.person(), org.person(org.unit_b)
    on_a, _ = directory.ensure_commission(org.unit_a.hsa_id)
    on_b, _ = directory.ensure_commission(org.unit_b.hsa_id)
    directory.ensure_membership(on_a.hsa_id, nurse.hsa_id, Validity(NOW - DAY))
    directory.ensure_membership(on_b.hsa_id, other.hsa_id, Validity(NOW - DAY))
    commissions, memberships = directory.commissions_below([org.unit_a.hsa_id.lower(), "SE2321000255-NOSUCHUNIT"])
    assert [c.hsa_id for c in commissions] == [on_a.hsa_id] and commissions[0].unit_hsa_id == org.unit_a.hsa_id
    assert [(m.commission_hsa_id, m.person_hsa_id) for m in memberships] == [(on_a.hsa_id, nurse.hsa_id)]
    both, _ = directory.commissions_below([org.unit_a.hsa_id, org.unit_b.hsa_id])
    assert {c.hsa_id for c in both} == {on_a.hsa_id, on_b.hsa_id}
    assert directory.commissions_below([]) == ([], [])
