"""How the typed values map onto LDAP entries: DNs, object classes and attributes, both ways, and LDIF.

The tree (decision in docs/decisions.md): every HSA object is named by its hsaIdentity, which never changes, so a
rename never moves an entry.

    c=SE
      ou=Roller                                   npoRole entries (approver queues, administrator roles)
      hsaIdentity=<vårdgivare>                    organization + hsaHealthCareProvider
        hsaIdentity=<vårdenhet>                   organizationalUnit + hsaHealthCareUnit
          hsaIdentity=<person>                    inetOrgPerson + hsaPerson (employed at the unit)
          hsaIdentity=<medarbetaruppdrag>         hsaCommission
            hsaCommissionMember=<person>          npoCommissionMembership (validity period)
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from typing import Any

from ldap3.utils.dn import escape_rdn, parse_dn

from catalog.ldapconn import ldap_time, parse_ldap_time
from catalog.model import (
    CareProvider,
    CareUnit,
    Commission,
    Management,
    Membership,
    Person,
    PersonStatus,
    Role,
    RoleName,
    Validity,
)

PERSON_CLASSES = ["top", "inetOrgPerson", "hsaPerson"]
PROVIDER_CLASSES = ["top", "organization", "hsaHealthCareProvider"]
UNIT_CLASSES = ["top", "organizationalUnit", "hsaHealthCareUnit"]
COMMISSION_CLASSES = ["top", "hsaCommission"]
MEMBERSHIP_CLASSES = ["top", "npoCommissionMembership"]
ROLE_CLASSES = ["top", "npoRole"]

PERSON_ATTRS = ["objectClass", "hsaIdentity", "givenName", "sn", "personalIdentityNumber", "title", "hsaTitle",
                "paTitleCode", "mail", "npoPersonStatus", "npoEmploymentStart", "npoEmploymentEnd"]
ARCHIVED_CLASS, FEIGNED_CLASS = "hsaArchivedObject", "hsaFeignedDataObject"  # HSA's auxiliary markers
PROVIDER_ATTRS = ["hsaIdentity", "o", "orgNo", "npoManagement", "npoCareAgreement", "npoConsumer", "npoProducer",
                  "mail"]
UNIT_ATTRS = ["hsaIdentity", "ou", "hsaResponsibleHealthCareProvider", "hsaHealthCareUnitManager", "npoUnitKind",
              "npoCareAgreement", "mail", "l"]
COMMISSION_ATTRS = ["hsaIdentity", "cn", "hsaCommissionPurpose", "hsaCommissionRight", "npoValidFrom", "npoValidTo",
                    "npoOrderReference"]
MEMBERSHIP_ATTRS = ["hsaCommissionMember", "npoValidFrom", "npoValidTo", "npoOrderReference", "npoEndedReason"]
ROLE_ATTRS = ["cn", "npoRoleName", "npoRoleScope", "npoRoleMember", "mail", "description"]


# ---------------------------------------------------------------------- DNs
def hsa_rdn(hsa_id: str) -> str:
    """The RDN of an HSA object (HSA-IDs may contain ',', '+' and '=', so it is escaped)."""
    return f"hsaIdentity={escape_rdn(hsa_id)}"


def child_dn(parent_dn: str, hsa_id: str) -> str:
    """DN of the HSA object ``hsa_id`` directly below ``parent_dn``."""
    return f"{hsa_rdn(hsa_id)},{parent_dn}"


def membership_dn(commission_dn: str, person_hsa_id: str) -> str:
    """DN of one person's membership entry under a commission."""
    return f"hsaCommissionMember={escape_rdn(person_hsa_id)},{commission_dn}"


def role_dn(base: str, name: str, scope: str | None) -> str:
    """DN of a role; scoped roles get the scope in their RDN."""
    cn = name if scope is None else f"{name} {scope}"
    return f"cn={escape_rdn(cn)},ou=Roller,{base}"


def parent_dn(dn: str) -> str:
    """The DN one level up."""
    parts = parse_dn(dn, escape=True)
    return ",".join(f"{attr}={value}" for attr, value, _sep in parts[1:])


def rdn_value(dn: str) -> str:
    """The unescaped value of the first RDN of ``dn`` (servers may send ',' back as '\\2C')."""
    _attr, value, _sep = parse_dn(dn)[0]
    return unescape_dn_value(value)


def unescape_dn_value(value: str) -> str:
    """Undo RFC 4514 escaping: '\\,' and '\\2C' (hex pairs may form multi-byte UTF-8)."""
    if "\\" not in value:
        return value
    out = bytearray()
    i = 0
    while i < len(value):
        char = value[i]
        if char == "\\" and i + 1 < len(value):
            pair = value[i + 1:i + 3]
            if len(pair) == 2 and all(c in "0123456789abcdefABCDEF" for c in pair):
                out.append(int(pair, 16))
                i += 3
                continue
            out += value[i + 1].encode()
            i += 2
            continue
        out += char.encode()
        i += 1
    return out.decode("utf-8", errors="replace")


