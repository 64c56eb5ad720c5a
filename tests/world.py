"""A small world for ordering tests: a public (region) and a private health-choice unit with managers and staff,
every approver queue staffed, on the session's real slapd."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from ldap3 import MODIFY_REPLACE

from catalog import Directory
from catalog.model import CareProvider, CareUnit, Management, Person, RoleName
from provisioning.config import ProvisioningConfig
from tests.conftest import Org, fresh_org_number


@dataclass
class World:
    """Everyone and everything an ordering test needs, created fresh for the test."""

    directory: Directory
    region: Org
    private_provider: CareProvider
    private_unit: CareUnit
    config: ProvisioningConfig
    public_manager: Person
    public_staff: list[Person]
    public_admin: Person  # the public unit's catalog administrator
    private_manager: Person
    private_staff: list[Person]
    skf: Person  # Skåneförvaltningen
    contract_manager: Person  # Koncernkontoret
    vgs: Person  # Vårdgivarservice
    itkp: Person  # IT Kundtjänst Privata
    sysadmin: Person

    @property
    def public_unit(self) -> CareUnit:
        return self.region.unit_a


def _person(directory: Directory, org_no: str, local: str, unit: CareUnit, given: str, surname: str) -> Person:
    return directory.create_person(Person(f"SE{org_no}-{local}", "", given, surname, title="Sjuksköterska",
                                          mail=f"{local.lower()}.{org_no}@vard.example", unit_hsa_id=unit.hsa_id))


@pytest.fixture
def world(directory: Directory) -> World:
    """A fresh region (public) and private health-choice provider with people and roles."""
    region = Org(directory)
    d = directory
    admin_unit = region.unit_b
    org_no = fresh_org_number()
    private = d.create_provider(CareProvider(f"SE{org_no}-E0001", "", f"Privat Vård {org_no} AB", org_no,
                                             Management.PRIVATE, "Hälsoval Skåne (LOV), avtal 1234", True, False))
    private_unit = d.create_unit(CareUnit(f"SE{org_no}-VC01", "", f"Vårdcentralen Privat {org_no}", private.hsa_id,
                                          kind="vårdcentral", care_agreement=private.care_agreement))
    r = region.org_no
    people = {
        "public_manager": _person(d, r, "CHEF", region.unit_a, "Maria", "Chef"),
        "public_admin": _person(d, r, "KADM", region.unit_a, "Kalle", "Katalog"),
        "private_manager": _person(d, org_no, "CHEF", private_unit, "Helena", "Privatchef"),
        "skf": _person(d, r, "SKF", admin_unit, "Karin", "Skåneförvaltningen"),
        "contract_manager": _person(d, r, "KK", admin_unit, "Per", "Avtal"),
        "vgs": _person(d, r, "VGS", admin_unit, "Eva", "Vårdgivarservice"),
        "itkp": _person(d, r, "ITKP", admin_unit, "Jonas", "Kundtjänst"),
        "sysadmin": _person(d, r, "ADM", admin_unit, "Lena", "Förvaltning"),
    }
    public_staff = [_person(d, r, f"SSK{n}", region.unit_a, "Sara", f"Sköterska{n}") for n in (1, 2, 3)]
    private_staff = [_person(d, org_no, f"SSK{n}", private_unit, "Oskar", f"Privat{n}") for n in (1, 2, 3)]
    d.set_unit_manager(region.unit_a.hsa_id, people["public_manager"].hsa_id)
    d.set_unit_manager(private_unit.hsa_id, people["private_manager"].hsa_id)
    for role, who, scope in ((RoleName.SKANEFORVALTNINGEN, "skf", None), (RoleName.CONTRACT_MANAGER, "contract_manager",
                             None), (RoleName.VARDGIVARSERVICE, "vgs", None),
                             (RoleName.IT_KUNDTJANST_PRIVATA, "itkp", None), (RoleName.SYSTEM_ADMIN, "sysadmin", None),
                             (RoleName.UNIT_CATALOG_ADMIN, "public_admin", region.unit_a.hsa_id)):
        mail = f"{role.value}@skane.example" if scope is None else None
        made = d.ensure_role(role, scope=scope, mail=mail)
        if mail and made.mail != mail:  # the session's slapd is shared: another test may have made it without one
            d.ldap.modify(made.dn, {"mail": [(MODIFY_REPLACE, [mail])]})
        d.add_role_member(role, people[who].hsa_id, scope=scope)
    config = ProvisioningConfig(region_provider_hsa_id=region.provider.hsa_id, public_base_url="http://npo.test",
                                max_attempts=3, retry_seconds=60)
    return World(directory=d, region=region, private_provider=private, private_unit=private_unit, config=config,
                 public_staff=public_staff, private_staff=private_staff, **people)
