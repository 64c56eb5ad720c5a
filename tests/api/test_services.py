"""The service interfaces under /tjanster/ (issue 13) on the real app: a function certificate from the dev CA through
the trusted-proxy header (the mTLS path runs the same verification: tests/api/test_overview_mtls.py), the demo's
directory in a slapd, the demo's named patients. Each operation answers in the contract's shape with its result
code; the authorisation is the gate's for the accessing actor; bad input gets VALIDATIONERROR naming the element."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from demo import named
from demo import organisation as catalog_demo
from kernel import clock, runtime
from kernel.settings import DEV_SERVICE_FUNCTION
from npo.web import create_app
from overview import service
from overview.models import Block
from tests.api.test_overview_pages import (  # noqa: F401  (fixtures)
    HEADER,
    JOHANNA,
    PATIENTS,
    SARA,
    OverviewSite,
    log_rows,
    overview_db,
    overview_site,
    rows_of,
)

FIXTURES = (overview_db, overview_site)  # pytest finds them here; named so the imports count as used
MIKAEL = next(m.hsa_id for m in catalog_demo.CAST if m.given_name == "Mikael")  # Läkarhuset Söder (private)
SARA_AT = {"employeeId": SARA, "careProviderId": catalog_demo.SKANE, "careUnitId": catalog_demo.VC_HORBY}
MIKAEL_AT = {"employeeId": MIKAEL, "careProviderId": named.LAKARHUSET_PROVIDER, "careUnitId": catalog_demo.LAKARHUSET}


def patient(who: str) -> dict[str, str]:
    return {"root": "1.2.752.129.2.1.3.1", "extension": PATIENTS[who]}


class System:
    """A TestClient presenting one certificate (the journal system's function certificate by default)."""

    def __init__(self, client: TestClient, site: OverviewSite):
        self.client, self.site = client, site
        self.present(site.ca.issue_function(DEV_SERVICE_FUNCTION, "Journalsystem Demo"))

    def present(self, issued: Any) -> None:
        if issued is None:
            self.client.headers.pop(HEADER, None)
        else:
            self.client.headers[HEADER] = quote(issued.cert_pem().decode())

    def call(self, operation: str, body: object, *, status: int = 200) -> dict[str, Any]:
        contract = "samtycke" if operation in CONSENT_OPERATIONS else "sparr"
        response = self.client.post(f"/tjanster/{contract}/{operation}", json=body)
        assert response.status_code == status, response.text
        return response.json()

    def code(self, operation: str, body: object) -> str:
        return str(self.call(operation, body)["result"]["resultCode"])


BLOCK_OPERATIONS = {"GetBlocksForPatient", "CheckBlocks", "RegisterBlock", "UnregisterBlock", "DeleteBlock",
                    "RegisterTemporaryRevoke", "CancelTemporaryRevoke", "GetBlocks"}
CONSENT_OPERATIONS = {"GetConsentsForPatient", "CheckConsent", "RegisterConsent", "EndConsentByPatient",
                      "DeleteConsent"}


@pytest.fixture
def system(overview_site: OverviewSite, overview_db: Any) -> Any:
    with TestClient(create_app(), raise_server_exceptions=False) as client:
        for who in (SARA, MIKAEL):  # both have read "Information innan start"
            with runtime.session_scope() as session:
                service.acknowledge_information(session=session, user_hsa_id=who)
        yield System(client, overview_site)


def register(system: System, who: str = "dagny", **block: object) -> dict[str, Any]:
    return system.call("RegisterBlock", {"accessingActor": SARA_AT, "patientId": patient(who),
                                         "block": {"blockType": "Outer", **block}})


def rows(*entities: dict[str, object]) -> list[dict[str, object]]:
    return [{"rowNumber": n, **e} for n, e in enumerate(entities, 1)]


SKANE_NOTE = {"informationStartDate": "2024-03-01T10:00:00+01:00", "informationCareUnitId": catalog_demo.VC_HORBY,
              "informationCareProviderId": catalog_demo.SKANE}
HALLAND_NOTE = {"informationStartDate": "2024-03-01T10:00:00", "informationCareUnitId": named.HALLAND_UNITS[0],
                "informationCareProviderId": catalog_demo.HALLAND}


def test_an_outer_block_registered_by_its_vardgivare_answers_blocked_to_another_vardgivare(system: System) -> None:
    block_id = str(uuid.uuid4())
    answer = register(system, blockId=block_id, reasonText="Patientens begäran.", requestDate="2026-12-01T09:00")
    assert answer["result"]["resultCode"] == "OK" and answer["id"] == block_id
    [block] = [b for b in rows_of(Block) if b.id == block_id]
    assert (block.kind, block.care_provider_hsa_id, block.registered_by, block.reason) == \
        ("outer", catalog_demo.SKANE, SARA, "Patientens begäran.")
    written = log_rows()[-1]
    assert (written.action, written.resource_type, written.user_hsa_id) == ("Skriva", "spärr", SARA)

    check = {"accessingActor": MIKAEL_AT, "patientId": patient("dagny"), "informationEntities": rows(
        SKANE_NOTE, HALLAND_NOTE, {**SKANE_NOTE, "informationCareUnitId": "inte-ett-id"},
        {**SKANE_NOTE, "informationEndDate": "2020-01-01T00:00:00Z"},
        {**SKANE_NOTE, "informationType": "upp"})}
    answer = system.call("CheckBlocks", check)
    assert answer["result"]["resultCode"] == "OK"
    assert [r["status"] for r in answer["checkResults"]] == ["BLOCKED", "OK", "VALIDATIONERROR", "VALIDATIONERROR",
                                                             "BLOCKED"]
    own = system.call("CheckBlocks", {**check, "accessingActor": SARA_AT})  # the blocking vårdgivare's own staff
    assert [r["status"] for r in own["checkResults"]][:2] == ["OK", "OK"]
    assert log_rows()[-1].detail.startswith("CheckBlocks: 5 rader")

    listed = system.call("GetBlocksForPatient", {"accessingActor": MIKAEL_AT, "patientId": patient("dagny")})
    [shown] = [b for b in listed["blocks"] if b["blockId"] == block_id]
    assert shown["blockType"] == "Outer" and shown["informationCareProviderId"] == catalog_demo.SKANE
    assert shown["registrationInfo"]["registeredBy"]["employeeId"] == SARA
    assert shown["registrationInfo"]["requestDate"].startswith("2026-12-01T08:00")  # 09:00 Swedish time, in UTC

    assert register(system, blockId=block_id)["result"]["resultCode"] == "OK"  # a duplicate registration is OK
    taken = register(system, who="astrid", blockId=block_id)
    assert taken["result"]["resultCode"] == "ALREADYEXISTS"


def test_a_permanent_revoke_and_a_void_change_what_the_national_copy_syncs(system: System) -> None:
    since = clock.now() - dt.timedelta(seconds=1)
    first, second = register(system)["id"], register(system, blockType="Inner")["id"]
    synced = system.call("GetBlocks", {"nextCreatedOnOrAfter": since.isoformat()})
    assert {b["blockId"] for b in synced["blocks"]} == {first, second} and synced["nextCreatedOnOrAfter"] is None
    paged = system.call("GetBlocks", {"nextCreatedOnOrAfter": since.isoformat(), "limit": 1})
    assert len(paged["blocks"]) == 1 and paged["nextCreatedOnOrAfter"] is not None
    change = {"accessingActor": SARA_AT, "blockId": first, "patientId": patient("dagny")}
    assert system.code("UnregisterBlock", {**change, "reasonText": "Patienten ångrade sig."}) == "OK"
    assert system.code("DeleteBlock", {**change, "blockId": second, "reasonText": "Fel patient."}) == "OK"
    assert system.code("UnregisterBlock", {**change, "blockId": second}) == "INVALIDSTATE"
    assert system.code("DeleteBlock", {**change, "accessingActor": {**SARA_AT, "employeeId": "SE2321000255-VCH3"},
                                       "reasonText": "x"}) == "ACCESSDENIED"  # only the registrant voids
    assert system.code("UnregisterBlock", {**change, "blockId": str(uuid.uuid4())}) == "NOTFOUND"
    after = system.call("GetBlocks", {"nextCreatedOnOrAfter": since.isoformat()})
    assert {b["blockId"] for b in after["blocks"]} == set() and after["latestCancellation"] is not None
    assert log_rows()[-1].user_hsa_id == DEV_SERVICE_FUNCTION  # the system's read is logged under its own id


def test_a_temporary_revoke_lifts_a_block_for_the_actor_until_cancelled(system: System) -> None:
    [block] = [b for b in rows_of(Block) if b.personnummer == PATIENTS["cecilia"]]  # inner, Kvinnokliniken
    note = {"informationStartDate": "2020-11-17T08:00:00Z", "informationCareUnitId": named.SUS_KVINNO,
            "informationCareProviderId": catalog_demo.SKANE}
    check = {"accessingActor": SARA_AT, "patientId": patient("cecilia"), "informationEntities": rows(note)}
    assert system.call("CheckBlocks", check)["checkResults"][0]["status"] == "BLOCKED"
    revoke = {"accessingActor": SARA_AT, "patientId": patient("cecilia"), "blockId": block.id,
              "temporaryRevoke": {"endDate": (clock.now() + dt.timedelta(days=1)).isoformat(),
                                  "revokedForCareUnitId": catalog_demo.VC_HORBY, "revokedForEmployeeId": SARA,
                                  "revocationReason": "PatientsConsent"}}
    elsewhere = {**revoke, "temporaryRevoke": {**revoke["temporaryRevoke"],  # type: ignore[dict-item]
                                               "revokedForCareUnitId": catalog_demo.SUS_AKUT}}
    assert system.code("RegisterTemporaryRevoke", elsewhere) == "ACCESSDENIED"
    made = system.call("RegisterTemporaryRevoke", revoke)
    assert made["result"]["resultCode"] == "OK" and len(made["ids"]) == 1
    assert system.call("CheckBlocks", check)["checkResults"][0]["status"] == "OK"
    again = system.call("RegisterTemporaryRevoke", revoke)
    assert again["result"]["resultCode"] == "OK" and again["ids"] == []  # a duplicate registration is OK
    cancel = {"accessingActor": SARA_AT, "temporaryRevokeId": made["ids"][0]}
    assert system.code("CancelTemporaryRevoke", cancel) == "OK"
    assert system.call("CheckBlocks", check)["checkResults"][0]["status"] == "BLOCKED"


@pytest.mark.parametrize(("body", "says"), [
    ({"accessingActor": SARA_AT, "patientId": {"extension": "19480312-3424"}, "block": {"blockType": "Outer"}},
     "patientId.extension"),
    ({"accessingActor": SARA_AT, "patientId": {"root": "1.2.3", "extension": PATIENTS["dagny"]},
      "block": {"blockType": "Outer"}}, "patientId.root"),
    ({"accessingActor": SARA_AT, "patientId": patient("dagny"), "block": {"blockType": "Sideways"}},
     "block.blockType"),
    ({"accessingActor": SARA_AT, "patientId": patient("dagny"), "block": {"blockType": "Outer", "colour": "red"}},
     "block.colour är inte ett känt element"),
    ({"accessingActor": SARA_AT, "patientId": patient("dagny"),
      "block": {"blockType": "Outer", "informationStartDate": "2024-05-02", "informationEndDate": "2024-05-01"}},
     "info_end"),
    ({"accessingActor": SARA_AT, "patientId": patient("dagny"),
      "block": {"blockType": "Outer", "reasonText": "x" * 1025}}, "block.reasonText är för långt"),
    ({"accessingActor": SARA_AT, "patientId": patient("dagny"),
      "block": {"blockType": "Outer", "reasonText": "a\u0000b"}}, "styrtecken"),
    ({"accessingActor": {**SARA_AT, "employeeId": "nobody"}, "patientId": patient("dagny"),
      "block": {"blockType": "Outer"}}, "accessingActor.employeeId"),
    ({"patientId": patient("dagny"), "block": {"blockType": "Outer"}}, "accessingActor saknas"),
])
def test_bad_input_is_a_validationerror_naming_the_element_and_stores_nothing(system: System, body: dict[str, object],
                                                                             says: str) -> None:
    before = len(rows_of(Block))
    answer = system.call("RegisterBlock", body)
    assert answer["result"]["resultCode"] == "VALIDATIONERROR" and says in answer["result"]["resultText"]
    assert len(rows_of(Block)) == before


def test_not_json_and_the_wrong_actor_are_answered_with_their_codes(system: System) -> None:
    response = system.client.post("/tjanster/sparr/RegisterBlock", content=b"{not json",
                                  headers={"Content-Type": "application/json"})
    assert response.status_code == 200 and response.json()["result"]["resultCode"] == "VALIDATIONERROR"
    other_provider = {**SARA_AT, "careProviderId": named.LAKARHUSET_PROVIDER}
    body = {"accessingActor": other_provider, "patientId": patient("dagny"), "block": {"blockType": "Outer"}}
    answer = system.call("RegisterBlock", body)
    assert answer["result"]["resultCode"] == "ACCESSDENIED" and "vårdgivaren i sitt" in answer["result"]["resultText"]
    no_commission = {"employeeId": JOHANNA, "careProviderId": catalog_demo.SKANE, "careUnitId": catalog_demo.VC_AHUS}
    assert system.code("RegisterBlock", {**body, "accessingActor": no_commission}) == "ACCESSDENIED"
    foreign_block = {**body, "accessingActor": SARA_AT,
                     "block": {"blockType": "Outer", "informationCareProviderId": catalog_demo.HALLAND}}
    assert system.code("RegisterBlock", foreign_block) == "ACCESSDENIED"
    unknown = {**body, "accessingActor": SARA_AT, "patientId": {"extension": "191212121212"}}
    assert system.code("RegisterBlock", unknown) == "NOTFOUND"


def test_only_an_allowed_systems_function_certificate_is_accepted(system: System) -> None:
    body = {"accessingActor": SARA_AT, "patientId": patient("dagny")}
    system.present(system.site.certificate(SARA, "Sara Lund"))  # a person's card is not a system
    refused = system.client.post("/tjanster/sparr/GetBlocksForPatient", json=body)
    assert refused.status_code == 403 and "funktionscertifikat" in refused.json()["error"]
    system.present(None)
    missing = system.client.post("/tjanster/sparr/GetBlocksForPatient", json=body)
    assert missing.status_code == 401 and missing.json()["code"] == "missing"
    system.present(system.site.foreign.issue_function(DEV_SERVICE_FUNCTION, "Falskt system"))
    assert system.client.post("/tjanster/sparr/GetBlocksForPatient", json=body).status_code == 401


def test_each_operation_is_named_by_its_contract_in_openapi(system: System) -> None:
    paths = system.client.get("/api/openapi.json").json()["paths"]
    operations = {v["post"]["operationId"]: p for p, v in paths.items() if p.startswith("/tjanster/")}
    assert set(operations) == BLOCK_OPERATIONS | CONSENT_OPERATIONS
    assert all(path == f"/tjanster/{'samtycke' if name in CONSENT_OPERATIONS else 'sparr'}/{name}"
               for name, path in operations.items())


# ---------------------------------------------------------------------- consents
ERIK_AT = {**SARA_AT, "employeeId": "SE2321000255-VCH3"}


def consent_body(actor: dict[str, str], who: str = "dagny", **assertion: object) -> dict[str, object]:
    end = (clock.now() + dt.timedelta(days=7)).isoformat()
    return {"accessingActor": actor, "patientId": patient(who), "assertion": {"endDate": end, **assertion}}


def test_a_unit_consent_is_registered_checked_listed_and_ended_only_by_its_vardgivare(system: System) -> None:
    with runtime.session_scope() as session:
        service.acknowledge_information(session=session, user_hsa_id=ERIK_AT["employeeId"])
    consent_id = str(uuid.uuid4())
    made = system.call("RegisterConsent", consent_body(SARA_AT, assertionId=consent_id))
    assert made["result"]["resultCode"] == "OK" and made["id"] == consent_id
    assert system.call("RegisterConsent", consent_body(SARA_AT, assertionId=consent_id))["id"] == consent_id
    assert system.code("RegisterConsent", consent_body(SARA_AT, "astrid", assertionId=consent_id)) == "ALREADYEXISTS"
    check = {"accessingActor": ERIK_AT, "patientId": patient("dagny")}
    found = system.call("CheckConsent", check)  # the whole unit: a colleague too
    assert (found["hasConsent"], found["assertionType"], found["assertionId"]) == (True, "Consent", consent_id)
    listed = system.call("GetConsentsForPatient", check)
    [mine] = [a for a in listed["assertions"] if a["assertionId"] == consent_id]
    assert (mine["careUnitId"], mine["employeeId"], mine["registrationInfo"]["registeredBy"]["employeeId"]) == \
        (catalog_demo.VC_HORBY, None, SARA)
    elsewhere = system.call("GetConsentsForPatient", {"accessingActor": MIKAEL_AT, "patientId": patient("dagny")})
    assert consent_id not in {a["assertionId"] for a in elsewhere["assertions"]}  # another vårdgivare's
    change = {"accessingActor": MIKAEL_AT, "assertionId": consent_id, "patientId": patient("dagny")}
    assert system.code("EndConsentByPatient", change) == "ACCESSDENIED"
    assert system.code("DeleteConsent", {**change, "accessingActor": ERIK_AT}) == "ACCESSDENIED"  # not Erik's
    assert system.code("EndConsentByPatient", {**change, "accessingActor": ERIK_AT}) == "OK"
    assert system.call("CheckConsent", check)["hasConsent"] is False
    ended = [a for a in system.call("GetConsentsForPatient", check)["assertions"] if a["assertionId"] == consent_id]
    assert ended[0]["cancellationInfo"]["registeredBy"]["employeeId"] == ERIK_AT["employeeId"]
    assert system.code("DeleteConsent", {**change, "assertionId": str(uuid.uuid4())}) == "NOTFOUND"


def test_a_personal_consent_an_emergency_and_the_relation_rules(system: System) -> None:
    assert system.code("RegisterConsent", consent_body(SARA_AT, employeeId="SE2321000255-VCH3")) == "ACCESSDENIED"
    personal = system.call("RegisterConsent", consent_body(SARA_AT, employeeId=SARA, purpose="drug_list"))
    assert personal["result"]["resultCode"] == "OK"
    assert system.code("RegisterConsent", consent_body(MIKAEL_AT)) == "ACCESSDENIED"  # no patient relation there
    no_reason = consent_body(SARA_AT, assertionType="Emergency",
                             endDate=(clock.now() + dt.timedelta(hours=2)).isoformat())
    refused = system.call("RegisterConsent", no_reason)
    assert refused["result"]["resultCode"] == "VALIDATIONERROR" and "reason" in refused["result"]["resultText"]
    too_long = {**no_reason, "assertion": {**no_reason["assertion"], "reasonText": "Medvetslös",  # type: ignore[dict-item]
                                           "endDate": (clock.now() + dt.timedelta(hours=30)).isoformat()}}
    assert system.code("RegisterConsent", too_long) == "VALIDATIONERROR"
    opened = system.call("RegisterConsent", {**no_reason, "assertion": {**no_reason["assertion"],  # type: ignore[dict-item]
                                                                        "reasonText": "Medvetslös på akuten."}})
    assert opened["result"]["resultCode"] == "OK"
    found = system.call("CheckConsent", {"accessingActor": SARA_AT, "patientId": patient("dagny")})
    assert (found["hasConsent"], found["assertionType"], found["assertionId"]) == (True, "Emergency", opened["id"])
    assert system.code("RegisterConsent", consent_body(SARA_AT, scope="RegionalLevel")) == "VALIDATIONERROR"