# ---------------------------------------------------------------------- reading
def _first(attrs: Mapping[str, Any], name: str) -> str | None:
    value = attrs.get(name)
    if isinstance(value, list):
        return str(value[0]) if value else None
    return None if value in (None, "") else str(value)


def _all(attrs: Mapping[str, Any], name: str) -> tuple[str, ...]:
    value = attrs.get(name)
    if value is None:
        return ()
    if isinstance(value, list):
        return tuple(str(v) for v in value)
    return (str(value),)


def _bool(attrs: Mapping[str, Any], name: str) -> bool:
    return (_first(attrs, name) or "").upper() == "TRUE"


def to_person(dn: str, attrs: Mapping[str, Any]) -> Person:
    """A Person from a person entry."""
    classes = {c.lower() for c in _all(attrs, "objectClass")}
    return Person(
        hsa_id=_first(attrs, "hsaIdentity") or rdn_value(dn),
        dn=dn,
        given_name=_first(attrs, "givenName") or "",
        surname=_first(attrs, "sn") or "",
        personnummer=_first(attrs, "personalIdentityNumber"),
        title=_first(attrs, "title"),
        hsa_titles=_all(attrs, "hsaTitle"),
        pa_title_codes=_all(attrs, "paTitleCode"),
        mail=_first(attrs, "mail"),
        status=PersonStatus(_first(attrs, "npoPersonStatus") or PersonStatus.ACTIVE),
        unit_hsa_id=rdn_value(parent_dn(dn)),
        employment_start=parse_ldap_time(_first(attrs, "npoEmploymentStart")),
        employment_end=parse_ldap_time(_first(attrs, "npoEmploymentEnd")),
        archived=ARCHIVED_CLASS.lower() in classes,
        feigned=FEIGNED_CLASS.lower() in classes,
    )


def person_classes(person: Person) -> list[str]:
    """The object classes of a person entry, with HSA's archived and feigned markers when set."""
    return PERSON_CLASSES + [ARCHIVED_CLASS] * person.archived + [FEIGNED_CLASS] * person.feigned


def to_provider(dn: str, attrs: Mapping[str, Any]) -> CareProvider:
    """A CareProvider from a vårdgivare entry."""
    return CareProvider(
        hsa_id=_first(attrs, "hsaIdentity") or rdn_value(dn),
        dn=dn,
        name=_first(attrs, "o") or "",
        org_no=_first(attrs, "orgNo") or "",
        management=Management(_first(attrs, "npoManagement") or Management.PUBLIC),
        care_agreement=_first(attrs, "npoCareAgreement"),
        consumer=_bool(attrs, "npoConsumer"),
        producer=_bool(attrs, "npoProducer"),
        mail=_first(attrs, "mail"),
    )


def to_unit(dn: str, attrs: Mapping[str, Any]) -> CareUnit:
    """A CareUnit from a vårdenhet entry."""
    return CareUnit(
        hsa_id=_first(attrs, "hsaIdentity") or rdn_value(dn),
        dn=dn,
        name=_first(attrs, "ou") or "",
        provider_hsa_id=_first(attrs, "hsaResponsibleHealthCareProvider") or "",
        manager_hsa_id=_first(attrs, "hsaHealthCareUnitManager"),
        kind=_first(attrs, "npoUnitKind"),
        care_agreement=_first(attrs, "npoCareAgreement"),
        mail=_first(attrs, "mail"),
        locality=_first(attrs, "l"),
    )


def _validity(attrs: Mapping[str, Any]) -> Validity | None:
    start = parse_ldap_time(_first(attrs, "npoValidFrom"))
    if start is None:
        return None
    return Validity(start, parse_ldap_time(_first(attrs, "npoValidTo")))


def to_commission(dn: str, attrs: Mapping[str, Any]) -> Commission:
    """A Commission from an hsaCommission entry."""
    return Commission(
        hsa_id=_first(attrs, "hsaIdentity") or rdn_value(dn),
        dn=dn,
        name=_first(attrs, "cn") or "",
        purpose=_first(attrs, "hsaCommissionPurpose") or "",
        rights=_all(attrs, "hsaCommissionRight"),
        unit_hsa_id=rdn_value(parent_dn(dn)),
        validity=_validity(attrs),
        order_reference=_first(attrs, "npoOrderReference"),
    )


def to_membership(dn: str, attrs: Mapping[str, Any]) -> Membership:
    """A Membership from an npoCommissionMembership entry."""
    validity = _validity(attrs)
    assert validity is not None, f"{dn} has no npoValidFrom (schema requires it)"
    return Membership(
        commission_hsa_id=rdn_value(parent_dn(dn)),
        person_hsa_id=_first(attrs, "hsaCommissionMember") or rdn_value(dn),
        dn=dn,
        validity=validity,
        order_reference=_first(attrs, "npoOrderReference"),
        ended_reason=_first(attrs, "npoEndedReason"),
    )


