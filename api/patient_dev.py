"""The development authenticator of the patient view: pick a demo patient, or type a personnummer of the patient
register (NPO_PATIENT_AUTH=dev, or the default with NPO_DEV_LOGIN=true outside production; refused in production
by the settings). It proves nothing: it exists so that `make run` and the tests can sign in as a patient."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response
from sqlmodel import select

from api.auth import LazyCsrf, check_csrf
from api.patient_auth import AuthenticationFailed, PatientIdentity, PatientSignInList, safe_next
from api.templating import templates
from catalog.identifiers import InvalidIdentifier, validate_personnummer
from kernel import runtime
from overview.models import Guardianship, Patient


class DevAuthenticator:
    """Choose who to be: the demo's named patients (the shell's list) or any personnummer the register holds."""

    method = "dev"
    label = "Logga in (utvecklingsläge: välj en demopatient)"

    def __init__(self, listed: PatientSignInList | None):
        self.listed = listed

    def begin(self, request: Request, next_path: str) -> Response:
        people = list(self.listed()) if self.listed else []
        return templates.TemplateResponse(request, "patient/dev_login.html", {
            "csrf": LazyCsrf(request), "people": people, "next": safe_next(next_path), "errors": {}})

    async def complete(self, request: Request) -> tuple[PatientIdentity, str]:
        if request.method != "POST":
            raise AuthenticationFailed("Välj en demopatient på inloggningssidan.")
        form = await request.form()
        check_csrf(request, str(form.get("csrf", "")))
        typed = str(form.get("personnummer", ""))[:20]
        try:
            number = validate_personnummer(typed)
        except InvalidIdentifier as exc:
            raise AuthenticationFailed(f"{exc.message} Skriv personnumret som ÅÅÅÅMMDD-NNNN.") from exc
        with runtime.read_scope() as session:
            patient = session.get(Patient, number)
            guardian = session.exec(select(Guardianship.id).where(
                Guardianship.guardian_personnummer == number)).first()
            name = f"{patient.given_name} {patient.surname}" if patient and not patient.protected_identity else ""
        if patient is None and guardian is None:
            raise AuthenticationFailed("Personnumret finns inte bland demons patienter eller vårdnadshavare.")
        return PatientIdentity(number, name, self.method), safe_next(str(form.get("next", "")))