def to_role(dn: str, attrs: Mapping[str, Any]) -> Role:
    """A Role from an npoRole entry."""
    return Role(
        name=RoleName(_first(attrs, "npoRoleName") or ""),  # a missing name is refused like a wrong one
        dn=dn,
        scope=_first(attrs, "npoRoleScope"),
        members=_all(attrs, "npoRoleMember"),
        mail=_first(attrs, "mail"),
        description=_first(attrs, "description"),
    )


# ---------------------------------------------------------------------- writing
def _clean(attrs: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in attrs.items() if v not in (None, "", [], ())}


def person_attributes(person: Person) -> dict[str, Any]:
    """The attributes of a person entry (absent values left out)."""
    return _clean({
        "hsaIdentity": person.hsa_id,
        "cn": person.name or person.hsa_id,
        "givenName": person.given_name,
        "sn": person.surname or person.hsa_id,
        "personalIdentityNumber": person.personnummer,
        "title": person.title,
        "hsaTitle": list(person.hsa_titles),
        "paTitleCode": list(person.pa_title_codes),
        "mail": person.mail,
        "npoPersonStatus": person.status.value,
        "npoEmploymentStart": ldap_time(person.employment_start) if person.employment_start else None,
        "npoEmploymentEnd": ldap_time(person.employment_end) if person.employment_end else None,
    })


def provider_attributes(provider: CareProvider) -> dict[str, Any]:
    """The attributes of a vårdgivare entry."""
    return _clean({
        "hsaIdentity": provider.hsa_id,
        "o": provider.name,
        "orgNo": provider.org_no,
        "npoManagement": provider.management.value,
        "npoCareAgreement": provider.care_agreement,
        "npoConsumer": "TRUE" if provider.consumer else "FALSE",
        "npoProducer": "TRUE" if provider.producer else "FALSE",
        "mail": provider.mail,
    })


def unit_attributes(unit: CareUnit) -> dict[str, Any]:
    """The attributes of a vårdenhet entry."""
    return _clean({
        "hsaIdentity": unit.hsa_id,
        "ou": unit.name,
        "hsaResponsibleHealthCareProvider": unit.provider_hsa_id,
        "hsaHealthCareUnitManager": unit.manager_hsa_id,
        "npoUnitKind": unit.kind,
        "npoCareAgreement": unit.care_agreement,
        "mail": unit.mail,
        "l": unit.locality,
    })


def commission_attributes(commission: Commission) -> dict[str, Any]:
    """The attributes of an hsaCommission entry."""
    validity = commission.validity
    return _clean({
        "hsaIdentity": commission.hsa_id,
        "cn": commission.name,
        "hsaCommissionPurpose": commission.purpose,
        "hsaCommissionRight": list(commission.rights),
        "npoValidFrom": ldap_time(validity.start) if validity else None,
        "npoValidTo": ldap_time(validity.end) if validity and validity.end else None,
        "npoOrderReference": commission.order_reference,
    })


def membership_attributes(membership: Membership) -> dict[str, Any]:
    """The attributes of an npoCommissionMembership entry."""
    return _clean({
        "hsaCommissionMember": membership.person_hsa_id,
        "npoValidFrom": ldap_time(membership.validity.start),
        "npoValidTo": ldap_time(membership.validity.end) if membership.validity.end else None,
        "npoOrderReference": membership.order_reference,
        "npoEndedReason": membership.ended_reason,
    })


def role_attributes(role: Role) -> dict[str, Any]:
    """The attributes of an npoRole entry."""
    cn = role.name.value if role.scope is None else f"{role.name.value} {role.scope}"
    return _clean({
        "cn": cn,
        "npoRoleName": role.name.value,
        "npoRoleScope": role.scope,
        "npoRoleMember": list(role.members),
        "mail": role.mail,
        "description": role.description,
    })


def _ldif_value(name: str, value: str) -> str:
    text = str(value)
    safe = text.isascii() and text == text.strip() and not text.startswith((":", "<")) and "\n" not in text
    if safe:
        return f"{name}: {text}"
    return f"{name}:: {base64.b64encode(text.encode()).decode()}"


def to_ldif(entries: Iterable[tuple[str, list[str], dict[str, Any]]]) -> Iterable[str]:
    """LDIF records (one string per entry, blank-line terminated) for OpenLDAP's ldapadd/slapadd."""
    for dn, classes, attrs in entries:
        lines = [_ldif_value("dn", dn)]
        lines += [f"objectClass: {c}" for c in classes]
        for name, value in attrs.items():
            values = value if isinstance(value, list) else [value]
            lines += [_ldif_value(name, v) for v in values]
        yield "\n".join(lines) + "\n\n"
